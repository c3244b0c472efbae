"""End to end: a real Celery worker and beat on Redis announce a shift change to a local webhook."""

import os
import signal
import subprocess
import sys
import tempfile
import time as clock
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from incidents.models import Handoff
from tests.factories import UserFactory, make_schedule
from tests.test_handoff import HookServer

ROOT = Path(__file__).resolve().parent.parent
CELERY = Path(sys.executable).with_name("celery")
LEAD = timedelta(seconds=35)  # the worker and beat start well within this
DEADLINE = timedelta(seconds=30)  # the handoff must arrive within this of the change


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.worker
def test_worker_and_beat_deliver_a_handoff_within_30_seconds(transactional_db):
    hook = HookServer()
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    change = (timezone.now() + LEAD).replace(microsecond=0)
    # Daily shifts handing off at `change`'s time of day: alice since yesterday, bob from `change`.
    make_schedule(
        name="E2E",
        participants=[alice, bob],
        shift="daily",
        start=(change - timedelta(days=1)).date().isoformat(),
        handoff_time=change.time().isoformat(),
        handoff_weekday=None,
        handoff_notify=[("webhook", hook.url)],
    )
    workdir = tempfile.mkdtemp(prefix="tocsin-e2e-")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.REDIS_URL,
        "SECRET_KEY": settings.SECRET_KEY,
        "CONN_MAX_AGE": "0",
    }
    log = open(Path(workdir) / "worker.log", "w+")  # noqa: SIM115 - read back on failure
    worker = subprocess.Popen(
        [
            str(CELERY),
            "-A",
            "config",
            "worker",
            "-B",
            "--pool=solo",
            "--purge",
            "--loglevel=INFO",
            "-s",
            str(Path(workdir) / "beat-schedule"),
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        limit = (change + DEADLINE - timezone.now()).total_seconds()
        arrived = hook.event.wait(timeout=max(limit, 0))
        arrival = timezone.now()
        if not arrived:
            log.seek(0)
            pytest.fail(
                f"No handoff reached the webhook within {DEADLINE} of the change at {change}.\n"
                f"Worker log:\n{log.read()[-4000:]}"
            )
        assert arrival - change < DEADLINE
        assert arrival >= change
        text = hook.received[0]["text"]
        assert "Primary: @bob" in text
        assert "taking over from @alice" in text
        handoff = Handoff.objects.get()
        assert handoff.at == change
        # Another sweep or two must not send it again.
        clock.sleep(16)
        assert len(hook.received) == 1
        assert Handoff.objects.count() == 1
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=5)
        log.close()
        hook.close()
