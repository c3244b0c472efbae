"""The status flow, enforced by incidents.core.lifecycle, and the timeline it writes."""

import pytest

from incidents.core import hooks, lifecycle
from incidents.core.choices import WORKING_STATUSES, IncidentStatus, TimelineKind
from incidents.core.errors import DomainError, IllegalTransition
from incidents.models import Incident, StatusUpdate, TimelineEvent
from tests.factories import UserFactory, make_incident, severity

S = IncidentStatus
pytestmark = pytest.mark.django_db


def incident_in(status: str, actor=None) -> Incident:
    """An incident brought to `status` through the legal path."""
    incident = make_incident()
    if status == S.TRIGGERED:
        return incident
    if status == S.RESOLVED:
        return lifecycle.incident_resolve(incident=incident, actor=actor)
    lifecycle.incident_acknowledge(incident=incident, actor=actor)
    if status != S.ACKNOWLEDGED:
        lifecycle.incident_transition(incident=incident, to=status, actor=actor)
    return Incident.objects.get(pk=incident.pk)


LEGAL = [
    (S.TRIGGERED, S.ACKNOWLEDGED),
    (S.TRIGGERED, S.INVESTIGATING),
    (S.TRIGGERED, S.IDENTIFIED),
    (S.TRIGGERED, S.MONITORING),
    (S.TRIGGERED, S.RESOLVED),
    (S.ACKNOWLEDGED, S.INVESTIGATING),
    (S.ACKNOWLEDGED, S.IDENTIFIED),
    (S.ACKNOWLEDGED, S.MONITORING),
    (S.ACKNOWLEDGED, S.RESOLVED),
    (S.INVESTIGATING, S.IDENTIFIED),
    (S.INVESTIGATING, S.MONITORING),
    (S.INVESTIGATING, S.RESOLVED),
    (S.IDENTIFIED, S.INVESTIGATING),
    (S.IDENTIFIED, S.MONITORING),
    (S.IDENTIFIED, S.RESOLVED),
    (S.MONITORING, S.INVESTIGATING),
    (S.MONITORING, S.IDENTIFIED),
    (S.MONITORING, S.RESOLVED),
]

ILLEGAL = [
    (S.ACKNOWLEDGED, S.TRIGGERED),
    (S.INVESTIGATING, S.ACKNOWLEDGED),
    (S.INVESTIGATING, S.TRIGGERED),
    (S.IDENTIFIED, S.ACKNOWLEDGED),
    (S.MONITORING, S.ACKNOWLEDGED),
    (S.MONITORING, S.TRIGGERED),
    (S.RESOLVED, S.ACKNOWLEDGED),
    (S.RESOLVED, S.TRIGGERED),
    (S.RESOLVED, S.IDENTIFIED),
    (S.RESOLVED, S.MONITORING),
]


@pytest.mark.parametrize(("start", "target"), LEGAL)
def test_legal_move_changes_status_and_writes_timeline_with_actor(start, target):
    actor = UserFactory(username="alice", first_name="Alice", last_name="Nguyen")
    incident = incident_in(start, actor=actor)
    before_rows = incident.timeline.count()

    lifecycle.incident_transition(incident=incident, to=target, actor=actor)

    incident.refresh_from_db()
    assert incident.status == target
    # The move's own row (hooks may add theirs after it, e.g. a post-mortem draft on resolve).
    last = incident.timeline.filter(kind=TimelineKind.STATUS).order_by("-at", "-id").first()
    assert last.actor == actor
    assert last.actor_label == "Alice Nguyen"
    assert last.after == {"status": target}
    # From triggered, a working state is reached through acknowledged (two rows).
    acknowledged_first = start == S.TRIGGERED and target in WORKING_STATUSES
    assert last.before == {"status": S.ACKNOWLEDGED if acknowledged_first else start}
    assert incident.timeline.count() > before_rows


@pytest.mark.parametrize(("start", "target"), ILLEGAL)
def test_illegal_move_is_refused_and_changes_nothing(start, target):
    incident = incident_in(start)
    rows = TimelineEvent.objects.count()

    with pytest.raises(IllegalTransition) as refused:
        lifecycle.incident_transition(incident=incident, to=target)

    assert incident.reference in str(refused.value)
    assert "cannot move to" in str(refused.value)
    incident.refresh_from_db()
    assert incident.status == start
    assert TimelineEvent.objects.count() == rows


@pytest.mark.parametrize("status", list(S))
def test_repeating_the_current_status_is_a_noop(status):
    incident = incident_in(status)
    rows = incident.timeline.count()
    lifecycle.incident_transition(incident=incident, to=status)
    assert incident.timeline.count() == rows


def test_moving_triggered_to_working_state_acknowledges_first():
    actor = UserFactory()
    incident = make_incident()
    lifecycle.incident_transition(incident=incident, to=S.IDENTIFIED, actor=actor)
    incident.refresh_from_db()
    assert incident.acknowledged_at is not None
    moves = list(incident.timeline.filter(kind=TimelineKind.STATUS).values_list("after", flat=True))
    assert moves == [{"status": "acknowledged"}, {"status": "identified"}]


def test_acknowledge_is_noop_when_already_acknowledged_or_further():
    incident = incident_in(S.IDENTIFIED)
    stamped = incident.acknowledged_at
    rows = incident.timeline.count()
    lifecycle.incident_acknowledge(incident=incident)
    incident.refresh_from_db()
    assert incident.status == S.IDENTIFIED
    assert incident.acknowledged_at == stamped
    assert incident.timeline.count() == rows


def test_acknowledging_a_resolved_incident_is_refused_with_a_hint():
    incident = incident_in(S.RESOLVED)
    with pytest.raises(IllegalTransition, match="Reopen it first"):
        lifecycle.incident_acknowledge(incident=incident)


def test_resolve_stamps_resolved_and_mitigated():
    incident = lifecycle.incident_resolve(incident=make_incident())
    assert incident.resolved_at is not None
    assert incident.mitigated_at == incident.resolved_at


def test_monitoring_stamps_mitigated_once():
    incident = incident_in(S.MONITORING)
    first = incident.mitigated_at
    assert first is not None
    lifecycle.incident_transition(incident=incident, to=S.INVESTIGATING)
    lifecycle.incident_transition(incident=incident, to=S.MONITORING)
    incident.refresh_from_db()
    assert incident.mitigated_at == first


def test_reopen_needs_a_reason_and_returns_to_investigating():
    actor = UserFactory(username="bob", first_name="", last_name="")
    incident = incident_in(S.RESOLVED)

    with pytest.raises(DomainError) as missing:
        lifecycle.incident_reopen(incident=incident, reason="  ", actor=actor)
    assert missing.value.field == "reason"

    lifecycle.incident_reopen(incident=incident, reason="Errors are back", actor=actor)
    incident.refresh_from_db()
    assert incident.status == S.INVESTIGATING
    assert incident.resolved_at is None
    last = incident.timeline.order_by("-id").first()
    assert last.kind == TimelineKind.REOPENED
    assert last.message == "bob reopened the incident: Errors are back"


def test_transition_to_investigating_from_resolved_without_reason_is_refused():
    incident = incident_in(S.RESOLVED)
    with pytest.raises(DomainError):
        lifecycle.incident_transition(incident=incident, to=S.INVESTIGATING)
    incident.refresh_from_db()
    assert incident.status == S.RESOLVED


def test_reopen_refused_when_not_resolved():
    with pytest.raises(IllegalTransition, match="not resolved"):
        lifecycle.incident_reopen(incident=make_incident(), reason="why not")


def test_numbers_are_sequential_and_readable():
    first, second = make_incident(), make_incident()
    assert second.number == first.number + 1
    assert first.reference == f"INC-{first.number}"


def test_create_records_actor_or_integration_in_timeline(user):
    by_integration = make_incident(via="Alertmanager: production")
    event = by_integration.timeline.get(kind=TimelineKind.CREATED)
    assert event.message.endswith("by Alertmanager: production.")
    assert event.actor is None
    assert event.actor_label == "Alertmanager: production"
    assert by_integration.status == S.TRIGGERED
    by_person = make_incident(actor=user)
    event = by_person.timeline.get(kind=TimelineKind.CREATED)
    assert event.actor == user
    assert event.message.endswith(f"by {event.actor_label}.")


def test_create_refuses_a_blank_title():
    with pytest.raises(DomainError) as refused:
        make_incident(title="   ")
    assert refused.value.field == "title"
    assert not Incident.objects.exists()


def test_severity_change_records_before_and_after():
    incident = make_incident(severity_key="P2")
    lifecycle.incident_set_severity(incident=incident, severity=severity("P0"))
    event = incident.timeline.get(kind=TimelineKind.SEVERITY)
    assert (event.before, event.after) == ({"severity": "P2"}, {"severity": "P0"})
    lifecycle.incident_set_severity(incident=incident, severity=severity("P0"))
    assert incident.timeline.filter(kind=TimelineKind.SEVERITY).count() == 1


def test_take_command_and_hand_over():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    incident = make_incident()
    lifecycle.incident_assign_commander(incident=incident, commander=alice, actor=alice)
    lifecycle.incident_assign_commander(incident=incident, commander=bob, actor=alice)
    events = list(incident.timeline.filter(kind=TimelineKind.COMMANDER).order_by("id"))
    assert "took command" in events[0].message
    assert events[1].before == {"commander": "alice"}
    assert events[1].after == {"commander": "bob"}
    incident.refresh_from_db()
    assert incident.commander == bob


def test_responders_with_roles_once_each():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    incident = make_incident()
    lifecycle.incident_add_responder(incident=incident, user=bob, role="scribe", actor=alice)
    lifecycle.incident_add_responder(incident=incident, user=bob, role="scribe", actor=alice)
    assert incident.responders.get().role == "scribe"
    assert incident.timeline.filter(kind=TimelineKind.RESPONDER_ADDED).count() == 1
    lifecycle.incident_remove_responder(incident=incident, user=bob, actor=alice)
    assert not incident.responders.exists()
    assert incident.timeline.filter(kind=TimelineKind.RESPONDER_REMOVED).count() == 1


def test_details_edit_records_only_changed_fields():
    incident = make_incident(title="Old title")
    lifecycle.incident_update_details(incident=incident, title="New title", summary="")
    event = incident.timeline.get(kind=TimelineKind.FIELD)
    assert event.before == {"title": "Old title"}
    assert event.after == {"title": "New title"}


def test_status_update_with_status_moves_the_incident():
    actor = UserFactory()
    incident = make_incident()
    update = lifecycle.status_update_post(
        incident=incident, message="Found it", status="identified", public=True, actor=actor
    )
    incident.refresh_from_db()
    assert incident.status == S.IDENTIFIED
    assert update.public and update.status == "identified"
    assert incident.timeline.filter(kind=TimelineKind.UPDATE, actor=actor).exists()


def test_status_update_without_status_speaks_of_the_current_phase():
    update = lifecycle.status_update_post(incident=make_incident(), message="Looking")
    assert update.status == "investigating"
    assert update.public is False


def test_status_update_needs_a_message_and_writes_nothing_otherwise():
    incident = make_incident()
    with pytest.raises(DomainError):
        lifecycle.status_update_post(incident=incident, message=" ", status="resolved")
    incident.refresh_from_db()
    assert incident.status == S.TRIGGERED
    assert not StatusUpdate.objects.exists()


def test_breach_of_acknowledge_target_is_computed_from_severity(settings):
    from datetime import timedelta

    from django.utils import timezone

    late = make_incident(severity_key="P0", detected_at=timezone.now() - timedelta(minutes=20))
    assert late.acknowledge_breached()  # P0: 15 minutes
    fresh = make_incident(severity_key="P0")
    assert not fresh.acknowledge_breached()


def test_resolving_an_unacknowledged_incident_stamps_its_acknowledgement():
    incident = lifecycle.incident_resolve(incident=make_incident())
    assert incident.acknowledged_at == incident.resolved_at
    assert not incident.acknowledge_breached()


def test_side_effect_rows_commit_with_the_incident_not_after_it():
    """The escalation state is written in the incident's own transaction: a process that dies
    right after the commit cannot leave an incident that never pages."""
    from django.db import transaction

    from incidents.models import IncidentDeadline

    with transaction.atomic():
        incident = make_incident(severity_key="P0")
        # Still inside the creating transaction: the escalation engine's rows are already here.
        assert IncidentDeadline.objects.filter(incident=incident, kind="acknowledge").exists()
        assert incident.timeline.filter(kind=TimelineKind.ESCALATION).exists()


def test_a_failing_hook_is_undone_alone_and_the_change_stands():
    def broken_hook(incident_id: int) -> None:
        TimelineEvent.objects.create(
            incident_id=incident_id, kind=TimelineKind.NOTE, actor_label="x", message="half"
        )
        raise RuntimeError("a bug in a side effect")

    hooks.register(hooks.INCIDENT_OPENED, broken_hook)
    try:
        incident = make_incident()
    finally:
        hooks.unregister(hooks.INCIDENT_OPENED, broken_hook)
    assert Incident.objects.filter(pk=incident.pk).exists()
    assert not incident.timeline.filter(message="half").exists()
    assert incident.timeline.filter(kind=TimelineKind.CREATED).exists()


def test_a_failing_required_hook_fails_the_change_and_nothing_commits():
    def broken_required_hook(incident_id: int) -> None:
        raise RuntimeError("cannot start the escalation")

    hooks.register(
        hooks.INCIDENT_OPENED, broken_required_hook, required=True, what="start its escalation"
    )
    before = Incident.objects.count()
    try:
        with pytest.raises(hooks.HookFailed, match="cannot start") as failed:
            make_incident()
    finally:
        hooks.unregister(hooks.INCIDENT_OPENED, broken_required_hook)
    assert Incident.objects.count() == before
    # A sentence for the person who tried (the admin shows it; the API answers 503 with it).
    assert str(failed.value).startswith("Could not start its escalation (RuntimeError: ")
    assert failed.value.status_code == 503
    assert isinstance(failed.value.__cause__, RuntimeError)
