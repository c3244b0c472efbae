"""Saved addresses are write-only: shown once when saved, masked for everyone afterwards."""

from datetime import timedelta

import pytest
from django.urls import reverse

from incidents.models import ContactMethod, Notification, TeamChannel, TimelineEvent
from incidents.paging import engine as escalation
from incidents.paging.delivery import contact_method_create, notification_deliver
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.api.test_escalation_api import client_for
from tests.factories import ServiceFactory, UserFactory, make_incident, make_schedule
from tests.paging.test_outbound import schedule_with_handoff_to
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db

SLACK = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"
MASKED = "https://hooks.slack.com/…/••••"


def test_team_channel_address_is_shown_once_then_masked_for_everyone(admin_client, viewer, client):
    answer = admin_client.post(
        reverse("admin:incidents_teamchannel_add"),
        {"name": "#checkout", "kind": "webhook", "address": SLACK},
        follow=True,
    )
    assert SLACK in answer.content.decode()  # the message right after saving
    channel = TeamChannel.objects.get()
    assert channel.address == SLACK
    client.force_login(viewer)
    for who in (admin_client, client):
        for url in (
            reverse("admin:incidents_teamchannel_changelist"),
            reverse("admin:incidents_teamchannel_change", args=[channel.pk]),
        ):
            page = who.get(url)
            assert page.status_code == 200
            text = page.content.decode()
            assert "XXXXsecretXXXX" not in text and MASKED in text


def test_team_channel_address_left_empty_is_kept_and_a_new_one_replaces_it(admin_client):
    channel = TeamChannel.objects.create(name="#checkout", kind="webhook", address=SLACK)
    url = reverse("admin:incidents_teamchannel_change", args=[channel.pk])
    kept = admin_client.post(url, {"name": "#checkout-oncall", "kind": "webhook", "address": ""})
    assert kept.status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.address) == ("#checkout-oncall", SLACK)
    new = "https://hooks.slack.com/services/T000/B000/rotated"
    answer = admin_client.post(
        url, {"name": "#checkout-oncall", "kind": "webhook", "address": new}, follow=True
    )
    channel.refresh_from_db()
    assert channel.address == new and new in answer.content.decode()


def test_team_channel_search_does_not_match_on_the_secret(admin_client):
    TeamChannel.objects.create(name="#checkout", kind="webhook", address=SLACK)
    answer = admin_client.get(
        reverse("admin:incidents_teamchannel_changelist"), {"q": "XXXXsecret"}
    )
    assert "#checkout" not in answer.content.decode()


def test_handoff_channel_and_contact_method_are_masked_for_everyone(admin_client, viewer, client):
    pat = UserFactory(username="pat")
    schedule = make_schedule(name="Primary", participants=[pat])
    schedule.handoff_channels.create(kind="webhook", address=SLACK)
    method = contact_method_create(user=pat, kind="webhook", address=SLACK)
    client.force_login(viewer)
    for who in (admin_client, client):
        for url in (
            reverse("admin:incidents_schedule_change", args=[schedule.pk]),
            reverse("admin:incidents_contactmethod_changelist"),
            reverse("admin:incidents_contactmethod_change", args=[method.pk]),
        ):
            answer = who.get(url)
            text = answer.content.decode()
            assert "XXXXsecretXXXX" not in text, url
            if who is admin_client:  # a viewer may see neither contact methods nor channels
                assert answer.status_code == 200 and MASKED in text, url


def test_delivery_log_and_timeline_mask_every_address(admin_client, viewer, client):
    with WebhookSink() as sink:
        pat = UserFactory(username="pat", email="pat.private@example.com")
        contact_method_create(user=pat, kind="email", address="pat.private@example.com")
        secret = f"{sink.url}/hooks/T0/secret-token"
        channel = TeamChannel.objects.create(name="#ops", kind="webhook", address=secret)
        policy = escalation_policy_create(
            name="Page", steps=[StepInput(delay=timedelta(0), targets=[pat, channel])]
        )
        service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
        incident = make_incident(title="Checkout down", services=[service])
        state = escalation.escalation_start(incident_id=incident.pk)
        escalation.escalation_fire_step(escalation_id=state.pk)
        for row in Notification.objects.all():
            assert notification_deliver(notification_id=row.pk) == "sent"
    client.force_login(viewer)
    pages = [reverse("admin:incidents_notification_changelist")]
    pages += [
        reverse("admin:incidents_notification_change", args=[pk])
        for pk in Notification.objects.values_list("pk", flat=True)
    ]
    pages.append(reverse("admin:incidents_incident_change", args=[incident.pk]))
    for who in (admin_client, client):
        for url in pages:
            answer = who.get(url)
            assert answer.status_code == 200, url
            text = answer.content.decode()
            assert "secret-token" not in text and "pat.private" not in text, url
    messages = " ".join(TimelineEvent.objects.values_list("message", flat=True))
    assert "p••••@example.com" in messages and "secret-token" not in messages


def test_api_shows_a_contact_method_address_once_then_masked(manager):
    UserFactory(username="pat")
    api = client_for(manager)
    created = api.post(
        "/api/v1/users/pat/contact-methods/",
        {"kind": "webhook", "address": SLACK},
        format="json",
    )
    assert created.status_code == 201 and created.json()["address"] == SLACK
    assert ContactMethod.objects.get().address == SLACK
    listed = api.get("/api/v1/users/pat/contact-methods/").json()
    assert [m["address"] for m in listed] == [MASKED]


def test_api_masks_handoff_channels_after_the_answer_that_saves_them(manager):
    api = client_for(manager)
    body = schedule_with_handoff_to(SLACK)
    created = api.post("/api/v1/schedules/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["handoff_notify"] == [{"kind": "webhook", "address": SLACK}]
    shown = api.get(f"/api/v1/schedules/{created.json()['id']}/").json()
    assert shown["handoff_notify"] == [{"kind": "webhook", "address": MASKED}]
    listed = api.get("/api/v1/schedules/").json()["results"]
    assert listed[0]["handoff_notify"] == [{"kind": "webhook", "address": MASKED}]
