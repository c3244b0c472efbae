"""End to end: a real Celery worker and beat, on the test run's broker (Redis, or the filesystem
broker) and its database (PostgreSQL, or the SQLite test file), page people through a local
HTTP server while the escalation climbs on its own.
"""

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from incidents.core.lifecycle import incident_acknowledge
from incidents.models import IncidentEscalation, Notification, TimelineEvent
from incidents.paging.delivery import contact_method_create
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, make_incident, make_schedule
from tests.webhook_sink import WebhookSink
from tests.worker_stack import (
    flush_broker,
    kill,
    process_logs,
    spawn,
    succeeded,
    wait_for,
    worker_env,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

STEP_2_DELAY = 6  # seconds
SWEEP = "incidents.tasks.escalation_sweep"


class Stack:
    """A Celery worker and a beat process as subprocesses, sharing the test database."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.worker = None
        self.beat = None
        self.env = worker_env(TOCSIN_TIMER_SWEEP_SECONDS="1")
        self.runs = 0

    @property
    def worker_log(self) -> Path:
        return self.tmp / f"worker{self.runs}.log"

    def start_worker(self) -> None:
        self.runs += 1
        args = ["worker", "-Q", "default,paging,delivery", "-P", "threads", "-c", "3", "-l", "info"]
        self.worker = spawn([*args, "-n", f"e2e{self.runs}@%h"], self.env, self.worker_log)
        wait_for(
            lambda: " ready." in self.worker_log.read_text(),
            30,
            f"worker did not start: {self.logs()}",
        )

    def start_beat(self) -> None:
        beat = ["beat", "-l", "info", "-s", str(self.tmp / "beat-schedule")]
        self.beat = spawn(beat, self.env, self.tmp / "beat.log")

    def kill_worker(self) -> None:
        kill(self.worker)

    def stop(self) -> None:
        kill(self.worker)
        kill(self.beat)

    def sweeps(self) -> int:
        """Timer sweeps the current worker has finished."""
        return succeeded(self.worker_log, SWEEP)

    def logs(self) -> str:
        return process_logs(self.tmp)


@pytest.fixture
def stack(tmp_path):
    flush_broker()
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
def policy(request, sink):
    # A test can ask for a longer step 2 (indirect parametrization): room for a loaded machine.
    step_2_delay = getattr(request, "param", STEP_2_DELAY)
    pat = UserFactory(username="pat-primary")
    lee = UserFactory(username="lee-lead")
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/pat")
    contact_method_create(user=lee, kind="webhook", address=f"{sink.url}/lee")
    schedule = make_schedule(name="Checkout primary", participants=[pat])
    return escalation_policy_create(
        name="Checkout",
        steps=[
            StepInput(delay=timedelta(0), targets=[schedule]),
            StepInput(delay=timedelta(seconds=step_2_delay), targets=[lee]),
        ],
    )


def open_incident(policy):
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
    return make_incident(services=[service])


def test_steps_climb_on_their_own_step_one_at_once_step_two_after_its_delay(stack, sink, policy):
    incident = open_incident(policy)
    # Step 1 pages at once: within the deadline, a generous one for a loaded machine.
    wait_for(lambda: sink.bodies("/pat"), 30, lambda: f"step 1 never paged.\n{stack.logs()}")
    assert incident.reference in sink.bodies("/pat")[0]["text"]
    wait_for(
        lambda: sink.bodies("/lee"),
        STEP_2_DELAY + 30,
        lambda: f"step 2 never paged.\n{stack.logs()}",
    )
    # Step 2 fires its delay after step 1 fired (the timeline), and its page follows promptly;
    # each page crosses the broker twice, so the gap between the pages jitters by a poll or so.
    fired = dict(
        TimelineEvent.objects.filter(incident=incident, message__startswith="Step ").values_list(
            "message", "at"
        )
    )
    step_1 = next(at for message, at in fired.items() if message.startswith("Step 1 of 2"))
    step_2 = next(at for message, at in fired.items() if message.startswith("Step 2 of 2"))
    # Never early; the upper bound only tells "fired when due" from "never fired" (sweeps run each second).
    assert STEP_2_DELAY - 0.1 <= (step_2 - step_1).total_seconds() <= STEP_2_DELAY + 10
    # The delay itself is measured on the timeline above; step 2's page only must not come before
    # step 1 fired plus the delay (how late a loaded machine delivers the pages, and so the gap
    # between them, is a benchmark's question, not a test's).
    arrived = next(r["at"] for r in sink.received if r["path"] == "/lee")
    assert arrived >= step_1.timestamp() + STEP_2_DELAY - 0.1
    assert len(sink.bodies("/pat")) == 1 and len(sink.bodies("/lee")) == 1
    # The webhook arrives before the worker commits the row's status: give the commit a moment.
    sent = Notification.objects.filter(incident=incident, status="sent")
    wait_for(lambda: sent.count() >= 2, 5, f"pages delivered but not recorded.\n{stack.logs()}")
    assert sent.count() == 2


def test_acknowledgement_stops_step_two(stack, sink, policy):
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
    acknowledged = make_incident(services=[service])
    # Opened with it and left alone: its step 2 proves the worker pages step 2 meanwhile.
    control = make_incident(services=[service])
    wait_for(
        lambda: len(sink.bodies("/pat")) == 2, 10, lambda: f"step 1 never paged.\n{stack.logs()}"
    )
    incident_acknowledge(incident=acknowledged)
    assert IncidentEscalation.objects.get(incident=acknowledged).state == "acknowledged"

    wait_for(
        lambda: sink.bodies("/lee"),
        STEP_2_DELAY + 10,
        lambda: f"step 2 never paged.\n{stack.logs()}",
    )
    # Timer sweeps after that page would have fired the acknowledged one's step 2 too.
    sweeps = stack.sweeps()
    wait_for(lambda: stack.sweeps() >= sweeps + 2, 10, lambda: f"no sweeps ran.\n{stack.logs()}")
    texts = [body["text"] for body in sink.bodies("/lee")]
    assert len(texts) == 1 and control.reference in texts[0]
    assert not TimelineEvent.objects.filter(
        incident=acknowledged, message__startswith="Step 2 of 2"
    ).exists()


KILL_STEP_2_DELAY = 20  # seconds: step 1 is paged and recorded, and the worker killed, before it


@pytest.mark.parametrize("policy", [KILL_STEP_2_DELAY], indirect=True)
def test_killed_worker_and_flushed_broker_still_fire_the_pending_step_once(stack, sink, policy):
    incident = open_incident(policy)
    wait_for(lambda: sink.bodies("/pat"), 30, lambda: f"step 1 never paged.\n{stack.logs()}")
    # Killed between a webhook and the commit of its row, a worker would (rightly) have the page
    # sent again: let the row say "sent" first.
    sent = Notification.objects.filter(incident=incident, status="sent")
    wait_for(lambda: sent.exists(), 10, lambda: f"page not recorded.\n{stack.logs()}")
    # The ETA message for step 2 sits in the worker and in the broker: lose both, and let its
    # time pass with no worker, so only the sweep of the next worker can still fire it.
    stack.kill_worker()
    flush_broker()
    assert not sink.bodies("/lee"), "step 2 fired before the worker was killed"
    due = IncidentEscalation.objects.get(incident=incident).next_at
    assert due is not None
    wait_for(lambda: timezone.now() > due, KILL_STEP_2_DELAY + 5, "step 2 never came due")
    stack.start_worker()
    wait_for(
        lambda: sink.bodies("/lee"), 15, lambda: f"the pending step never fired.\n{stack.logs()}"
    )
    # Several sweeps later, still once.
    sweeps = stack.sweeps()
    wait_for(lambda: stack.sweeps() >= sweeps + 3, 15, lambda: f"no sweeps ran.\n{stack.logs()}")
    assert len(sink.bodies("/lee")) == 1
    assert len(sink.bodies("/pat")) == 1
    assert (
        TimelineEvent.objects.filter(incident=incident, message__startswith="Step 2 of 2").count()
        == 1
    )


def test_the_sweep_restores_a_lost_escalation_and_pages_once(stack, sink):
    kim = UserFactory(username="kim-oncall")
    contact_method_create(user=kim, kind="webhook", address=f"{sink.url}/kim")
    # Step 1 waits a little, so the row is gone before anything could fire it.
    policy = escalation_policy_create(
        name="Search", steps=[StepInput(delay=timedelta(seconds=3), targets=[kim])]
    )
    service = ServiceFactory(name="Search", slug="search", escalation_policy=policy)
    incident = make_incident(services=[service])
    assert IncidentEscalation.objects.filter(incident=incident).delete()[0] == 1

    wait_for(lambda: sink.bodies("/kim"), 30, lambda: f"never paged.\n{stack.logs()}")
    assert IncidentEscalation.objects.get(incident=incident).policy_name == "Search"
    audit = TimelineEvent.objects.filter(
        incident=incident, message__startswith="Triggered with no escalation"
    )
    assert audit.count() == 1
    # Several sweeps later, still one restart and one page.
    sweeps = stack.sweeps()
    wait_for(lambda: stack.sweeps() >= sweeps + 3, 15, lambda: f"no sweeps ran.\n{stack.logs()}")
    assert audit.count() == 1
    assert len(sink.bodies("/kim")) == 1
    assert IncidentEscalation.objects.filter(incident=incident).count() == 1
