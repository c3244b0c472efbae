"""Paging by hand, telling new responders, the resolved notice and the email fallback."""

from datetime import timedelta

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from incidents.core.lifecycle import incident_acknowledge, incident_add_responder, incident_resolve
from incidents.models import Notification, Responder, TimelineEvent
from incidents.paging import sweep as timer_sweep
from incidents.paging.delivery import contact_method_create, deliver_due
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, make_incident, make_schedule
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db


def api_for(user) -> APIClient:
    _, key = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api(responder):
    return api_for(responder)


@pytest.fixture
def dba():
    return UserFactory(username="dana-dba", email="dana@example.com")


@pytest.fixture
def oncall():
    pat = UserFactory(username="pat", email="pat@example.com")
    return make_schedule(name="Database primary", participants=[pat])


def deliver():
    """The beat sweep, then what the delivery workers do with the rows it hands them."""
    counts = timer_sweep.escalation_sweep(budget_seconds=5, grace_seconds=0)
    deliver_due()
    return counts


def page_url(incident) -> str:
    return f"/api/v1/incidents/{incident.pk}/page/"


def test_page_people_and_schedules_answers_202_pages_them_now_and_adds_them(
    api, responder, dba, oncall, mailoutbox
):
    incident = make_incident()
    answer = api.post(
        page_url(incident),
        {"users": ["dana-dba"], "schedules": [oncall.pk], "message": "The primary is failing over"},
        format="json",
    )
    assert answer.status_code == 202, answer.json()
    assert answer.json()["paged"] == ["dana-dba", "pat"]
    assert set(answer.json()["responders"]) == {"dana-dba", "pat"}
    assert set(
        Responder.objects.filter(incident=incident).values_list("user__username", flat=True)
    ) == {
        "dana-dba",
        "pat",
    }
    deliver()
    assert sorted(m.to[0] for m in mailoutbox) == ["dana@example.com", "pat@example.com"]
    assert "The primary is failing over" in mailoutbox[0].body
    event = TimelineEvent.objects.get(incident=incident, message__contains="paged dana-dba, pat")
    assert event.actor == responder


def test_page_reaches_people_even_after_the_incident_was_acknowledged(api, dba, mailoutbox):
    incident = incident_acknowledge(incident=make_incident())
    assert api.post(page_url(incident), {"users": ["dana-dba"]}, format="json").status_code == 202
    deliver()
    assert [m.to for m in mailoutbox] == [["dana@example.com"]]


def test_page_someone_refusals_name_the_field_and_change_nothing(api, dba, viewer):
    incident = make_incident()
    before = Notification.objects.count(), Responder.objects.count()
    answer = api.post(page_url(incident), {"users": ["nobody-here"]}, format="json")
    assert answer.status_code == 400 and "nobody-here" in answer.json()["users"][0]
    answer = api.post(page_url(incident), {"schedules": [999999]}, format="json")
    assert answer.status_code == 400 and "999999" in answer.json()["schedules"][0]
    answer = api.post(page_url(incident), {"schedules": [10**30]}, format="json")
    assert answer.status_code == 400 and "schedules" in answer.json()
    answer = api.post(page_url(incident), {}, format="json")
    assert answer.status_code == 400 and "users" in answer.json()
    answer = api.post(page_url(incident), {"users": "dana-dba"}, format="json")
    assert answer.status_code == 400 and "users" in answer.json()
    answer = api_for(viewer).post(page_url(incident), {"users": ["dana-dba"]}, format="json")
    assert answer.status_code == 403
    assert (
        api.post(
            "/api/v1/incidents/999999/page/", {"users": ["dana-dba"]}, format="json"
        ).status_code
        == 404
    )
    assert (Notification.objects.count(), Responder.objects.count()) == before


def test_paging_on_a_resolved_incident_is_refused(api, dba):
    incident = incident_resolve(incident=make_incident())
    answer = api.post(page_url(incident), {"users": ["dana-dba"]}, format="json")
    assert answer.status_code == 409
    assert "reopen" in answer.json()["detail"]


def test_adding_a_responder_through_the_api_pages_them(api, dba, mailoutbox):
    incident = make_incident()
    answer = api.post(
        f"/api/v1/incidents/{incident.pk}/responders/", {"user": "dana-dba"}, format="json"
    )
    assert answer.status_code == 201, answer.json()
    deliver()
    assert [m.to for m in mailoutbox] == [["dana@example.com"]]
    assert "added you as a responder" in mailoutbox[0].body


def test_adding_yourself_as_a_responder_sends_nothing(responder, mailoutbox):
    incident = make_incident()
    incident_add_responder(incident=incident, user=responder, actor=responder)
    deliver()
    assert mailoutbox == []


def test_people_paged_hear_when_the_incident_resolves(mailoutbox):
    pat = UserFactory(username="pat", email="pat@example.com")
    lee = UserFactory(username="lee", email="lee@example.com")
    policy = escalation_policy_create(
        name="Checkout",
        steps=[
            StepInput(delay=timedelta(0), targets=[pat]),
            StepInput(delay=timedelta(minutes=15), targets=[lee]),
        ],
    )
    incident = make_incident(services=[ServiceFactory(slug="checkout", escalation_policy=policy)])
    deliver()
    assert [m.to for m in mailoutbox] == [["pat@example.com"]]
    incident_resolve(incident=incident)
    deliver()
    assert [m.to for m in mailoutbox[1:]] == [["pat@example.com"]]  # lee was never paged
    assert mailoutbox[1].subject == f"[Tocsin] {incident.reference} resolved: {incident.title}"
    assert Notification.objects.get(reason="resolved").status == "sent"


def test_failed_webhook_page_falls_back_to_the_account_email_and_shows_on_the_dashboard(
    admin_client, mailoutbox, settings
):
    settings.TOCSIN_NOTIFY_RETRY_SECONDS = 3600
    pat = UserFactory(username="pat", email="pat@example.com")
    with WebhookSink() as sink:
        sink.status = 500
        contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/pat")
        policy = escalation_policy_create(
            name="Checkout", steps=[StepInput(delay=timedelta(0), targets=[pat])]
        )
        incident = make_incident(
            services=[ServiceFactory(slug="checkout", escalation_policy=policy)]
        )
        deliver()
        assert len(sink.received) == 1
    assert [m.to for m in mailoutbox] == [["pat@example.com"]]
    assert incident.reference in mailoutbox[0].subject
    fallback = Notification.objects.get(incident=incident, kind="email")
    assert fallback.status == "sent"
    assert TimelineEvent.objects.filter(
        incident=incident, message__startswith="Every way to reach pat failed"
    ).exists()
    home = admin_client.get("/admin/").content.decode()
    assert "page failing" in home


def test_no_fallback_when_the_person_has_an_email_method_too(mailoutbox):
    pat = UserFactory(username="pat", email="pat@example.com")
    with WebhookSink() as sink:
        sink.status = 500
        contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/pat")
        contact_method_create(user=pat, kind="email", address="pat.pager@example.com")
        policy = escalation_policy_create(
            name="Checkout", steps=[StepInput(delay=timedelta(0), targets=[pat])]
        )
        make_incident(services=[ServiceFactory(slug="checkout", escalation_policy=policy)])
        deliver()
    assert [m.to for m in mailoutbox] == [["pat.pager@example.com"]]
