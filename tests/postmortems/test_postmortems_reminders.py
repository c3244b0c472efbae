"""Daily reminders: overdue post-mortems to their author (else the commander), overdue action
items to their owner, once a day at most."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from incidents.core import lifecycle
from incidents.models import Notification
from incidents.paging.delivery import notification_deliver
from postmortems.models import Postmortem
from postmortems.reminders import postmortem_reminders_send
from postmortems.services import (
    action_item_create,
    postmortem_draft,
    postmortem_transition,
    postmortem_update,
)
from postmortems.tasks import postmortem_reminders
from tests.factories import UserFactory, make_incident

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


def deliver_queued() -> list:
    """Run the delivery the paging worker would run, and return the emails sent."""
    for pk in Notification.objects.filter(reason="followup", status="queued").values_list(
        "pk", flat=True
    ):
        notification_deliver(notification_id=pk)
    return mail.outbox


@pytest.fixture
def overdue():
    carol = UserFactory(username="carol", email="carol@example.com")
    bob = UserFactory(username="bob", email="bob@example.com")
    incident = make_incident(title="Checkout returns 502", severity_key="P0")
    lifecycle.incident_assign_commander(incident=incident, commander=carol, actor=carol)
    lifecycle.incident_resolve(incident=incident, actor=carol)
    postmortem, _ = postmortem_draft(incident=incident)
    Postmortem.objects.filter(pk=postmortem.pk).update(due_at=NOW - timedelta(hours=3))
    item = action_item_create(
        postmortem=postmortem,
        title="Add a canary stage",
        owner=bob,
        due_date=NOW.date() - timedelta(days=1),
    )
    action_item_create(postmortem=postmortem, title="Later", owner=bob, due_date=NOW.date())
    return postmortem, item


def test_overdue_postmortem_and_action_item_are_reminded_once_a_day(overdue):
    assert postmortem_reminders_send(now=NOW) == {"postmortems": 1, "action_items": 1}
    rows = Notification.objects.filter(reason="followup")
    assert sorted(rows.values_list("recipient", flat=True)) == ["bob", "carol"]
    by_recipient = {m.to[0]: m for m in deliver_queued()}
    assert set(by_recipient) == {"carol@example.com", "bob@example.com"}
    assert by_recipient["carol@example.com"].subject.startswith(
        "[Tocsin] Post-mortem overdue: INC-"
    )
    assert "/admin/postmortems/postmortem/" in by_recipient["carol@example.com"].body
    assert "Add a canary stage" in by_recipient["bob@example.com"].subject

    # Same day, later: nothing more.
    assert postmortem_reminders_send(now=NOW + timedelta(hours=10)) == {
        "postmortems": 0,
        "action_items": 0,
    }
    assert len(deliver_queued()) == 2
    # Next day: once more, and "Later", due the day before, joins in.
    assert postmortem_reminders_send(now=NOW + timedelta(days=1)) == {
        "postmortems": 1,
        "action_items": 2,
    }
    assert len(deliver_queued()) == 5
    assert set(rows.values_list("status", flat=True)) == {"sent"}


def test_the_author_is_reminded_rather_than_the_commander(overdue):
    postmortem, _ = overdue
    postmortem_update(
        postmortem=postmortem, author=UserFactory(username="alice", email="alice@example.com")
    )
    postmortem_reminders_send(now=NOW)
    sent_to = [m.to[0] for m in deliver_queued()]
    assert "alice@example.com" in sent_to
    assert "carol@example.com" not in sent_to


def test_published_postmortems_and_done_items_are_not_reminded(overdue):
    postmortem, item = overdue
    postmortem_update(postmortem=postmortem, summary="Deploy broke checkout.", root_cause="Config.")
    postmortem_transition(postmortem=postmortem, to="in_review")
    postmortem_transition(postmortem=postmortem, to="published")
    from postmortems.services import action_item_set_status

    action_item_set_status(item=item, status="done")
    assert postmortem_reminders_send(now=NOW) == {"postmortems": 0, "action_items": 0}
    assert deliver_queued() == []


def test_the_celery_task_sends_the_reminders(overdue):
    Postmortem.objects.update(due_at=datetime.now(UTC) - timedelta(hours=1))
    result = postmortem_reminders.apply().get()
    assert result["postmortems"] == 1
    assert len(deliver_queued()) >= 1


def test_the_beat_schedule_runs_the_reminders_daily():
    from config.celery import app

    entry = app.conf.beat_schedule["postmortem-reminders"]
    assert entry["task"] == "postmortems.tasks.postmortem_reminders"
    assert entry["schedule"].hour == {8}


def test_a_reminder_follows_the_persons_contact_method_and_is_retried(overdue):
    """Through the notification system: the owner's webhook, a delivery log row, retries."""
    from incidents.paging.delivery import contact_method_create

    _, item = overdue
    contact_method_create(user=item.owner, kind="webhook", address="http://127.0.0.1:9/hook")
    postmortem_reminders_send(now=NOW)
    row = Notification.objects.get(reason="followup", user=item.owner)
    assert (row.kind, row.address) == ("webhook", "http://127.0.0.1:9/hook")
    assert notification_deliver(notification_id=row.pk) == "queued"  # nobody listens on :9
    row.refresh_from_db()
    assert row.attempts == 1 and row.last_error and row.due_at > NOW
