"""Two-way Mattermost: slash commands verified by token, and message actions (issue 13)."""

import json
from datetime import timedelta

import pytest

from incidents.models import Incident, TeamChannel
from incidents.paging import sweep as timer_sweep
from incidents.paging.delivery import deliver_due
from incidents.paging.policies import StepInput, escalation_policy_create, team_channel_save
from tests.factories import ServiceFactory, make_incident, make_schedule
from tests.paging.chat_helpers import MATTERMOST_TOKEN, link, mattermost_command, person
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db

ALICE_ID = "ghdnkzrx7jfzbmwnhxiex1qkhe"


@pytest.fixture(autouse=True)
def _tokens(settings):
    settings.MATTERMOST_TOKENS = ["some-other-token", MATTERMOST_TOKEN]


@pytest.fixture
def alice():
    user = person("alice", "Alice", "Ng", "Responder")
    link(user, "mattermost", ALICE_ID)
    return user


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


def labels(incident) -> list[str]:
    return list(incident.timeline.values_list("actor_label", flat=True))


def test_ack_and_resolve_act_in_channel_and_name_the_person(client, alice):
    incident = make_incident()
    ack = mattermost_command(client, ALICE_ID, f"ack {incident.reference}").json()
    assert ack == {
        "response_type": "in_channel",
        "text": f"{incident.reference} acknowledged by Alice Ng via Mattermost.",
    }
    assert Incident.objects.get(pk=incident.pk).status == "acknowledged"
    again = mattermost_command(client, ALICE_ID, f"ack {incident.number}").json()
    assert again["response_type"] == "ephemeral"
    assert "acknowledged already by Alice Ng via Mattermost" in again["text"]
    resolve = mattermost_command(client, ALICE_ID, f"resolve {incident.reference}").json()
    assert resolve["response_type"] == "in_channel"
    incident.refresh_from_db()
    assert incident.status == "resolved"
    assert labels(incident).count("Alice Ng via Mattermost") >= 2


def test_oncall_incidents_help_and_page(client, alice):
    make_schedule(name="Platform primary", participants=[alice])
    oncall = mattermost_command(client, ALICE_ID, "oncall").json()
    assert oncall["response_type"] == "ephemeral"
    assert "Platform primary: Alice Ng (@alice)" in oncall["text"]
    open_one = make_incident(title="Queue backlog")
    listed = mattermost_command(client, ALICE_ID, "incidents").json()
    assert f"{open_one.reference} [P1] Triggered: Queue backlog" in listed["text"]
    assert mattermost_command(client, ALICE_ID, "help").json()["response_type"] == "ephemeral"
    max_ = person("max", "Max", "Power", "Incident manager")
    link(max_, "mattermost", "maxmaxmaxmaxmaxmaxmaxmaxmx")
    paged = mattermost_command(
        client, "maxmaxmaxmaxmaxmaxmaxmaxmx", "page Platform primary payments down"
    ).json()
    assert paged["response_type"] == "in_channel"
    incident = Incident.objects.get(title="payments down")
    assert "Max Power via Mattermost" in labels(incident)
    assert incident.responders.filter(user=alice).exists()


@pytest.mark.parametrize("token", ["wrong-token", ""], ids=["wrong", "missing"])
def test_a_command_without_a_known_token_is_refused_with_401(client, alice, token):
    incident = make_incident()
    answer = mattermost_command(client, ALICE_ID, f"ack {incident.reference}", token=token)
    assert answer.status_code == 401
    assert Incident.objects.get(pk=incident.pk).status == "triggered"


def test_no_tokens_configured_refuses_every_command(client, alice, settings):
    settings.MATTERMOST_TOKENS = []
    incident = make_incident()
    answer = mattermost_command(client, ALICE_ID, f"ack {incident.reference}")
    assert answer.status_code == 401
    assert Incident.objects.get(pk=incident.pk).status == "triggered"


def test_unlinked_user_and_viewer_are_refused(client, alice):
    incident = make_incident()
    events = incident.timeline.count()
    stranger = mattermost_command(client, "x" * 26, f"ack {incident.reference}").json()
    assert stranger["response_type"] == "ephemeral"
    assert "is not linked to a Tocsin user" in stranger["text"]
    vera = person("vera", "Vera", "View", "Viewer")
    link(vera, "mattermost", "v" * 26)
    viewer = mattermost_command(client, "v" * 26, f"ack {incident.reference}").json()
    assert viewer["response_type"] == "ephemeral"
    assert viewer["text"].startswith(f"You may not acknowledge {incident.reference}")
    incident.refresh_from_db()
    assert incident.status == "triggered"
    assert incident.timeline.count() == events


def page_channel(sink) -> tuple[Incident, dict]:
    channel = team_channel_save(
        channel=TeamChannel(name="ops", kind="mattermost", address=sink.url + "/hooks/abc")
    )
    policy = escalation_policy_create(
        name="Checkout", steps=[StepInput(delay=timedelta(0), targets=[channel])]
    )
    incident = make_incident(services=[ServiceFactory(slug="checkout", escalation_policy=policy)])
    timer_sweep.escalation_sweep(budget_seconds=5, grace_seconds=0)
    deliver_due()
    [body] = sink.bodies("/hooks/abc")
    return incident, body


def post_action(client, user_id: str, context: dict):
    body = {"user_id": user_id, "user_name": "someone", "channel_id": "c1", "context": context}
    return client.post("/chat/mattermost/actions", json.dumps(body), "application/json")


def test_a_page_carries_buttons_and_a_click_acknowledges_and_updates_the_message(
    client, alice, sink, settings
):
    incident, body = page_channel(sink)
    [attachment] = body["attachments"]
    assert attachment["title"] == f"{incident.reference}: {incident.title}"
    assert "Severity: P1 High" in attachment["text"]
    actions = {a["id"]: a for a in attachment["actions"]}
    assert list(actions) == ["acknowledge", "resolve", "escalate"]
    integration = actions["acknowledge"]["integration"]
    assert integration["url"] == settings.TOCSIN_BASE_URL + "/chat/mattermost/actions"
    assert integration["context"]["incident"] == incident.pk
    answer = post_action(client, ALICE_ID, integration["context"])
    assert answer.status_code == 200
    update = answer.json()["update"]
    assert update["message"] == f"{incident.reference} acknowledged by Alice Ng via Mattermost."
    [shown] = update["props"]["attachments"]
    assert "acknowledged by Alice Ng via Mattermost" in shown["text"]
    assert [a["id"] for a in shown["actions"]] == ["resolve"]
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    assert "Alice Ng via Mattermost" in labels(incident)


def test_a_click_without_our_token_is_refused_with_401(client, alice, sink):
    incident, body = page_channel(sink)
    actions = {a["id"]: a for a in body["attachments"][0]["actions"]}
    ack = actions["acknowledge"]["integration"]["context"]
    resolve_token = actions["resolve"]["integration"]["context"]["token"]
    for context in (
        {"action": "acknowledge", "incident": incident.pk},
        {**ack, "token": ack["token"][:-2] + "xx"},
        {**ack, "action": "resolve"},  # the token binds the action...
        {**ack, "incident": incident.pk + 1},  # ...and the incident
        {"action": "resolve", "incident": incident.pk + 1, "token": resolve_token},
    ):
        assert post_action(client, ALICE_ID, context).status_code == 401
    assert client.post("/chat/mattermost/actions", "{no", "application/json").status_code == 400
    assert Incident.objects.get(pk=incident.pk).status == "triggered"
