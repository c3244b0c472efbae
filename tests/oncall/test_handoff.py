"""Handoff messages: each shift change is announced once, to email and a real local webhook,
through the outbox (rows the delivery workers send; here `handoff_deliver_pending` sends them)."""

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core import mail

from incidents.core.lifecycle import incident_resolve
from incidents.models import Handoff, Notification, Schedule
from incidents.paging import handoffs
from incidents.paging.delivery import notification_deliver
from tests.factories import UserFactory, make_incident, make_schedule

pytestmark = pytest.mark.django_db


def handoff_sweep(now=None):
    """The beat sweep records and queues; the delivery workers' part follows it."""
    result = handoffs.handoff_sweep(now=now)
    handoffs.handoff_deliver_pending()
    return result


def handoff_rows():
    return Notification.objects.filter(reason="handoff")


class HookServer:
    """A real HTTP server on a free loopback port that records JSON posts."""

    def __init__(self):
        self.received: list[dict] = []
        self.status = 200
        self.event = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if outer.status == 200:
                    outer.received.append(json.loads(body))
                    outer.event.set()
                self.send_response(outer.status)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook():
    server = HookServer()
    yield server
    server.close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(f"2026-01-{text}").replace(tzinfo=UTC)


@pytest.fixture
def people(db):
    return [
        UserFactory(username="alice", first_name="Alice", last_name="Archer"),
        UserFactory(username="bob", first_name="Bob", last_name="Baker"),
    ]


@pytest.fixture
def schedule(people, hook):
    alice, bob = people
    schedule = make_schedule(
        participants=[alice, bob],
        shift="daily",
        start="2026-01-05",
        handoff_notify=[("email", "platform@example.com"), ("webhook", hook.url)],
    )
    Schedule.objects.filter(pk=schedule.pk).update(handoffs_checked_at=at("06T08:59:50"))
    return schedule


def test_shift_change_is_announced_to_webhook_email_and_the_incoming_person(schedule, hook, people):
    make_incident(title="Checkout returns 502", severity_key="P1", detected_at=at("05T12:00:00"))
    done = make_incident(title="Queue backing up", severity_key="P2", detected_at=at("05T15:00:00"))
    incident_resolve(incident=done, actor=None)
    make_incident(title="Before the shift", severity_key="P0", detected_at=at("05T08:00:00"))
    from datetime import date

    from postmortems.services import action_item_create, postmortem_draft

    postmortem, _ = postmortem_draft(incident=done)
    action_item_create(
        postmortem=postmortem, title="Alert on queue depth", due_date=date(2026, 1, 2)
    )

    result = handoff_sweep(now=at("06T09:00:10"))

    assert result["recorded"] == 1
    handoff = Handoff.objects.get()
    assert handoff.at == at("06T09:00:00")
    assert (handoff.outgoing.username, handoff.incoming.username) == ("alice", "bob")
    assert len(hook.received) == 1
    text = hook.received[0]["text"]
    assert text.startswith(":rotating_light: On-Call Handoff - Platform primary")
    assert "Primary: @bob (Bob Baker), taking over from @alice at 09:00 UTC" in text
    assert "Secondary: none configured" in text
    assert "- Incidents: 2 (P0: 0, P1: 1, P2: 1, P3: 0)" in text
    assert "2 incidents still open" in text
    assert "[P1] Checkout returns 502 (triggered)" in text
    assert "[P0] Before the shift" in text
    assert "Queue backing up" not in text
    assert "- Action Items: 1 open, 1 overdue" in text
    assert f"  - Alert on queue depth (no owner, due Fri 2 Jan, INC-{done.number})" in text
    assert "Good luck! :muscle:" in text

    team = [m for m in mail.outbox if m.to == ["platform@example.com"]]
    assert len(team) == 1
    assert team[0].subject == "On-call handoff: Platform primary, @bob takes over"
    assert team[0].body == text
    notice = [m for m in mail.outbox if m.to == ["bob@example.com"]]
    assert len(notice) == 1
    assert notice[0].subject == "You are now on call for Platform primary"
    assert "until Wed 7 Jan 2026 09:00 UTC" in notice[0].body
    assert "/oncall/ical/" in notice[0].body


def test_each_change_is_sent_once_even_when_sweeps_overlap(schedule, hook):
    handoff_sweep(now=at("06T09:00:10"))
    handoff_sweep(now=at("06T09:00:25"))
    # A second beat or a retry that looks at the same window again.
    Schedule.objects.filter(pk=schedule.pk).update(handoffs_checked_at=at("06T08:59:00"))
    handoff_sweep(now=at("06T09:00:40"))

    assert Handoff.objects.count() == 1
    assert len(hook.received) == 1
    assert len(mail.outbox) == 2  # the team channel and the notice, once each
    assert handoff_rows().filter(status="sent").count() == 3


def test_failed_webhook_is_retried_without_resending_the_email(schedule, hook):
    hook.status = 500
    handoff_sweep(now=at("06T09:00:10"))
    webhook = handoff_rows().get(kind="webhook")
    assert webhook.sent_at is None
    assert webhook.attempts == 1
    assert "500" in webhook.last_error
    assert len(mail.outbox) == 2

    hook.status = 200
    handoff_sweep(now=at("06T09:00:25"))
    # The outbox's backoff: the retry is due a while after the failed attempt ended.
    assert notification_deliver(notification_id=webhook.pk, now=webhook.due_at) == "sent"
    webhook.refresh_from_db()
    assert webhook.sent_at is not None
    assert len(hook.received) == 1
    assert len(mail.outbox) == 2


def test_every_change_in_the_window_is_announced_in_order(schedule, hook):
    Schedule.objects.filter(pk=schedule.pk).update(handoffs_checked_at=at("06T08:00:00"))
    handoff_sweep(now=at("06T08:30:00"))
    assert not Handoff.objects.exists()
    handoff_sweep(now=at("06T09:30:00"))
    assert Handoff.objects.count() == 1


def test_secondary_is_the_on_call_of_the_backup_schedule(schedule, hook, people):
    carol = UserFactory(username="carol")
    backup = make_schedule(name="Platform secondary", participants=[carol], shift="weekly")
    Schedule.objects.filter(pk=schedule.pk).update(backup_schedule=backup)
    handoff_sweep(now=at("06T09:00:10"))
    assert "Secondary: @carol" in hook.received[0]["text"]


def test_sweep_ignores_changes_before_the_schedule_existed(people, hook):
    alice, bob = people
    make_schedule(participants=[alice, bob], shift="1h", start="2020-01-01", handoff_weekday=None)
    # Created just now; the first sweep has nothing after creation to announce.
    handoff_sweep()
    assert not Handoff.objects.exists()
    assert hook.received == []


def test_webhook_that_keeps_redirecting_is_not_delivered(schedule, hook):
    # Handoffs use the paging transport: same-host redirects are followed three times at most.
    hook.status = 302
    handoff_sweep(now=at("06T09:00:10"))
    webhook = handoff_rows().get(kind="webhook")
    assert webhook.sent_at is None
    assert "redirect" in webhook.last_error


def test_long_outage_announces_only_the_last_hour(schedule, hook):
    Schedule.objects.filter(pk=schedule.pk).update(handoffs_checked_at=at("01T00:00:00"))
    handoff_sweep(now=at("06T09:30:00"))
    assert list(Handoff.objects.values_list("at", flat=True)) == [at("06T09:00:00")]
