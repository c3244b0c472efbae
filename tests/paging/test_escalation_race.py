"""Acknowledging or resolving at the instant a step fires (real Celery worker and beat, the test
run's database and broker), 30 times over: no 5xx, no deadlock left unretried, no page claimed
for sending once the acknowledgement is committed, no step fired after it, and every page that
reached the receiver logged as sent.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from incidents.models import IncidentEscalation, Notification, TimelineEvent
from incidents.paging.delivery import contact_method_create
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, api_client_for, make_incident
from tests.paging import test_escalation_worker
from tests.worker_stack import wait_for

# The real worker and beat, and the receiving server, of the escalation worker tests.
stack = test_escalation_worker.stack
sink = test_escalation_worker.sink

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RACES = 30
STEP_DELAY = 1  # seconds between step 1 and step 2
SPREAD = 0.15  # the API call lands from this long before step 2 is due to this long after


@pytest.fixture
def service(sink):
    pat = UserFactory(username="pat-primary")
    lee = UserFactory(username="lee-lead")
    contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/pat")
    contact_method_create(user=lee, kind="webhook", address=f"{sink.url}/lee")
    policy = escalation_policy_create(
        name="Checkout",
        steps=[
            StepInput(delay=timedelta(0), targets=[pat]),
            StepInput(delay=timedelta(seconds=STEP_DELAY), targets=[lee]),
        ],
    )
    return ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)


@pytest.fixture
def manager(db):
    user = UserFactory(username="max-manager")
    user.groups.add(Group.objects.get(name="Incident manager"))
    return user


@dataclass
class Race:
    incident_id: int
    reference: str
    action: str
    offset: float
    status: int = 0
    pages_at_answer: dict | None = None  # page id -> status, read once the answer is in
    steps_at_answer: int = 0


def step_entries(incident_id: int):
    return TimelineEvent.objects.filter(incident_id=incident_id, message__startswith="Step ")


def run_race(race: Race, manager) -> Race:
    try:
        escalation = IncidentEscalation.objects.filter(incident_id=race.incident_id)
        wait_for(
            lambda: escalation.filter(last_fired_at__isnull=False).exists(),
            60,
            f"step 1 of {race.reference} never fired",
        )
        due = escalation.get().next_at
        client = api_client_for(manager)
        client.raise_request_exception = False  # a 500 is an answer to look at, not a crash
        # Timed to the step's due time: the call lands within SPREAD of the step firing.
        pause = due.timestamp() - time.time() + race.offset
        if pause > 0:
            time.sleep(pause)
        answer = client.post(f"/api/v1/incidents/{race.incident_id}/{race.action}/")
        race.status = answer.status_code
        # The answer is in: the change is committed. What the database holds now is what the
        # acknowledgement (or resolution) left behind.
        race.pages_at_answer = dict(
            Notification.objects.filter(incident_id=race.incident_id, reason="page").values_list(
                "pk", "status"
            )
        )
        race.steps_at_answer = step_entries(race.incident_id).count()
        return race
    finally:
        connection.close()


def test_acknowledge_or_resolve_as_a_step_fires_never_deadlocks_or_pages_after(
    stack, sink, service, manager
):
    races = []
    with ThreadPoolExecutor(max_workers=RACES) as pool:
        futures = []
        for n in range(RACES):
            incident = make_incident(title=f"Checkout race {n}", services=[service])
            race = Race(
                incident_id=incident.pk,
                reference=incident.reference,
                action="acknowledge" if n % 2 == 0 else "resolve",
                offset=-SPREAD + 2 * SPREAD * n / (RACES - 1),
            )
            futures.append(pool.submit(run_race, race, manager))
            time.sleep(0.2)  # the incidents open one after another, as alerts arrive
        races = [future.result() for future in futures]

    assert [r.status for r in races if r.status != 200] == [], stack.logs()

    for race in races:
        # Nothing was left queued for a step's page once the answer was committed...
        assert "queued" not in race.pages_at_answer.values(), race
        state = IncidentEscalation.objects.get(incident_id=race.incident_id)
        assert state.state in ("acknowledged", "resolved") and state.next_at is None, race

    def settled() -> bool:
        # Delivery is at least once: a send whose lease ran out on a stalled worker is sent
        # again, with the same webhook-id. So compare delivery ids: every page that reached the
        # receiver is a row logged as sent, and every row logged as sent reached it.
        if Notification.objects.filter(status__in=("queued", "sending")).exists():
            return False
        got = {r["headers"].get("webhook-id") for r in sink.requests()}
        sent = {
            n.delivery_id
            for n in Notification.objects.filter(
                incident_id__in=[r.incident_id for r in races], status="sent"
            )
        }
        return got == sent

    wait_for(settled, 120, lambda: f"pages not delivered and recorded.\n{stack.logs()}")
    # Give the beat sweep two more rounds to fire anything the acknowledgements left behind.
    sweeps = stack.sweeps()
    wait_for(lambda: stack.sweeps() >= sweeps + 2, 30, lambda: f"no sweeps ran.\n{stack.logs()}")

    for race in races:
        pages = dict(
            Notification.objects.filter(incident_id=race.incident_id, reason="page").values_list(
                "pk", "status"
            )
        )
        # ...no step fired after it (no new page rows, no new step on the timeline)...
        assert set(pages) == set(race.pages_at_answer), race
        assert step_entries(race.incident_id).count() == race.steps_at_answer, race
        # ...and a page it cancelled was never sent after all.
        for pk, status in race.pages_at_answer.items():
            if status == "cancelled":
                assert pages[pk] == "cancelled", race
    # Every page that reached the receiver is logged as sent (checked by `settled`), and the
    # receiver got no page nobody logged.
    assert Notification.objects.filter(status="sent").count() == len(sink.received)

    logs = "\n".join(log.read_text() for log in sorted(stack.tmp.glob("*.log")))
    for unretried in ("deadlock detected", "could not serialize", "Could not fire"):
        assert unretried not in logs, logs[-5000:]
    # Both kinds of race happened: some steps fired before the answer, some never did.
    fired_step_2 = sum(1 for r in races if r.steps_at_answer >= 2)
    print(f"step 2 fired before the answer in {fired_step_2} of {RACES} races")
