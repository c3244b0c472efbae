"""The incidents REST API as scripts use it: token auth, filters, create, moves, updates."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from knox.models import AuthToken
from rest_framework.test import APIClient

from incidents.core.choices import TimelineKind
from incidents.models import Incident, StatusUpdate, TimelineEvent
from tests.factories import ServiceFactory, UserFactory, make_incident

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    _, key = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def api(manager):
    return client_for(manager)


def test_requests_without_a_token_get_401(db):
    answer = APIClient().get("/api/v1/incidents/")
    assert answer.status_code == 401
    assert "detail" in answer.json()


def test_a_wrong_token_gets_401(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 64)
    assert client.get("/api/v1/incidents/").status_code == 401


def test_create_incident_answers_201_with_number_and_triggered(api, manager):
    ServiceFactory(name="Checkout", slug="checkout")
    answer = api.post(
        "/api/v1/incidents/",
        {"title": "Checkout down", "severity": "P1", "service": "checkout", "summary": "502s"},
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["status"] == "triggered"
    assert body["severity"] == "P1"
    assert body["services"] == ["checkout"]
    assert body["reference"] == f"INC-{body['number']}"
    incident = Incident.objects.get(pk=body["id"])
    created = incident.timeline.get(kind=TimelineKind.CREATED)
    assert created.actor == manager


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"severity": "P1"}, "title"),
        ({"title": "x"}, "severity"),
        ({"title": "x", "severity": "P9"}, "severity"),
        ({"title": "x", "severity": "P1", "service": "nope"}, "service"),
        ({"title": "", "severity": "P1"}, "title"),
        ({"title": "x" * 300, "severity": "P1"}, "title"),
        ({"title": "x", "severity": "P1", "started_at": "yesterday"}, "started_at"),
    ],
)
def test_bad_create_input_gets_400_naming_the_field_and_writes_nothing(api, payload, field):
    answer = api.post("/api/v1/incidents/", payload)
    assert answer.status_code == 400
    assert field in answer.json()
    assert not Incident.objects.exists()


def test_malformed_json_gets_400(api):
    answer = api.generic("POST", "/api/v1/incidents/", "{not json", content_type="application/json")
    assert answer.status_code == 400
    assert "detail" in answer.json()


def test_list_filters_by_status_severity_and_service(api):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    a = make_incident(title="A", severity_key="P0", services=[checkout])
    b = make_incident(title="B", severity_key="P2")
    from incidents.core.lifecycle import incident_resolve

    incident_resolve(incident=b)

    def titles(query):
        answer = api.get("/api/v1/incidents/" + query)
        assert answer.status_code == 200
        return [row["title"] for row in answer.json()["results"]]

    assert titles("?status=resolved") == ["B"]
    assert titles("?status=open") == ["A"]
    assert titles("?status=triggered&status=resolved") == ["B", "A"]
    assert titles("?severity=P0") == ["A"]
    assert titles("?severity=p0") == ["A"]
    assert titles("?service=checkout") == ["A"]
    assert a.pk != b.pk


def test_list_rejects_an_unknown_status(api):
    answer = api.get("/api/v1/incidents/?status=sleeping")
    assert answer.status_code == 400
    assert "status" in answer.json()


def test_list_is_paginated(api):
    for n in range(3):
        make_incident(title=f"I{n}")
    body = api.get("/api/v1/incidents/?page_size=2").json()
    assert body["count"] == 3
    assert {"next", "previous", "results"} <= set(body)


@pytest.mark.parametrize("rows", [5, 50])
def test_list_runs_a_fixed_number_of_queries(api, rows, django_assert_max_num_queries):
    service = ServiceFactory()
    commander = UserFactory()
    for n in range(rows):
        make_incident(title=f"I{n}", services=[service], commander=commander)
    # token + user, knox's token list, user and group permissions, count, page, services
    with django_assert_max_num_queries(7):
        answer = api.get("/api/v1/incidents/")
    assert answer.status_code == 200
    assert len(answer.json()["results"]) == rows


def test_acknowledge_then_resolve(api, manager):
    incident = make_incident()
    answer = api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert answer.status_code == 200
    assert answer.json()["status"] == "acknowledged"
    assert api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/").json()["status"] == (
        "acknowledged"
    )
    answer = api.post(f"/api/v1/incidents/{incident.pk}/resolve/")
    assert answer.status_code == 200
    assert answer.json()["status"] == "resolved"
    assert answer.json()["resolved_at"]
    moves = incident.timeline.filter(kind=TimelineKind.STATUS)
    assert [e.actor for e in moves] == [manager, manager]


def test_acknowledging_a_resolved_incident_answers_409_with_detail(api):
    incident = make_incident()
    api.post(f"/api/v1/incidents/{incident.pk}/resolve/")
    answer = api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    assert answer.status_code == 409
    assert "cannot move to acknowledged" in answer.json()["detail"]


def test_status_endpoint_moves_and_refuses(api):
    incident = make_incident()
    answer = api.post(f"/api/v1/incidents/{incident.pk}/status/", {"status": "monitoring"})
    assert answer.status_code == 200
    assert answer.json()["status"] == "monitoring"
    assert answer.json()["acknowledged_at"]
    answer = api.post(f"/api/v1/incidents/{incident.pk}/status/", {"status": "triggered"})
    assert answer.status_code == 409
    answer = api.post(f"/api/v1/incidents/{incident.pk}/status/", {"status": "asleep"})
    assert answer.status_code == 400
    assert "status" in answer.json()


def test_reopen_through_status_needs_a_reason(api):
    incident = make_incident()
    api.post(f"/api/v1/incidents/{incident.pk}/resolve/")
    answer = api.post(f"/api/v1/incidents/{incident.pk}/status/", {"status": "investigating"})
    assert answer.status_code == 400
    assert "reason" in answer.json()
    answer = api.post(
        f"/api/v1/incidents/{incident.pk}/status/",
        {"status": "investigating", "reason": "Errors returned"},
    )
    assert answer.status_code == 200
    assert answer.json()["status"] == "investigating"


def test_unknown_incident_is_404(api):
    assert api.post("/api/v1/incidents/999999/acknowledge/").status_code == 404
    assert api.get("/api/v1/incidents/999999/").status_code == 404


def test_post_update_201_and_listed(api, manager):
    incident = make_incident()
    answer = api.post(
        f"/api/v1/incidents/{incident.pk}/updates/",
        {"message": "Rolling back the deploy", "public": True, "status": "identified"},
    )
    assert answer.status_code == 201, answer.content
    assert answer.json()["public"] is True
    assert answer.json()["author"] == manager.username
    incident.refresh_from_db()
    assert incident.status == "identified"
    listed = api.get(f"/api/v1/incidents/{incident.pk}/updates/").json()
    assert [u["message"] for u in listed] == ["Rolling back the deploy"]


def test_post_update_without_message_is_400_and_writes_nothing(api):
    incident = make_incident()
    answer = api.post(f"/api/v1/incidents/{incident.pk}/updates/", {"status": "resolved"})
    assert answer.status_code == 400
    assert "message" in answer.json()
    assert not StatusUpdate.objects.exists()
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_timeline_lists_every_change_with_actor(api, manager):
    incident = make_incident()
    api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/")
    rows = api.get(f"/api/v1/incidents/{incident.pk}/timeline/").json()
    # Tocsin's own escalation note sits between them ("no escalation policy applies").
    assert [r["kind"] for r in rows] == ["created", "escalation", "status"]
    assert rows[-1]["user"] == manager.username


def test_viewer_reads_but_cannot_acknowledge_or_create(viewer):
    api = client_for(viewer)
    incident = make_incident()
    rows = TimelineEvent.objects.filter(incident=incident).count()
    assert api.get("/api/v1/incidents/").status_code == 200
    assert api.get(f"/api/v1/incidents/{incident.pk}/").status_code == 200
    assert api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/").status_code == 403
    assert api.post("/api/v1/incidents/", {"title": "x", "severity": "P1"}).status_code == 403
    assert (
        api.post(f"/api/v1/incidents/{incident.pk}/updates/", {"message": "hi"}).status_code == 403
    )
    incident.refresh_from_db()
    assert incident.status == "triggered"
    assert TimelineEvent.objects.filter(incident=incident).count() == rows


def test_responder_acknowledges_but_cannot_create_services(responder):
    api = client_for(responder)
    incident = make_incident()
    assert api.post(f"/api/v1/incidents/{incident.pk}/acknowledge/").status_code == 200
    assert api.post("/api/v1/services/", {"name": "X", "slug": "x"}).status_code == 403


def test_user_without_group_cannot_read(db):
    api = client_for(UserFactory(username="nobody"))
    assert api.get("/api/v1/incidents/").status_code == 403


def test_create_service_201_with_id(api):
    answer = api.post("/api/v1/services/", {"name": "Payments", "slug": "payments"})
    assert answer.status_code == 201
    assert answer.json()["id"]
    dup = api.post("/api/v1/services/", {"name": "Payments", "slug": "payments"})
    assert dup.status_code == 400
    assert "slug" in dup.json()


def test_add_responder(api):
    incident = make_incident()
    UserFactory(username="bob")
    answer = api.post(
        f"/api/v1/incidents/{incident.pk}/responders/", {"user": "bob", "role": "scribe"}
    )
    assert answer.status_code == 201
    assert answer.json()["responders"] == [
        {"user": "bob", "role": "scribe", "added_at": answer.json()["responders"][0]["added_at"]}
    ]
    assert api.post(f"/api/v1/incidents/{incident.pk}/responders/", {"user": "ghost"}).json()


def test_groups_exist_after_migrate(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {
        "Viewer",
        "Responder",
        "Incident manager",
    }


def test_public_update_sets_the_public_title(api):
    incident = make_incident(title="pgbouncer OOM")
    answer = api.post(
        f"/api/v1/incidents/{incident.pk}/updates/",
        {"message": "Checkout is failing", "public": True, "public_title": "Checkout errors"},
    )
    assert answer.status_code == 201
    incident.refresh_from_db()
    assert incident.public_title == "Checkout errors"
    internal = api.post(
        f"/api/v1/incidents/{incident.pk}/updates/", {"message": "x", "public_title": "Leak"}
    )
    assert internal.status_code == 400
    assert "public_title" in internal.json()


def test_detail_shows_where_paging_stands(api):
    from incidents.paging.policies import StepInput, escalation_policy_create

    oncall = UserFactory(username="pat")
    policy = escalation_policy_create(
        name="Checkout", steps=[StepInput(delay=timedelta(0), targets=[oncall])]
    )
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
    paged = make_incident(services=[service])
    body = api.get(f"/api/v1/incidents/{paged.pk}/").json()
    assert body["escalation"]["policy_name"] == "Checkout"
    assert body["escalation"]["state"] == "active"
    assert body["escalation"]["step"] == 1  # counted from 1, as in the escalate answer
    assert body["acknowledge_breached_at"] is None
    api.post(f"/api/v1/incidents/{paged.pk}/acknowledge/")
    assert api.get(f"/api/v1/incidents/{paged.pk}/").json()["escalation"]["state"] == (
        "acknowledged"
    )
    unpaged = make_incident()  # no policy applies
    assert api.get(f"/api/v1/incidents/{unpaged.pk}/").json()["escalation"] is None
