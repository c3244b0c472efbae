"""End to end: a real Celery worker and beat, on real Redis and the PostgreSQL test database,
page people through a local HTTP server while the escalation climbs on its own.

Needs REDIS_URL (a Redis database this test may flush) and DATABASE_URL on PostgreSQL.
"""

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from incidents.lifecycle import incident_acknowledge
from incidents.models import IncidentEscalation, Notification, TimelineEvent
from incidents.notify import contact_method_create
from incidents.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, make_incident, make_schedule
from tests.webhook_sink import WebhookSink

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).with_name("celery"))
STEP_2_DELAY = 6  # seconds


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL", "")
    if not url.startswith("redis://"):
        pytest.fail("The worker test needs REDIS_URL pointing at a Redis database it may flush.")
    return url


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(_redis_url()).flushdb()


def _die_with_parent() -> None:
    """Linux: the subprocess gets SIGKILL when the process that started it dies, even by
    SIGKILL or a timeout, so no worker outlives its test run."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Stack:
    """A Celery worker and a beat process as subprocesses, sharing the test database."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.worker: subprocess.Popen | None = None
        self.beat: subprocess.Popen | None = None
        db = settings.DATABASES["default"]
        self.env = {
            **os.environ,
            "DATABASE_URL": "postgres://{}{}@{}:{}/{}".format(
                quote(db["USER"], safe=""),
                f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else "",
                db["HOST"] or "127.0.0.1",
                db["PORT"] or 5432,
                db["NAME"],
            ),
            "REDIS_URL": _redis_url(),
            "CELERY_BROKER_URL": _redis_url(),
            "TOCSIN_TIMER_SWEEP_SECONDS": "1",
            "DEBUG": "False",
            "EMAIL_URL": "consolemail://",
            "PYTHONUNBUFFERED": "1",
        }
        self.runs = 0

    def _spawn(self, args: list[str], log: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [CELERY, "-A", "config", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )

    def start_worker(self) -> None:
        self.runs += 1
        log = self.tmp / f"worker{self.runs}.log"
        self.worker = self._spawn(
            [
                "worker",
                "-Q",
                "default,paging",
                "-P",
                "threads",
                "-c",
                "3",
                "-l",
                "info",
                "-n",
                f"e2e{self.runs}@%h",
            ],
            log,
        )
        wait_for(lambda: " ready." in log.read_text(), 30, f"worker did not start: {log}")

    def start_beat(self) -> None:
        self.beat = self._spawn(
            ["beat", "-l", "info", "-s", str(self.tmp / "beat-schedule")], self.tmp / "beat.log"
        )

    def kill_worker(self) -> None:
        if self.worker and self.worker.poll() is None:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait(10)

    def stop(self) -> None:
        for process in (self.worker, self.beat):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.tmp.glob("*.log"))
        )


def wait_for(condition, seconds: float, message: str) -> float:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(0.1)
    pytest.fail(f"Timed out after {seconds}s: {message}")


@pytest.fixture
def stack(tmp_path):
    _flush_redis()
    running = Stack(tmp_path)
    try:
        running.start_beat()
        running.start_worker()
        yield running
    finally:
        running.stop()
        # The subprocesses held connections to the test database; it is dropped at the end.
        connection.close()


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


@pytest.fixture
def policy(sink):
    pat = UserFactory(username="pat-primary")
    lee = UserFactory(username="lee-lead")
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/pat")
    contact_method_create(user=lee, kind="webhook", address=f"{sink.url}/lee")
    schedule = make_schedule(name="Checkout primary", participants=[pat])
    return escalation_policy_create(
        name="Checkout",
        steps=[
            StepInput(delay=timedelta(0), targets=[schedule]),
            StepInput(delay=timedelta(seconds=STEP_2_DELAY), targets=[lee]),
        ],
    )


def open_incident(policy):
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
    opened = time.time()
    return make_incident(services=[service]), opened


def test_steps_climb_on_their_own_step_one_at_once_step_two_after_its_delay(stack, sink, policy):
    incident, opened = open_incident(policy)
    first = wait_for(lambda: sink.bodies("/pat"), 10, f"step 1 never paged.\n{stack.logs()}")
    assert first - opened < 5, "step 1 should page within seconds of opening"
    assert incident.reference in sink.bodies("/pat")[0]["text"]
    second = wait_for(
        lambda: sink.bodies("/lee"), STEP_2_DELAY + 10, f"step 2 never paged.\n{stack.logs()}"
    )
    assert STEP_2_DELAY - 0.5 <= second - first <= STEP_2_DELAY + 3
    assert len(sink.bodies("/pat")) == 1 and len(sink.bodies("/lee")) == 1
    # The webhook arrives before the worker commits the row's status: give the commit a moment.
    sent = Notification.objects.filter(incident=incident, status="sent")
    wait_for(lambda: sent.count() >= 2, 5, f"pages delivered but not recorded.\n{stack.logs()}")
    assert sent.count() == 2


def test_acknowledgement_stops_step_two(stack, sink, policy):
    incident, _ = open_incident(policy)
    wait_for(lambda: sink.bodies("/pat"), 10, f"step 1 never paged.\n{stack.logs()}")
    incident_acknowledge(incident=incident)
    assert IncidentEscalation.objects.get(incident=incident).state == "acknowledged"
    time.sleep(STEP_2_DELAY + 3)
    assert sink.bodies("/lee") == []


def test_killed_worker_and_flushed_redis_still_fire_the_pending_step_once(stack, sink, policy):
    incident, _ = open_incident(policy)
    first = wait_for(lambda: sink.bodies("/pat"), 10, f"step 1 never paged.\n{stack.logs()}")
    # The ETA message for step 2 sits in the worker and in Redis: lose both.
    stack.kill_worker()
    _flush_redis()
    time.sleep(max(0.0, first + STEP_2_DELAY + 1 - time.time()))
    assert sink.bodies("/lee") == [], "nothing should page while no worker runs"
    stack.start_worker()
    wait_for(lambda: sink.bodies("/lee"), 15, f"the pending step never fired.\n{stack.logs()}")
    time.sleep(4)  # several sweeps later, still once
    assert len(sink.bodies("/lee")) == 1
    assert len(sink.bodies("/pat")) == 1
    assert (
        TimelineEvent.objects.filter(incident=incident, message__startswith="Step 2 of 2").count()
        == 1
    )
