"""End to end: a real Celery worker and beat (on the test run's broker and database) announce
a shift change to a local webhook."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from incidents.models import Handoff
from tests.factories import UserFactory, make_schedule
from tests.oncall.test_handoff import HookServer
from tests.worker_stack import flush_broker, kill, spawn, succeeded, wait_for, worker_env

LEAD = timedelta(seconds=10)  # the change comes this long after the worker and beat are up
# A generous deadline for a loaded machine: how soon a handoff arrives is bench/'s question.
DEADLINE = timedelta(seconds=90)
SWEEP = "incidents.oncall_tasks.handoff_sweep"


@pytest.mark.worker
def test_worker_and_beat_deliver_a_handoff_once(transactional_db, tmp_path):
    hook = HookServer()
    alice = UserFactory(username="alice")
    bob = UserFactory(username="bob")
    flush_broker()
    log = tmp_path / "worker.log"
    args = ["worker", "-B", "--pool=solo", "--loglevel=INFO", "-s", str(tmp_path / "beat-schedule")]
    worker = spawn(args, worker_env(), log)
    try:
        # The change comes once the worker is up, however long a loaded machine takes to start it.
        wait_for(lambda: " ready." in log.read_text(), 90, lambda: f"no worker:\n{log.read_text()}")
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
        limit = (change + DEADLINE - timezone.now()).total_seconds()
        arrived = hook.event.wait(timeout=max(limit, 0))
        arrival = timezone.now()
        if not arrived:
            pytest.fail(
                f"No handoff reached the webhook within {DEADLINE} of the change at {change}.\n"
                f"Worker log:\n{log.read_text()[-4000:]}"
            )
        assert arrival >= change, "announced before the shift changed"
        text = hook.received[0]["text"]
        assert "Primary: @bob" in text
        assert "taking over from @alice" in text
        handoff = Handoff.objects.get()
        assert handoff.at == change
        # The next sweep (after the one that sent it, which may still be running) must not
        # send it again.
        sweeps = succeeded(log, SWEEP, "] received")
        wait_for(
            lambda: succeeded(log, SWEEP) > sweeps,
            30,
            lambda: f"no sweep ran after the handoff.\n{log.read_text()[-4000:]}",
        )
        assert len(hook.received) == 1
        assert Handoff.objects.count() == 1
    finally:
        kill(worker)
        hook.close()
        connection.close()
