"""Apprise contact methods (issue 13): checked on save by Apprise's own parsing and the outbound
policy, masked after saving in every page and answer, and "Send test notification"."""

import re

import pytest
from django.urls import reverse

from incidents.models import ContactMethod, Notification, TeamChannel
from incidents.paging import delivery
from incidents.paging.delivery import contact_method_create
from tests.factories import UserFactory, api_client_for
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db

TELEGRAM = "tgram://123456789:AAsecretBotTokenXXXXXXXXXXXXXXXXXX/4242"


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


@pytest.fixture
def pat():
    return UserFactory(username="pat", email="pat@example.com")


@pytest.mark.parametrize(
    ("address", "says"),
    [
        ("pigeon://loft/42", "Unknown Apprise scheme pigeon://"),
        ("no scheme at all", "Not an Apprise URL"),
        ("tgram://notatoken/1", "Invalid tgram:// URL: Unparseable Telegram URL"),
        ("gotify://push.example.com", "An invalid Gotify Token"),
        ("discord://", "An invalid Discord Webhook ID"),
        ("json://169.254.169.254/latest", "link-local or cloud-metadata"),
        ("ntfy://10.1.2.3/topic", "private, loopback or reserved"),
        ("mmost://metadata.google.internal/abcdefghijk", "cloud-metadata address"),
    ],
)
def test_bad_apprise_url_answers_400_naming_address(manager, pat, address, says):
    api = api_client_for(manager)
    answer = api.post(
        "/api/v1/users/pat/contact-methods/", {"kind": "apprise", "address": address}, "json"
    )
    assert answer.status_code == 400
    assert says in " ".join(answer.json()["address"])
    assert not ContactMethod.objects.exists()


@pytest.mark.parametrize("kind", ["slack", "mattermost"])
def test_a_person_cannot_have_a_slack_or_mattermost_method(manager, pat, kind):
    api = api_client_for(manager)
    answer = api.post(
        "/api/v1/users/pat/contact-methods/",
        {"kind": kind, "address": "https://chat.example.com/hooks/x"},
        "json",
    )
    assert answer.status_code == 400
    assert "for team channels" in " ".join(answer.json()["kind"])
    assert not ContactMethod.objects.exists()


def test_admin_form_names_the_problem(admin_client, pat):
    answer = admin_client.post(
        reverse("admin:incidents_contactmethod_add"),
        {
            "user": pat.pk,
            "kind": "apprise",
            "address": "pigeon://loft/42",
            "label": "",
            "rules-TOTAL_FORMS": "0",
            "rules-INITIAL_FORMS": "0",
        },
    )
    assert answer.status_code == 200
    assert "Unknown Apprise scheme pigeon://" in answer.content.decode()
    assert 'value="apprise"' in answer.content.decode()
    assert 'value="mattermost"' not in answer.content.decode()
    assert not ContactMethod.objects.exists()


def test_my_paging_refuses_a_bad_url_and_offers_no_slack_kind(client, responder):
    client.force_login(responder)
    answer = client.post(
        reverse("my-paging-method-add"), {"kind": "apprise", "address": "gotify://x.example.com"}
    )
    assert answer.status_code == 200
    page = answer.content.decode()
    assert "An invalid Gotify Token" in page
    # The contact method's kind picker (the page's chat-identity form offers Slack, rightly).
    kinds = re.search(r'<select name="kind".*?</select>', page, re.S).group(0)
    assert 'value="apprise"' in kinds
    assert 'value="slack"' not in kinds
    assert 'value="mattermost"' not in kinds
    assert not ContactMethod.objects.exists()


def test_team_channels_accept_slack_and_mattermost_checked_like_webhooks(admin_client):
    answer = admin_client.post(
        reverse("admin:incidents_teamchannel_add"),
        {"name": "#ops", "kind": "mattermost", "address": "ftp://chat.example.com/x"},
    )
    assert answer.status_code == 200 and "expected an http(s) URL" in answer.content.decode()
    channel = TeamChannel(name="#ops", kind="slack", address="https://hooks.slack.com/T/B/x")
    channel.save()
    assert TeamChannel.objects.filter(kind="slack").count() == 1


def test_the_url_is_shown_once_then_masked_everywhere(manager, pat, admin_client, client):
    api = api_client_for(manager)
    answer = api.post(
        "/api/v1/users/pat/contact-methods/", {"kind": "apprise", "address": TELEGRAM}, "json"
    )
    assert answer.status_code == 201 and answer.json()["address"] == TELEGRAM
    method = ContactMethod.objects.get()
    assert [m["address"] for m in api.get("/api/v1/users/pat/contact-methods/").json()] == [
        "tgram://••••"
    ]
    pages = [
        reverse("admin:incidents_contactmethod_changelist"),
        reverse("admin:incidents_contactmethod_change", args=[method.pk]),
        reverse("admin:incidents_configchange_changelist"),
    ]
    for url in pages:
        text = admin_client.get(url).content.decode()
        assert "AAsecretBotToken" not in text and "123456789" not in text, url
        assert "tgram://••••" in text, url
    client.force_login(pat)
    pat.is_staff = True
    pat.save()
    for url in (reverse("my-paging"), reverse("my-paging-method-edit", args=[method.pk])):
        text = client.get(url).content.decode()
        assert "AAsecretBotToken" not in text and "tgram://••••" in text, url


def test_editing_in_my_paging_keeps_the_saved_url_when_left_empty(client, responder, sink):
    port = sink.server.server_address[1]
    method = contact_method_create(
        user=responder, kind="apprise", address=f"json://127.0.0.1:{port}/a"
    )
    client.force_login(responder)
    answer = client.post(
        reverse("my-paging-method-edit", args=[method.pk]),
        {"kind": "apprise", "address": "", "label": "phone"},
    )
    assert answer.status_code == 302
    method.refresh_from_db()
    assert (method.address, method.label) == (f"json://127.0.0.1:{port}/a", "phone")


def test_admin_action_queues_a_test_that_is_delivered(admin_client, pat, sink):
    port = sink.server.server_address[1]
    method = contact_method_create(user=pat, kind="apprise", address=f"json://127.0.0.1:{port}/pat")
    answer = admin_client.post(
        reverse("admin:incidents_contactmethod_changelist"),
        {"action": "send_test", "_selected_action": [method.pk]},
        follow=True,
    )
    text = answer.content.decode()
    assert "Queued a test notification to json://••••" in text and "delivery log" in text
    row = Notification.objects.get(reason="test")
    assert (row.status, row.contact_method_id, row.user_id) == ("queued", method.pk, pat.pk)

    assert delivery.deliver_due() == 1

    [body] = sink.bodies("/pat")
    assert body["title"] == "Tocsin test notification for pat"
    assert "This is a test notification from Tocsin" in body["message"]
    row.refresh_from_db()
    assert row.status == "sent"


def test_my_paging_button_sends_a_test_to_ones_own_method(client, responder, sink):
    port = sink.server.server_address[1]
    method = contact_method_create(
        user=responder, kind="apprise", address=f"ntfy://127.0.0.1:{port}/me"
    )
    client.force_login(responder)
    page = client.get(reverse("my-paging")).content.decode()
    assert reverse("my-paging-method-test", args=[method.pk]) in page
    answer = client.post(reverse("my-paging-method-test", args=[method.pk]), follow=True)
    assert "Queued a test notification" in answer.content.decode()
    delivery.deliver_due()
    [body] = sink.bodies("/")
    assert body["topic"] == "me" and "test notification" in body["message"]


def test_api_test_answers_202_for_ones_own_and_403_for_someone_elses(responder, pat, sink):
    port = sink.server.server_address[1]
    own = contact_method_create(
        user=responder, kind="apprise", address=f"json://127.0.0.1:{port}/r"
    )
    other = contact_method_create(user=pat, kind="apprise", address=f"json://127.0.0.1:{port}/p")
    api = api_client_for(responder)

    answer = api.post(f"/api/v1/users/{responder.username}/contact-methods/{own.pk}/test/")
    assert answer.status_code == 202
    row = Notification.objects.get(pk=answer.json()["notification"])
    assert (row.reason, row.address, answer.json()["status"]) == ("test", own.address, "queued")

    refused = api.post(f"/api/v1/users/pat/contact-methods/{other.pk}/test/")
    assert refused.status_code == 403
    missing = api.post(f"/api/v1/users/{responder.username}/contact-methods/{other.pk}/test/")
    assert missing.status_code == 404
    assert (
        api.get(f"/api/v1/users/{responder.username}/contact-methods/{own.pk}/test/").status_code
        == 405
    )
    assert Notification.objects.filter(reason="test").count() == 1
    delivery.deliver_due()
    assert len(sink.bodies("/r")) == 1 and sink.bodies("/p") == []


def test_contact_method_list_filters_by_the_kinds_a_person_can_have(admin_client):
    kim = UserFactory(username="kim")
    contact_method_create(user=kim, kind="apprise", address="ntfy://ntfy.example.com/kim")
    page = admin_client.get(reverse("admin:incidents_contactmethod_changelist"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "?kind=apprise" in text and "?kind=email" in text
    assert "?kind=slack" not in text and "?kind=mattermost" not in text
    filtered = admin_client.get(
        reverse("admin:incidents_contactmethod_changelist"), {"kind": "email"}
    )
    assert "0 contact methods" in filtered.content.decode()
