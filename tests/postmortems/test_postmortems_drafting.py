"""Drafting a post-mortem when an incident resolves, per severity, once."""

from datetime import UTC, datetime, timedelta

import pytest

from incidents.core import lifecycle
from incidents.core.choices import TimelineKind
from incidents.models import TimelineEvent
from postmortems.models import Postmortem
from postmortems.services import generate_timeline, postmortem_draft, postmortem_update
from tests.factories import UserFactory, make_incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolve(django_capture_on_commit_callbacks):
    """Resolve and run what commit would run (the drafting hook among them)."""

    def run(incident, actor=None):
        with django_capture_on_commit_callbacks(execute=True):
            return lifecycle.incident_resolve(incident=incident, actor=actor)

    return run


@pytest.mark.parametrize(
    ("key", "due_within"), [("P0", timedelta(hours=24)), ("P1", timedelta(hours=48))]
)
def test_resolving_a_p0_or_p1_drafts_a_required_postmortem_due_from_resolution(
    key, due_within, resolve
):
    incident = make_incident(severity_key=key, summary="Checkout 502s after deploy.")
    incident = resolve(incident)
    postmortem = Postmortem.objects.get(incident=incident)
    incident.refresh_from_db()
    assert postmortem.required is True
    assert postmortem.status == "draft"
    assert postmortem.due_at == incident.resolved_at + due_within
    assert postmortem.summary == "Checkout 502s after deploy."
    assert (
        TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.POSTMORTEM).count() == 1
    )


def test_resolving_a_p2_drafts_nothing_but_one_can_be_started_by_hand(resolve):
    incident = resolve(make_incident(severity_key="P2"))
    assert not Postmortem.objects.filter(incident=incident).exists()

    postmortem, created = postmortem_draft(incident=incident, actor=UserFactory())
    incident.refresh_from_db()
    assert created is True
    assert postmortem.required is False
    assert postmortem.due_at == incident.resolved_at + timedelta(days=7)


def test_resolving_a_p3_drafts_nothing_and_a_hand_started_one_has_no_due_date(resolve):
    incident = resolve(make_incident(severity_key="P3"))
    assert not Postmortem.objects.filter(incident=incident).exists()

    postmortem, _ = postmortem_draft(incident=incident)
    assert postmortem.required is False
    assert postmortem.due_at is None


def test_reopen_and_resolve_again_keeps_the_one_postmortem_and_its_edits(resolve):
    user = UserFactory()
    incident = resolve(make_incident(severity_key="P0"))
    postmortem = Postmortem.objects.get(incident=incident)
    first_due = postmortem.due_at
    postmortem_update(postmortem=postmortem, root_cause="Pool exhausted.", timeline="- edited")

    lifecycle.incident_reopen(incident=incident, reason="Errors are back", actor=user)
    resolve(incident, actor=user)

    assert Postmortem.objects.filter(incident=incident).count() == 1
    postmortem.refresh_from_db()
    assert postmortem.root_cause == "Pool exhausted."
    assert postmortem.timeline == "- edited"
    assert postmortem.due_at == first_due


def test_drafting_twice_by_hand_returns_the_existing_postmortem():
    incident = make_incident(severity_key="P2")
    first, created_first = postmortem_draft(incident=incident)
    second, created_second = postmortem_draft(incident=incident)
    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk


def test_the_commander_is_the_author_of_the_draft(resolve):
    carol = UserFactory(username="carol")
    incident = make_incident(severity_key="P1")
    lifecycle.incident_assign_commander(incident=incident, commander=carol, actor=carol)
    resolve(incident, actor=carol)
    assert Postmortem.objects.get(incident=incident).author == carol


def test_generated_timeline_lists_events_and_updates_in_utc_in_the_templates_style():
    alice = UserFactory(username="alice", first_name="Alice", last_name="Nguyen")
    incident = make_incident(severity_key="P0", via="Alertmanager: production")
    lifecycle.incident_acknowledge(incident=incident, actor=alice)
    lifecycle.status_update_post(
        incident=incident, actor=alice, public=True, message="Rolling back the 14:20 deploy."
    )
    base = datetime(2026, 3, 4, 14, 23, tzinfo=UTC)
    # The escalation engine's own note ("no policy applies") is not part of this story.
    TimelineEvent.objects.filter(incident=incident, kind="escalation").delete()
    for minutes, event in enumerate(TimelineEvent.objects.filter(incident=incident).order_by("id")):
        event.at = base + timedelta(minutes=2 * minutes)
        event.save(update_fields=["at"])
    incident.updates.update(created_at=base + timedelta(minutes=3))

    text = generate_timeline(incident)
    lines = text.splitlines()
    assert lines[0].startswith("- **14:23** - Opened INC-")
    assert "Alertmanager: production" in lines[0]
    assert lines[1].startswith("- **14:25** - Alice Nguyen changed status from Triggered")
    assert (
        "- **14:26** - Investigating update (public, Alice Nguyen): Rolling back the 14:20 deploy."
        in lines
    )
    # The update's own timeline row is not listed twice.
    assert sum("Rolling back" in line for line in lines) == 1


def test_generated_timeline_shows_dates_when_the_incident_spans_days():
    incident = make_incident(severity_key="P1")
    lifecycle.incident_acknowledge(incident=incident)
    events = list(TimelineEvent.objects.filter(incident=incident).order_by("id"))
    events[0].at = datetime(2026, 3, 4, 23, 50, tzinfo=UTC)
    events[1].at = datetime(2026, 3, 5, 0, 10, tzinfo=UTC)
    for event in events:
        event.save(update_fields=["at"])
    lines = generate_timeline(incident).splitlines()
    assert lines[0].startswith("- **2026-03-04 23:50** - ")
    assert lines[1].startswith("- **2026-03-05 00:10** - ")
