"""The outbox end to end: real Celery workers (escalation steps and sweeps on `default,paging`,
sends on `delivery`, as the Procfile runs them), beat, and a real local HTTP server."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from standardwebhooks.webhooks import Webhook

from incidents.models import Notification
from incidents.paging.delivery import contact_method_create
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, make_incident
from tests.webhook_sink import WebhookSink
from tests.worker_stack import flush_broker, kill, process_logs, spawn, wait_for, worker_env

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

SECRET = "whsec_" + "dG9jc2luLXdvcmtlci1zaWduaW5nLXNlY3JldC0zMmI="
SWEEP_SECONDS = 1


class Stack:
    """Beat, one worker for escalation and sweeps, and delivery workers, as subprocesses."""

    def __init__(self, tmp: Path, **env):
        self.tmp = tmp
        self.env = worker_env(
            TOCSIN_TIMER_SWEEP_SECONDS=str(SWEEP_SECONDS),
            TOCSIN_WEBHOOK_SIGNING_SECRET=SECRET,
            **env,
        )
        self.processes = []
        self.count = 0

    def start(self, queues: str, concurrency: int, **env):
        self.count += 1
        log = self.tmp / f"worker{self.count}-{queues.replace(',', '-')}.log"
        args = ["worker", "-Q", queues, "-P", "threads", "-c", str(concurrency), "-l", "info"]
        process = spawn([*args, "-n", f"outbox{self.count}@%h"], {**self.env, **env}, log)
        self.processes.append(process)
        wait_for(lambda: " ready." in log.read_text(), 30, lambda: f"no worker: {self.logs()}")
        return process

    def start_beat(self):
        beat = ["beat", "-l", "info", "-s", str(self.tmp / "beat-schedule")]
        self.processes.append(spawn(beat, self.env, self.tmp / "beat.log"))

    def stop(self):
        for process in self.processes:
            kill(process)

    def logs(self) -> str:
        return process_logs(self.tmp)


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


def pager(sink, *paths):
    """A policy paging one person per path, each at their webhook on the sink."""
    people = []
    for path in paths:
        user = UserFactory(username=path.strip("/"))
        contact_method_create(user=user, kind="webhook", address=f"{sink.url}{path}")
        people.append(user)
    policy = escalation_policy_create(
        name="+".join(paths), steps=[StepInput(delay=timedelta(0), targets=people)]
    )
    return ServiceFactory(
        name=policy.name, slug=policy.name.strip("/").replace("/", ""), escalation_policy=policy
    )


def test_two_trickling_receivers_do_not_delay_an_unrelated_page(tmp_path, sink):
    sink.trickle = {"/slow-a", "/slow-b"}
    sink.trickle_every = 3
    sink.trickle_for = 90
    slow = pager(sink, "/slow-a", "/slow-b")
    fast = pager(sink, "/fast")
    flush_broker()
    stack = Stack(tmp_path, TOCSIN_SEND_DEADLINE_SECONDS="20")
    try:
        stack.start_beat()
        stack.start("default,paging", 2)
        stack.start("delivery", 4)
        make_incident(title="Slow receivers", services=[slow])
        wait_for(
            lambda: sink.requests("/slow-a") and sink.requests("/slow-b"),
            30,
            lambda: f"the slow receivers were never paged\n{stack.logs()}",
        )
        unrelated = make_incident(title="Unrelated outage", services=[fast])
        wait_for(
            lambda: sink.requests("/fast"),
            30,
            lambda: f"the unrelated page never arrived\n{stack.logs()}",
        )
        arrived = sink.requests("/fast")[0]["at"]
        # It did not wait for the trickling sends: both were still in flight when it arrived.
        assert all(cut["at"] > arrived for cut in sink.trickles_cut), sink.trickles_cut
        assert unrelated.reference in sink.bodies("/fast")[0]["text"]

        # Each trickling send is cut off at its total deadline, long before the receiver stops.
        def both_cut():
            rows = Notification.objects.filter(address__contains="/slow-")
            return rows.count() == 2 and all("send deadline" in r.last_error for r in rows)

        wait_for(both_cut, 60, lambda: f"the slow sends were never cut off\n{stack.logs()}")
        first = min(r["at"] for r in sink.requests("/slow-a") + sink.requests("/slow-b"))
        wait_for(lambda: len(sink.trickles_cut) >= 2, 30, "the receivers never saw the hang-up")
        assert all(cut["at"] < first + sink.trickle_for for cut in sink.trickles_cut)
    finally:
        stack.stop()
        connection.close()


def test_killing_the_worker_during_a_send_repeats_the_page_with_the_same_id(tmp_path, sink):
    service = pager(sink, "/pat")
    flush_broker()
    marker = tmp_path / "fault-fired"
    stack = Stack(tmp_path, TOCSIN_SEND_DEADLINE_SECONDS="3", TOCSIN_DELIVERY_LEASE_SECONDS="4")
    try:
        stack.start_beat()
        stack.start("default,paging", 2)
        doomed = stack.start("delivery", 2, TOCSIN_FAULT_AFTER_SEND=str(marker))
        incident = make_incident(title="Disk full", services=[service])
        # The receiver gets the page; the worker exits before it records that it sent it.
        wait_for(lambda: sink.requests("/pat"), 30, lambda: f"never paged\n{stack.logs()}")
        wait_for(lambda: doomed.poll() is not None, 30, "the worker did not exit at the fault")
        assert marker.exists()
        row = Notification.objects.get(incident=incident)
        assert row.status == "sending"

        # A new delivery worker; the sweep takes the row back once the dead worker's lease ends.
        stack.start("delivery", 2)
        wait_for(
            lambda: Notification.objects.get(pk=row.pk).status == "sent",
            60,
            lambda: f"the page was never sent again\n{stack.logs()}",
        )
        row.refresh_from_db()
        assert row.attempts == 2
        copies = sink.requests("/pat")
        assert len(copies) == 2
        assert {c["headers"]["webhook-id"] for c in copies} == {row.delivery_id}
        for copy in copies:
            assert (
                incident.reference in Webhook(SECRET).verify(copy["raw"], copy["headers"])["text"]
            )
    finally:
        stack.stop()
        connection.close()
