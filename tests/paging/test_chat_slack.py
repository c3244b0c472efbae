"""Two-way Slack: slash commands and button clicks, as real signed requests (issue 13)."""

import json
from datetime import timedelta

import pytest

from incidents.core.lifecycle import incident_resolve
from incidents.models import Incident, Notification, Responder, TeamChannel
from incidents.paging import sweep as timer_sweep
from incidents.paging.delivery import contact_method_create, deliver_due
from incidents.paging.outbox import message
from incidents.paging.policies import StepInput, escalation_policy_create, team_channel_save
from tests.factories import ServiceFactory, make_incident, make_schedule
from tests.paging.chat_helpers import SLACK_SECRET, link, person, slack_command, slack_post
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.SLACK_SIGNING_SECRET = SLACK_SECRET


@pytest.fixture
def alice():
    user = person("alice", "Alice", "Ng", "Responder")
    link(user, "slack", "U0ALICE")
    return user


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


def labels(incident) -> list[str]:
    return list(incident.timeline.values_list("actor_label", flat=True))


def test_ack_acknowledges_in_channel_and_names_the_person(client, alice):
    incident = make_incident()
    answer = slack_command(client, "U0ALICE", f"ack {incident.reference}")
    assert answer.status_code == 200
    body = answer.json()
    assert body["response_type"] == "in_channel"
    assert body["text"] == f"{incident.reference} acknowledged by Alice Ng via Slack."
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    assert "Alice Ng via Slack" in labels(incident)


@pytest.mark.parametrize("text", ["ack {n}", "acknowledge INC-{n}", "ACK inc-{n}"])
def test_ack_takes_the_number_or_the_reference(client, alice, text):
    incident = make_incident()
    answer = slack_command(client, "U0ALICE", text.format(n=incident.number))
    assert answer.json()["response_type"] == "in_channel"
    assert Incident.objects.get(pk=incident.pk).status == "acknowledged"


def test_resolve_resolves_in_channel(client, alice):
    incident = make_incident()
    answer = slack_command(client, "U0ALICE", f"resolve {incident.reference}")
    assert answer.json() == {
        "response_type": "in_channel",
        "text": f"{incident.reference} resolved by Alice Ng via Slack.",
    }
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert "Alice Ng via Slack" in labels(incident)


def test_ack_of_an_unknown_incident_answers_the_asker_alone(client, alice):
    answer = slack_command(client, "U0ALICE", "ack INC-999999")
    assert answer.json()["response_type"] == "ephemeral"
    assert "No incident 'INC-999999'" in answer.json()["text"]


def test_oncall_lists_who_is_on_call_and_the_next_handoff(client, alice):
    bob = person("bob", "Bob", "Stone")
    make_schedule(name="Platform primary", participants=[alice, bob], shift="daily")
    make_schedule(name="Database", participants=[bob])
    body = slack_command(client, "U0ALICE", "oncall").json()
    assert body["response_type"] == "ephemeral"
    lines = body["text"].splitlines()
    assert lines[0] == "On call now:"
    assert lines[1].startswith("Database: Bob Stone (@bob)")
    assert lines[2].startswith("Platform primary: ")
    assert "; next: " in lines[2] and " UTC" in lines[2]
    one = slack_command(client, "U0ALICE", "oncall platform primary").json()["text"]
    assert one.splitlines()[1:] == [lines[2]]
    none = slack_command(client, "U0ALICE", "oncall Nope").json()
    assert none == {"response_type": "ephemeral", "text": "No schedule named 'Nope'."}


def test_page_opens_an_incident_and_pages_the_person_now(client, sink):
    max_ = person("max", "Max", "Power", "Incident manager")
    link(max_, "slack", "U0MAX")
    dana = person("dana", "Dana", "Bauer")
    contact_method_create(user=dana, kind="webhook", address=sink.url + "/dana")
    answer = slack_command(client, "U0MAX", "page @dana The primary database is failing over")
    body = answer.json()
    assert body["response_type"] == "in_channel"
    incident = Incident.objects.get()
    assert incident.title == "The primary database is failing over"
    assert incident.severity.key == "P1"
    assert body["text"].startswith(f"Max Power opened {incident.reference} (P1) and paged @dana")
    assert Responder.objects.filter(incident=incident, user=dana).exists()
    assert "Max Power via Slack" in labels(incident)
    deliver_due()
    [page] = sink.bodies("/dana")
    assert "The primary database is failing over" in page["text"]
    assert "Max Power via Slack paged you." in page["text"]


def test_page_a_schedule_by_its_name(client):
    max_ = person("max", "Max", "Power", "Incident manager")
    link(max_, "slack", "U0MAX")
    pat = person("pat", "Pat", "Lee")
    make_schedule(name="Database primary", participants=[pat])
    body = slack_command(client, "U0MAX", "page Database primary disk full on db-1").json()
    assert body["response_type"] == "in_channel"
    incident = Incident.objects.get()
    assert incident.title == "disk full on db-1"
    assert Responder.objects.filter(incident=incident, user=pat).exists()
    assert Notification.objects.filter(incident=incident, user=pat, reason="direct").exists()


def test_page_needs_the_create_and_page_permissions(client, alice):
    body = slack_command(client, "U0ALICE", "page @alice help").json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith("You may not page: You need the incidents.add_incident")
    assert not Incident.objects.exists()


def test_incidents_lists_the_open_ones_newest_first(client, alice):
    now = make_incident().detected_at
    old = make_incident(title="Old one", detected_at=now - timedelta(hours=2))
    new = make_incident(title="New one", detected_at=now - timedelta(minutes=1))
    done = make_incident(title="Done")
    incident_resolve(incident=done)
    body = slack_command(client, "U0ALICE", "incidents").json()
    assert body["response_type"] == "ephemeral"
    lines = body["text"].splitlines()
    assert lines[0] == "Open incidents, newest first:"
    assert [line.split()[0] for line in lines[1:]] == [
        Incident.objects.exclude(pk__in=[old.pk, new.pk, done.pk]).get().reference,
        new.reference,
        old.reference,
    ]
    assert "Done" not in body["text"]


def test_help_answers_the_asker_alone(client, alice):
    body = slack_command(client, "U0ALICE", "help").json()
    assert body["response_type"] == "ephemeral"
    assert "/tocsin oncall [schedule]" in body["text"]
    assert "/tocsin page <schedule name|@username> <message>" in body["text"]


@pytest.mark.parametrize(
    "how",
    [
        {"signature": "v0=" + "0" * 64},
        {"secret": "not-the-secret"},
        {"age_seconds": 6 * 60},
        {"signature": False},
    ],
    ids=["bad-signature", "other-secret", "six-minutes-old", "no-signature"],
)
def test_unverified_requests_are_refused_with_401_and_change_nothing(client, alice, how):
    incident = make_incident()
    events = incident.timeline.count()
    answer = slack_command(client, "U0ALICE", f"ack {incident.reference}", **how)
    assert answer.status_code == 401
    assert "Slack signature" in answer.json()["detail"]
    incident.refresh_from_db()
    assert incident.status == "triggered"
    assert incident.timeline.count() == events


def test_without_a_signing_secret_every_request_is_refused(client, alice, settings):
    settings.SLACK_SIGNING_SECRET = ""
    incident = make_incident()
    answer = slack_command(client, "U0ALICE", f"ack {incident.reference}")
    assert answer.status_code == 401
    assert "SLACK_SIGNING_SECRET" in answer.json()["detail"]
    assert Incident.objects.get(pk=incident.pk).status == "triggered"


def test_an_unlinked_slack_user_is_told_how_to_link_and_nothing_happens(client, alice):
    incident = make_incident()
    events = incident.timeline.count()
    body = slack_command(client, "U0STRANGER", f"ack {incident.reference}").json()
    assert body["response_type"] == "ephemeral"
    assert "U0STRANGER" in body["text"] and "is not linked to a Tocsin user" in body["text"]
    assert "/admin/my-paging/" in body["text"]
    assert "/api/v1/users/<your username>/chat-identities/" in body["text"]
    incident.refresh_from_db()
    assert incident.status == "triggered"
    assert incident.timeline.count() == events


def test_a_viewers_ack_is_refused(client):
    vera = person("vera", "Vera", "View", "Viewer")
    link(vera, "slack", "U0VERA")
    incident = make_incident()
    body = slack_command(client, "U0VERA", f"ack {incident.reference}").json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith(f"You may not acknowledge {incident.reference}: You need")
    assert Incident.objects.get(pk=incident.pk).status == "triggered"


def test_bad_bodies_answer_400_or_413(client, alice):
    payload = slack_post(client, "/chat/slack/interactions", {"payload": "{not json"})
    assert payload.status_code == 400
    assert payload.json()["detail"].startswith("payload:")
    large = slack_command(client, "U0ALICE", "x" * 70_000)
    assert large.status_code == 413
    no_user = slack_post(client, "/chat/slack/commands", {"text": "help"})
    assert no_user.status_code == 400


def click(client, user_id: str, incident, action: str, response_url: str):
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "someone", "team_id": "T0001"},
        "team": {"id": "T0001"},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action,
                "block_id": f"incident-{incident.pk}",
                "value": str(incident.pk),
                "type": "button",
                "action_ts": "1548426417.840180",
            }
        ],
    }
    return slack_post(client, "/chat/slack/interactions", {"payload": json.dumps(payload)})


def test_a_button_click_acts_and_the_message_is_updated_at_the_response_url(client, alice, sink):
    incident = make_incident()
    answer = click(client, "U0ALICE", incident, "acknowledge", sink.url + "/actions/T0001/1/x")
    assert answer.status_code == 200
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    assert "Alice Ng via Slack" in labels(incident)
    deliver_due()
    [update] = sink.requests("/actions/T0001/1/x")
    body = update["body"]
    assert body["replace_original"] is True
    assert body["text"].startswith(f"{incident.reference} acknowledged by Alice Ng via Slack.")
    context = [b for b in body["blocks"] if b["type"] == "context"]
    assert context[0]["elements"][0]["text"] == (
        f"{incident.reference} acknowledged by Alice Ng via Slack."
    )
    [actions] = [b for b in body["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["resolve", "open"]
    assert update["headers"]["webhook-id"].startswith("msg_")
    assert Notification.objects.get(reason="chat").status == "sent"


def test_a_viewers_click_changes_nothing_and_tells_them_alone(client, sink):
    vera = person("vera", "Vera", "View", "Viewer")
    link(vera, "slack", "U0VERA")
    incident = make_incident()
    assert click(client, "U0VERA", incident, "resolve", sink.url + "/r").status_code == 200
    assert Incident.objects.get(pk=incident.pk).status == "triggered"
    deliver_due()
    [note] = sink.bodies("/r")
    assert note["response_type"] == "ephemeral" and note["replace_original"] is False
    assert note["text"].startswith(f"You may not resolve {incident.reference}")


def test_a_page_to_a_slack_team_channel_carries_the_buttons(sink):
    channel = team_channel_save(
        channel=TeamChannel(name="#incidents", kind="slack", address=sink.url + "/services/T/B/x")
    )
    policy = escalation_policy_create(
        name="Checkout", steps=[StepInput(delay=timedelta(0), targets=[channel])]
    )
    incident = make_incident(services=[ServiceFactory(slug="checkout", escalation_policy=policy)])
    timer_sweep.escalation_sweep(budget_seconds=5, grace_seconds=0)
    deliver_due()
    [request] = sink.requests("/services/T/B/x")
    body = request["body"]
    assert request["headers"]["webhook-signature"].startswith("v1,")
    assert incident.reference in body["text"]
    section = body["blocks"][1]["text"]["text"]
    assert incident.reference in section and incident.title in section
    assert "*Severity:* P1 High" in section and "*Status:* Triggered" in section
    assert "*Service:* " in section
    [actions] = [b for b in body["blocks"] if b["type"] == "actions"]
    buttons = {e["action_id"]: e for e in actions["elements"]}
    assert list(buttons) == ["acknowledge", "resolve", "escalate", "open"]
    assert buttons["acknowledge"]["value"] == str(incident.pk)
    assert buttons["acknowledge"]["style"] == "primary"
    assert buttons["escalate"]["style"] == "danger"
    assert buttons["open"]["url"].endswith(f"/admin/incidents/incident/{incident.pk}/change/")


def test_escalate_pages_the_next_step_now(client, alice):
    lee = person("lee", "Lee", "Park")
    policy = escalation_policy_create(
        name="Checkout",
        steps=[
            StepInput(delay=timedelta(0), targets=[alice]),
            StepInput(delay=timedelta(minutes=15), targets=[lee]),
        ],
    )
    incident = make_incident(services=[ServiceFactory(slug="checkout", escalation_policy=policy)])
    timer_sweep.escalation_sweep(budget_seconds=5, grace_seconds=0)
    assert not Notification.objects.filter(incident=incident, user=lee).exists()
    body = slack_command(client, "U0ALICE", f"escalate {incident.reference}").json()
    assert body["response_type"] == "in_channel"
    assert body["text"].startswith(f"{incident.reference} escalated by Alice Ng")
    assert Notification.objects.filter(incident=incident, user=lee, reason="page").exists()
    assert "Alice Ng via Slack" in labels(incident)


def test_a_resolve_click_updates_the_message_although_the_incident_is_resolved(client, alice, sink):
    incident = make_incident()
    assert click(client, "U0ALICE", incident, "resolve", sink.url + "/u").status_code == 200
    assert Incident.objects.get(pk=incident.pk).status == "resolved"
    deliver_due()
    [update] = sink.bodies("/u")
    assert update["replace_original"] is True
    assert update["text"].startswith(f"{incident.reference} resolved by Alice Ng via Slack.")
    [actions] = [b for b in update["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["open"]


def test_an_unlinked_click_is_answered_with_how_to_link(client, sink):
    incident = make_incident()
    assert click(client, "U0NOBODY", incident, "acknowledge", sink.url + "/n").status_code == 200
    assert Incident.objects.get(pk=incident.pk).status == "triggered"
    deliver_due()
    [note] = sink.bodies("/n")
    assert note["response_type"] == "ephemeral"
    assert "is not linked to a Tocsin user" in note["text"]


def test_an_unsigned_click_is_refused_and_changes_nothing(client, alice, sink, settings):
    incident = make_incident()
    settings.SLACK_SIGNING_SECRET = "another-secret"
    assert click(client, "U0ALICE", incident, "acknowledge", sink.url + "/x").status_code == 401
    assert Incident.objects.get(pk=incident.pk).status == "triggered"
    assert not Notification.objects.filter(reason="chat").exists()


def test_a_handoff_to_a_slack_address_is_plain_text(sink):
    message(
        key="handoff:test:1",
        reason="handoff",
        kind="slack",
        address=sink.url + "/handoff",
        recipient="#oncall",
        subject="Handoff",
        body="Platform primary: <Bob> is on call now.",
    )
    deliver_due()
    [body] = sink.bodies("/handoff")
    assert body == {"text": "Platform primary: &lt;Bob&gt; is on call now."}
