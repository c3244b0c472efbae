"""Escalation over the REST API: policies, contact methods, services' policy, escalate now."""

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from incidents.models import (
    ContactMethod,
    EscalationPolicy,
    Notification,
    NotificationRule,
    Service,
)
from incidents.paging import engine as escalation
from tests.factories import UserFactory, make_incident, make_schedule

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    _, key = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api(manager):
    return client_for(manager)


@pytest.fixture
def schedule():
    return make_schedule(name="Checkout primary", participants=[UserFactory(username="pat")])


def policy_body(schedule, **overrides):
    UserFactory(username="lee")
    body = {
        "name": "Checkout",
        "repeat": 2,
        "steps": [
            {"delay_seconds": 0, "targets": [{"type": "schedule", "id": schedule.pk}]},
            {"delay_seconds": 900, "targets": [{"type": "user", "username": "lee"}]},
        ],
    }
    return {**body, **overrides}


def test_create_policy_answers_201_with_id_and_steps(api, schedule):
    answer = api.post("/api/v1/escalation-policies/", policy_body(schedule), format="json")
    assert answer.status_code == 201, answer.json()
    body = answer.json()
    policy = EscalationPolicy.objects.get(pk=body["id"])
    assert (policy.name, policy.repeat) == ("Checkout", 2)
    assert [s["delay_seconds"] for s in body["steps"]] == [0, 900]
    assert body["steps"][0]["targets"] == [
        {"type": "schedule", "id": schedule.pk, "name": "Checkout primary", "username": None}
    ]
    assert body["steps"][1]["targets"][0]["username"] == "lee"
    assert api.get(f"/api/v1/escalation-policies/{body['id']}/").json() == body


def test_policy_list_runs_a_fixed_number_of_queries(api, schedule, django_assert_max_num_queries):
    for n in range(5):
        api.post("/api/v1/escalation-policies/", policy_body(schedule, name=f"P{n}"), format="json")
    with django_assert_max_num_queries(10):
        assert api.get("/api/v1/escalation-policies/").json()["count"] == 5
    for n in range(5, 50):
        api.post("/api/v1/escalation-policies/", policy_body(schedule, name=f"P{n}"), format="json")
    with django_assert_max_num_queries(10):
        assert api.get("/api/v1/escalation-policies/").json()["count"] == 50


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"delay_seconds": 0, "targets": [{"type": "schedule", "id": 999999}]}, "id"),
        ({"delay_seconds": 0, "targets": [{"type": "user", "username": "nobody"}]}, "username"),
        ({"delay_seconds": -5, "targets": [{"type": "user", "username": "lee"}]}, "delay_seconds"),
        ({"delay_seconds": 0, "targets": []}, "targets"),
        ({"delay_seconds": 0, "targets": [{"type": "pager"}]}, "type"),
    ],
)
def test_bad_step_answers_400_naming_the_field_and_creates_nothing(api, schedule, step, field):
    answer = api.post(
        "/api/v1/escalation-policies/", policy_body(schedule, steps=[step]), format="json"
    )
    assert answer.status_code == 400
    errors = answer.json()["steps"][0]
    if field in ("delay_seconds", "targets"):
        assert field in errors
    else:
        assert field in errors["targets"][0]
    assert not EscalationPolicy.objects.exists()


def test_duplicate_policy_name_answers_400_on_name(api, schedule):
    api.post("/api/v1/escalation-policies/", policy_body(schedule), format="json")
    answer = api.post("/api/v1/escalation-policies/", policy_body(schedule), format="json")
    assert answer.status_code == 400 and "name" in answer.json()


def test_viewer_cannot_create_policies(viewer, schedule):
    answer = client_for(viewer).post(
        "/api/v1/escalation-policies/", policy_body(schedule), format="json"
    )
    assert answer.status_code == 403
    assert client_for(viewer).get("/api/v1/escalation-policies/").status_code == 200


def test_service_takes_an_escalation_policy(api, schedule):
    policy_id = api.post(
        "/api/v1/escalation-policies/", policy_body(schedule), format="json"
    ).json()["id"]
    answer = api.post(
        "/api/v1/services/",
        {"name": "Checkout", "slug": "checkout", "escalation_policy": policy_id},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["escalation_policy"] == policy_id
    assert Service.objects.get(slug="checkout").escalation_policy_id == policy_id
    bad = api.post(
        "/api/v1/services/",
        {"name": "Search", "slug": "search", "escalation_policy": 999999},
        format="json",
    )
    assert bad.status_code == 400 and "escalation_policy" in bad.json()


def test_add_contact_method_answers_201(api):
    UserFactory(username="pat")
    answer = api.post(
        "/api/v1/users/pat/contact-methods/",
        {"kind": "webhook", "address": "https://hooks.example.com/T0/B0/x"},
        format="json",
    )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["kind"] == "webhook" and answer.json()["user"] == "pat"
    assert ContactMethod.objects.filter(user__username="pat").count() == 1
    # Shown in full once, in the answer that saves it; masked afterwards.
    assert answer.json()["address"] == "https://hooks.example.com/T0/B0/x"
    listed = api.get("/api/v1/users/pat/contact-methods/").json()
    assert [m["address"] for m in listed] == ["https://hooks.example.com/…/••••"]


def test_contact_method_with_delay_adds_a_personal_rule(api):
    UserFactory(username="pat")
    api.post(
        "/api/v1/users/pat/contact-methods/",
        {"kind": "email", "address": "pat@example.com", "notify_after_seconds": 120},
        format="json",
    )
    rule = NotificationRule.objects.get(user__username="pat")
    assert rule.delay.total_seconds() == 120


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "webhook", "address": "ftp://example.com/x"}, "address"),
        ({"kind": "webhook", "address": "javascript:alert(1)"}, "address"),
        ({"kind": "email", "address": "not an email"}, "address"),
        ({"kind": "pigeon", "address": "x"}, "kind"),
    ],
)
def test_bad_contact_method_answers_400(api, body, field):
    UserFactory(username="pat")
    answer = api.post("/api/v1/users/pat/contact-methods/", body, format="json")
    assert answer.status_code == 400 and field in answer.json()
    assert not ContactMethod.objects.exists()


def test_unknown_user_contact_methods_answer_404(api):
    answer = api.post(
        "/api/v1/users/ghost/contact-methods/",
        {"kind": "email", "address": "g@example.com"},
        format="json",
    )
    assert answer.status_code == 404


def test_people_manage_their_own_contact_methods_but_not_others(responder):
    UserFactory(username="pat")
    client = client_for(responder)
    own = client.post(
        f"/api/v1/users/{responder.username}/contact-methods/",
        {"kind": "email", "address": "rita@example.com"},
        format="json",
    )
    assert own.status_code == 201
    other = client.post(
        "/api/v1/users/pat/contact-methods/",
        {"kind": "email", "address": "x@example.com"},
        format="json",
    )
    assert other.status_code == 403
    assert not ContactMethod.objects.filter(user__username="pat").exists()


def test_escalate_now_pages_the_next_step(api, schedule, responder):
    policy_id = api.post(
        "/api/v1/escalation-policies/", policy_body(schedule), format="json"
    ).json()["id"]
    service = Service.objects.create(
        name="Checkout", slug="checkout", escalation_policy_id=policy_id
    )
    incident = make_incident(services=[service])
    state = escalation.escalation_start(incident_id=incident.pk)
    escalation.escalation_fire_step(escalation_id=state.pk)
    answer = client_for(responder).post(f"/api/v1/incidents/{incident.pk}/escalate/")
    assert answer.status_code == 200, answer.json()
    assert answer.json()["state"] == "active"
    assert answer.json()["step"] == 1 and answer.json()["round"] == 2
    assert Notification.objects.filter(incident=incident, recipient="lee").exists()


def test_escalate_now_without_escalation_answers_400(api):
    incident = make_incident()
    answer = api.post(f"/api/v1/incidents/{incident.pk}/escalate/")
    assert answer.status_code == 400 and "detail" in answer.json()


def test_escalate_now_needs_the_permission(viewer):
    incident = make_incident()
    assert client_for(viewer).post(f"/api/v1/incidents/{incident.pk}/escalate/").status_code == 403
