"""Escalation step logic: delays, repeat, nobody on call, acknowledge, resolve, snapshot, CAS."""

import time
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from incidents.core.lifecycle import incident_acknowledge, incident_resolve, status_update_post
from incidents.models import (
    EscalationState,
    EscalationStep,
    EscalationTarget,
    Incident,
    IncidentDeadline,
    IncidentEscalation,
    Notification,
    NotificationStatus,
    TeamChannel,
    TimelineEvent,
)
from incidents.paging import engine as escalation
from incidents.paging import sweep as timer_sweep
from incidents.paging.delivery import contact_method_create
from incidents.paging.policies import StepInput, escalation_policy_create, severity_route_set
from tests.factories import ServiceFactory, UserFactory, make_incident, make_schedule, severity

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def people():
    primary = UserFactory(username="pat-primary")
    lead = UserFactory(username="lee-lead")
    cto = UserFactory(username="cora-cto")
    return primary, lead, cto


@pytest.fixture
def primary_schedule(people):
    return make_schedule(name="Checkout primary", participants=[people[0]])


@pytest.fixture
def policy(people, primary_schedule):
    """The team runbooks' path: the on-call now, the engineering lead after 15 minutes."""
    return escalation_policy_create(
        name="Checkout",
        steps=[
            StepInput(delay=timedelta(0), targets=[primary_schedule]),
            StepInput(delay=timedelta(minutes=15), targets=[people[1]]),
        ],
    )


def open_incident(policy, *, key="P1", detected_at=T0, **kwargs):
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
    incident = make_incident(
        severity_key=key, services=[service], detected_at=detected_at, **kwargs
    )
    escalation.escalation_start(incident_id=incident.pk, now=detected_at)
    return Incident.objects.get(pk=incident.pk)


def paged(incident) -> list[tuple[str, int, int]]:
    return sorted(
        Notification.objects.filter(incident=incident, reason="page").values_list(
            "recipient", "round", "step"
        )
    )


def fire(incident, seconds: float) -> bool:
    state = IncidentEscalation.objects.get(incident=incident)
    return escalation.escalation_fire_step(
        escalation_id=state.pk, expected_version=state.version, now=at(seconds)
    )


def state_of(incident) -> IncidentEscalation:
    return IncidentEscalation.objects.get(incident=incident)


def test_first_step_is_due_at_once_and_pages_the_oncall(policy):
    incident = open_incident(policy)
    assert state_of(incident).next_at == T0
    assert fire(incident, 0)
    assert paged(incident) == [("pat-primary", 0, 0)]
    row = state_of(incident)
    assert (row.step, row.round, row.state) == (1, 0, EscalationState.ACTIVE)
    assert row.next_at == at(15 * 60)
    assert TimelineEvent.objects.filter(
        incident=incident, kind="escalation", message__startswith="Step 1 of 2 paged pat-primary"
    ).exists()


def test_second_step_waits_its_delay(policy):
    incident = open_incident(policy)
    fire(incident, 0)
    assert not fire(incident, 15 * 60 - 1)
    assert paged(incident) == [("pat-primary", 0, 0)]
    assert fire(incident, 15 * 60)
    assert paged(incident) == [("lee-lead", 0, 1), ("pat-primary", 0, 0)]
    assert state_of(incident).state == EscalationState.EXHAUSTED


def test_step_reached_twice_runs_once(policy):
    incident = open_incident(policy)
    row = state_of(incident)
    assert escalation.escalation_fire_step(
        escalation_id=row.pk, expected_version=row.version, now=T0
    )
    assert not escalation.escalation_fire_step(
        escalation_id=row.pk, expected_version=row.version, now=T0
    )
    assert paged(incident) == [("pat-primary", 0, 0)]
    assert (
        TimelineEvent.objects.filter(incident=incident, message__startswith="Step 1").count() == 1
    )


def test_repeat_runs_the_steps_again_then_exhausts(people, primary_schedule):
    policy = escalation_policy_create(
        name="Loud",
        repeat=1,
        repeat_delay=timedelta(minutes=5),
        steps=[StepInput(delay=timedelta(0), targets=[primary_schedule])],
    )
    incident = open_incident(policy)
    fire(incident, 0)
    assert state_of(incident).next_at == at(300)
    assert not fire(incident, 299)
    assert fire(incident, 300)
    assert paged(incident) == [("pat-primary", 0, 0), ("pat-primary", 1, 0)]
    row = state_of(incident)
    assert row.state == EscalationState.EXHAUSTED and row.next_at is None
    assert TimelineEvent.objects.filter(
        incident=incident, message__startswith="Escalation exhausted"
    ).exists()


def test_nobody_on_call_moves_on_to_the_next_step_at_once(people):
    empty = make_schedule(
        name="Ended rotation", participants=[people[0]], ends_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    policy = escalation_policy_create(
        name="Gap",
        steps=[
            StepInput(delay=timedelta(0), targets=[empty]),
            StepInput(delay=timedelta(minutes=15), targets=[people[1]]),
        ],
    )
    incident = open_incident(policy)
    assert fire(incident, 0)
    assert paged(incident) == [("lee-lead", 0, 1)]
    messages = list(
        TimelineEvent.objects.filter(incident=incident, kind="escalation").values_list(
            "message", flat=True
        )
    )
    assert any(
        "Step 1 of 2 paged nobody. Nobody on call for Ended rotation." in m for m in messages
    )


def test_acknowledge_between_steps_stops_the_climb(policy):
    incident = open_incident(policy)
    fire(incident, 0)
    incident_acknowledge(incident=incident, actor=UserFactory(username="pat-primary"))
    escalation.escalation_acknowledge(incident_id=incident.pk)
    row = state_of(incident)
    assert row.state == EscalationState.ACKNOWLEDGED and row.next_at is None
    assert not fire(incident, 15 * 60)
    assert paged(incident) == [("pat-primary", 0, 0)]
    assert IncidentDeadline.objects.get(incident=incident, kind="acknowledge").done_at is not None


def test_acknowledge_cancels_pages_not_sent_yet(policy, people):
    # Email at once, webhook after 2 minutes if still unacknowledged.
    contact_method_create(
        user=people[0], kind="email", address="pat@example.com", notify_after=timedelta(0)
    )
    contact_method_create(
        user=people[0],
        kind="webhook",
        address="http://127.0.0.1:9/hook",
        notify_after=timedelta(minutes=2),
    )
    incident = open_incident(policy)
    fire(incident, 0)
    assert Notification.objects.filter(incident=incident).count() == 2
    escalation.escalation_acknowledge(incident_id=incident.pk)
    statuses = dict(Notification.objects.filter(incident=incident).values_list("kind", "status"))
    assert statuses == {
        "email": NotificationStatus.CANCELLED,
        "webhook": NotificationStatus.CANCELLED,
    }


def test_resolve_stops_everything(policy):
    incident = open_incident(policy)
    fire(incident, 0)
    incident_resolve(incident=incident)
    escalation.escalation_resolve(incident_id=incident.pk)
    assert state_of(incident).state == EscalationState.RESOLVED
    assert not fire(incident, 15 * 60)
    assert not IncidentDeadline.objects.filter(incident=incident, done_at__isnull=True).exists()
    assert not Notification.objects.filter(incident=incident, status="queued").exists()


def test_policy_edited_mid_escalation_does_not_change_the_running_one(policy, people):
    incident = open_incident(policy)
    fire(incident, 0)
    second = EscalationStep.objects.get(policy=policy, order=1)
    second.delay = timedelta(hours=2)
    second.save()
    EscalationTarget.objects.filter(step=second).update(user=people[2])
    assert fire(incident, 15 * 60)
    assert paged(incident) == [("lee-lead", 0, 1), ("pat-primary", 0, 0)]


def test_team_channel_target_is_paged_once(people):
    channel = TeamChannel.objects.create(
        name="#checkout", kind="webhook", address="http://127.0.0.1:9/x"
    )
    policy = escalation_policy_create(
        name="Channel", steps=[StepInput(delay=timedelta(0), targets=[channel, people[1]])]
    )
    incident = open_incident(policy)
    fire(incident, 0)
    assert paged(incident) == [("#checkout", 0, 0), ("lee-lead", 0, 0)]


def test_severity_route_overrides_the_service_policy(policy, people):
    lead_now = escalation_policy_create(
        name="P0: lead at once",
        steps=[StepInput(delay=timedelta(0), targets=[people[1], people[2]])],
    )
    severity_route_set(severity=severity("P0"), policy=lead_now)
    incident = open_incident(policy, key="P0")
    assert state_of(incident).policy_name == "P0: lead at once"
    fire(incident, 0)
    assert paged(incident) == [("cora-cto", 0, 0), ("lee-lead", 0, 0)]


def test_no_policy_is_said_in_the_timeline():
    incident = make_incident(detected_at=T0)
    assert escalation.escalation_start(incident_id=incident.pk, now=T0) is None
    assert not IncidentEscalation.objects.filter(incident=incident).exists()
    assert TimelineEvent.objects.filter(
        incident=incident, message__startswith="No escalation policy applies"
    ).exists()


def test_starting_twice_keeps_one_escalation(policy):
    incident = open_incident(policy)
    again = escalation.escalation_start(incident_id=incident.pk, now=at(5))
    assert again.pk == state_of(incident).pk
    assert IncidentEscalation.objects.filter(incident=incident).count() == 1


@pytest.fixture
def published():
    """(task, args) of every message the real broker accepted while the test ran (Celery's
    after_task_publish signal fires once the broker has the message)."""
    from celery.signals import after_task_publish

    seen: list[tuple[str, list]] = []

    def record(sender=None, body=None, **kwargs):
        seen.append((sender, list(body[0])))

    after_task_publish.connect(record, weak=False)
    try:
        yield seen
    finally:
        after_task_publish.disconnect(record)


def test_opening_an_incident_starts_its_escalation_on_commit(
    policy, published, django_capture_on_commit_callbacks
):
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        incident = make_incident(services=[service])
    # The escalation row is written with the incident; its timer waits for the commit.
    started = state_of(incident)
    assert started.state == EscalationState.ACTIVE
    # Timers are published from a background thread: give a publish that should not happen a
    # second to show, and the one that should ten.
    assert _fired(published, seconds=1) == []
    for callback in callbacks:
        callback()
    assert _fired(published, seconds=10) == [[started.pk, started.version]]


def _fired(published, seconds: float) -> list[list]:
    """The fire-step timers published so far, waiting up to `seconds` for the first."""
    deadline = time.monotonic() + seconds
    while True:
        found = [args for task, args in published if task == escalation.FIRE_TASK]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def test_escalate_now_fires_the_pending_step(policy, people):
    incident = open_incident(policy)
    fire(incident, 0)
    escalation.escalation_escalate_now(incident=incident, actor=people[0])
    assert paged(incident) == [("lee-lead", 0, 1), ("pat-primary", 0, 0)]
    assert TimelineEvent.objects.filter(
        incident=incident, message__startswith="Escalate now"
    ).exists()


def test_acknowledge_target_breach_escalates_now_and_marks_the_incident(policy):
    incident = open_incident(policy)  # P1: acknowledge within the severity's target
    fire(incident, 0)
    deadline = IncidentDeadline.objects.get(incident=incident, kind="acknowledge")
    assert deadline.due_at == T0 + incident.severity.acknowledge_within
    assert escalation.escalation_fire_deadline(deadline_id=deadline.pk, now=deadline.due_at)
    incident.refresh_from_db()
    assert incident.acknowledge_breached_at == deadline.due_at
    assert paged(incident) == [("lee-lead", 0, 1), ("pat-primary", 0, 0)]
    assert TimelineEvent.objects.filter(
        incident=incident, message__startswith="Acknowledge target missed"
    ).exists()
    assert not escalation.escalation_fire_deadline(deadline_id=deadline.pk, now=deadline.due_at)


def test_update_cadence_reminds_the_commander_when_no_update_was_posted(policy, people):
    incident = open_incident(policy, key="P0", commander=people[2])
    deadline = IncidentDeadline.objects.get(incident=incident, kind="update")
    every = incident.severity.update_every
    assert deadline.due_at == T0 + every
    assert escalation.escalation_fire_deadline(deadline_id=deadline.pk, now=T0 + every)
    reminders = Notification.objects.filter(incident=incident, reason="reminder")
    assert list(reminders.values_list("recipient", flat=True)) == ["cora-cto"]
    deadline.refresh_from_db()
    assert deadline.due_at == T0 + 2 * every


def test_update_cadence_waits_when_an_update_was_posted(policy, people):
    incident = open_incident(policy, key="P0", commander=people[2])
    incident_acknowledge(incident=incident)
    update = status_update_post(incident=incident, message="Rolling back the deploy.")
    deadline = IncidentDeadline.objects.get(incident=incident, kind="update")
    every = incident.severity.update_every
    escalation.escalation_fire_deadline(deadline_id=deadline.pk, now=T0 + every)
    assert not Notification.objects.filter(incident=incident, reason="reminder").exists()
    deadline.refresh_from_db()
    assert deadline.due_at == update.created_at + every


def test_sweep_fires_due_steps_and_deadlines(policy):
    incident = open_incident(policy, detected_at=timezone.now() - timedelta(hours=1))
    counts = timer_sweep.escalation_sweep(budget_seconds=10)
    assert counts["steps"] >= 1
    assert ("pat-primary", 0, 0) in paged(incident)
    incident.refresh_from_db()
    assert incident.acknowledge_breached_at is not None


def test_seed_demo_loads_the_seeds_escalation_paths():
    from django.core.management import call_command

    from incidents.models import EscalationPolicy, Service, SeverityRoute

    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)  # twice: nothing doubles
    platform = EscalationPolicy.objects.get(name="Platform on-call")
    assert [s.delay for s in platform.steps.all()] == [timedelta(0), timedelta(minutes=15)]
    assert Service.objects.get(slug="checkout").escalation_policy == platform
    route = SeverityRoute.objects.get(severity__key="P0", service__isnull=True)
    assert route.policy.name == "P0: lead at once, then CTO"
    assert EscalationPolicy.objects.count() == 2


def test_acknowledge_target_follows_a_lowered_severity(policy):
    from incidents.core.lifecycle import incident_set_severity

    incident = open_incident(policy, key="P0")
    deadline = IncidentDeadline.objects.get(incident=incident, kind="acknowledge")
    incident_set_severity(incident=incident, severity=severity("P3"))
    assert escalation.escalation_fire_deadline(deadline_id=deadline.pk, now=deadline.due_at)
    incident.refresh_from_db()
    assert incident.acknowledge_breached_at is None
    deadline.refresh_from_db()
    assert deadline.done_at is None
    assert deadline.due_at == T0 + severity("P3").acknowledge_within


def test_once_public_only_public_updates_keep_the_cadence(policy, people):
    from incidents.models import StatusUpdate
    from incidents.paging import delivery as notify

    incident = open_incident(policy, key="P0", commander=people[2])
    incident_acknowledge(incident=incident)
    every = incident.severity.update_every
    public = status_update_post(incident=incident, message="Investigating.", public=True)
    internal = status_update_post(incident=incident, message="Rolled back the deploy.")
    StatusUpdate.objects.filter(pk=public.pk).update(created_at=T0)
    StatusUpdate.objects.filter(pk=internal.pk).update(created_at=T0 + every - timedelta(minutes=1))
    deadline = IncidentDeadline.objects.get(incident=incident, kind="update")

    assert escalation.escalation_fire_deadline(deadline_id=deadline.pk, now=T0 + every)

    reminder = Notification.objects.get(incident=incident, reason="reminder")
    subject, body = notify.render(reminder)
    assert "public status update due" in subject
    assert "/post-update/?public=1" in body
    assert TimelineEvent.objects.filter(
        incident=incident, message__startswith="No public status update for"
    ).exists()


def test_reopening_resumes_the_update_cadence(policy, people):
    from incidents.core.lifecycle import incident_reopen

    incident = open_incident(policy, key="P0", commander=people[2])
    incident_resolve(incident=incident)
    deadline = IncidentDeadline.objects.get(incident=incident, kind="update")
    assert deadline.done_at is not None

    before = timezone.now()
    incident_reopen(incident=incident, reason="Errors are back")
    deadline.refresh_from_db()
    assert deadline.done_at is None
    assert deadline.due_at >= before + incident.severity.update_every
    assert escalation.escalation_fire_deadline(deadline_id=deadline.pk, now=deadline.due_at)
    assert Notification.objects.filter(incident=incident, reason="reminder").exists()
