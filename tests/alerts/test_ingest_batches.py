"""Inbox batches are applied set-based: the queries of a batch do not grow with its alerts, a
key's events still apply in arrival order, and a row that cannot be applied is held back alone
while the rest of its batch commits."""

from datetime import timedelta

import pytest

from incidents.alerts.events import RESOLVE, TRIGGER, AlertEvent
from incidents.alerts.inbox import inbox_accept, inbox_drain
from incidents.core import hooks
from incidents.models import (
    Alert,
    InboxEvent,
    Incident,
    IncidentDeadline,
    IncidentEscalation,
    Service,
    TimelineEvent,
)
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import UserFactory, make_integration


@pytest.fixture
def integration(db, settings):
    settings.TOCSIN_INGEST_APPLY = "worker"  # accept now, apply in the drain below
    settings.TOCSIN_INBOX_BATCH_ROWS = 500
    settings.TOCSIN_INBOX_BATCH_EVENTS = 5000
    oncall = UserFactory(username="ola-oncall", email="ola@example.com")
    policy = escalation_policy_create(
        name="Checkout", steps=[StepInput(delay=timedelta(0), targets=[oncall])]
    )
    service = Service.objects.create(slug="checkout", name="Checkout", escalation_policy=policy)
    integration, _ = make_integration(name="prometheus", kind="alertmanager", service=service)
    return integration


def trigger(key: str, *, group: str = "", summary: str = "") -> AlertEvent:
    return AlertEvent(
        action=TRIGGER,
        dedup_key=key,
        summary=summary or f"Disk full on {key}",
        severity="critical",
        group_key=group,
    )


def resolve(key: str) -> AlertEvent:
    return AlertEvent(action=RESOLVE, dedup_key=key)


def accept(integration, *rows: list[AlertEvent]) -> None:
    for events in rows:
        inbox_accept(integration=integration, events=events)


@pytest.mark.parametrize("alerts", [10, 100])
def test_a_batch_of_distinct_alerts_takes_as_many_queries_for_100_as_for_10(
    integration, django_assert_max_num_queries, alerts
):
    accept(integration, *([trigger(f"host-{n}")] for n in range(alerts)))
    with django_assert_max_num_queries(45):
        assert inbox_drain() == alerts
    assert Incident.objects.count() == alerts
    assert IncidentEscalation.objects.filter(policy__name="Checkout").count() == alerts
    assert IncidentDeadline.objects.filter(kind="acknowledge").count() == alerts
    assert set(Alert.objects.values_list("incident__title", flat=True)) == {
        f"Disk full on host-{n}" for n in range(alerts)
    }
    # Per incident: opened, its escalation started, its alert firing.
    kinds = TimelineEvent.objects.values_list("kind", flat=True)
    assert sorted(kinds).count("alert") == alerts
    assert sorted(kinds).count("created") == alerts
    assert sorted(kinds).count("escalation") == alerts
    assert set(InboxEvent.objects.values_list("state", flat=True)) == {"applied"}
    row = InboxEvent.objects.earliest("id")
    assert row.result == "1 new"
    assert row.incident_ids == [Alert.objects.get(dedup_key="host-0").incident_id]


def test_repeats_in_one_batch_add_up_and_the_last_values_win(integration):
    accept(
        integration,
        [trigger("db-1", summary="Replica lag 10s")],
        [trigger("db-1", summary="Replica lag 20s")],
        [trigger("db-1", summary="Replica lag 30s"), trigger("db-1", summary="Replica lag 40s")],
    )
    assert inbox_drain() == 3
    alert = Alert.objects.get()
    assert alert.count == 4
    assert alert.summary == "Replica lag 40s"
    # The incident was opened by the first sighting, as it would have been alone.
    assert alert.incident.title == "Replica lag 10s"
    results = list(InboxEvent.objects.order_by("id").values_list("result", flat=True))
    assert results == ["1 new", "1 repeated", "2 repeated"]
    assert set(InboxEvent.objects.values_list("alert_id", flat=True)) == {alert.pk}


def test_the_alerts_of_one_group_in_one_batch_share_one_incident(integration):
    accept(integration, [trigger(f"pod-{n}", group="checkout-pods") for n in range(50)])
    assert inbox_drain() == 1
    incident = Incident.objects.get()
    assert Alert.objects.filter(incident=incident).count() == 50
    assert IncidentEscalation.objects.get().incident == incident


def test_a_trigger_then_a_resolve_in_one_batch_ends_resolved(integration):
    accept(integration, [trigger("web-1")], [resolve("web-1")], [trigger("web-2")])
    assert inbox_drain() == 3
    assert Alert.objects.get(dedup_key="web-1").status == "resolved"
    assert Alert.objects.get(dedup_key="web-1").incident.status == "resolved"
    assert Alert.objects.get(dedup_key="web-2").status == "firing"
    # A resolve then a new trigger of the same key: a new firing alert, a new incident.
    accept(integration, [resolve("web-2"), trigger("web-2", summary="Back again")])
    assert inbox_drain() == 1
    statuses = Alert.objects.filter(dedup_key="web-2").order_by("id")
    assert list(statuses.values_list("status", flat=True)) == ["resolved", "firing"]
    assert statuses.last().incident.title == "Back again"


@pytest.fixture
def poisoned_start(db):
    """A required hook that fails for one incident's title only."""

    def refuse(incident_id: int) -> None:
        if Incident.objects.get(pk=incident_id).title.startswith("Poison"):
            raise RuntimeError("the escalation store refused it")

    hooks.register(hooks.INCIDENT_OPENED, refuse, required=True, what="check the title")
    yield
    hooks.unregister(hooks.INCIDENT_OPENED, refuse)


def test_a_row_that_fails_is_held_back_alone_and_the_rest_of_its_batch_commits(
    integration, poisoned_start
):
    accept(
        integration,
        [trigger("ok-1")],
        [trigger("ok-2"), trigger("bad", summary="Poison pill")],
        [trigger("ok-3")],
    )
    assert inbox_drain() == 2
    assert set(Alert.objects.values_list("dedup_key", flat=True)) == {"ok-1", "ok-3"}
    assert Incident.objects.count() == 2
    held = InboxEvent.objects.get(state="pending")
    assert held.event_count == 2
    assert "Could not check the title" in held.last_error
    assert held.attempts == 1
