"""Inputs the fuzzer found answered with a 500 or accepted against the schema: each is now a
4xx naming the field (or a JSON 404), and changes nothing."""

import json

import pytest
from django.contrib.auth.models import Group
from knox.models import AuthToken
from rest_framework.test import APIClient

from incidents.models import Alert, Incident, Service
from postmortems.services import postmortem_draft
from tests.factories import (
    ServiceFactory,
    UserFactory,
    make_incident,
    make_integration,
    make_schedule,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(db):
    user = UserFactory(username="scripted", is_superuser=True)
    user.groups.add(Group.objects.get(name="Incident manager"))
    _, key = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/incidents/?detected_before=0001-01-01T00:00:00%2B19:48", "detected_before"),
        ("/api/v1/incidents/?detected_after=9999-12-31T00:00:00Z", "detected_after"),
        ("/api/v1/reports/response-times/?since=0001-01-01T00:00:00%2B19:48", "since"),
        ("/api/v1/reports/response-times/?until=9999-12-31", "until"),
        ("/api/v1/reports/response-times/?until=2026-02-30", "until"),
        ("/api/v1/schedules/{schedule}/oncall/?at=0001-01-01T00:00:00%2B19:48", "at"),
        ("/api/v1/schedules/{schedule}/oncall/?at=9999-12-31T23:59:00-10:00", "at"),
    ],
)
def test_instants_out_of_range_are_400_naming_the_parameter(api, url, field):
    schedule = make_schedule(participants=[UserFactory(username="oncall")])
    answer = api.get(url.format(schedule=schedule.pk))
    assert answer.status_code == 400, answer.content
    assert field in answer.json()


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/incidents/?detected_after=2026-01-01T00:00:00-19:48",
        "/api/v1/reports/response-times/?since=2026-01-01T00:00:00-19:48",
        "/api/v1/schedules/{schedule}/oncall/?at=2026-01-01T00:00:00-19:48",
    ],
)
def test_an_offset_postgresql_cannot_store_is_read_as_its_utc_instant(api, url):
    # PostgreSQL keeps no UTC offset past ±15:59; Python (and RFC 3339) read up to ±23:59.
    schedule = make_schedule(participants=[UserFactory(username="oncall")])
    assert api.get(url.format(schedule=schedule.pk)).status_code == 200


def test_alertmanager_timestamps_with_a_far_offset_are_stored_in_utc(client):
    _, token = make_integration(name="am", kind="alertmanager", rate_limit_per_second=0)
    body = {
        "version": "4",
        "status": "firing",
        "receiver": "tocsin",
        "groupKey": "{}:{}",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager",
        "alerts": [
            {
                "status": "firing",
                "labels": {"alertname": "Far"},
                "annotations": {"summary": "Far offset"},
                "startsAt": "2026-05-20T20:30:59.783-19:48",
                "endsAt": "0001-01-01T00:00:00Z",
                "fingerprint": "f1",
            }
        ],
    }
    answer = client.post(
        "/api/v1/integrations/alertmanager/",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert answer.status_code == 202, answer.content
    started = Alert.objects.get().incident.started_at
    assert started.isoformat() == "2026-05-21T16:18:59.783000+00:00"


def test_a_string_field_refuses_a_number(api):
    answer = api.post("/api/v1/services/", {"name": "Pay", "slug": "pay", "description": 0})
    assert answer.status_code == 400
    assert answer.json() == {"description": ["Must be a string."]}
    assert not Service.objects.filter(slug="pay").exists()


def test_an_id_field_refuses_a_numeric_string(api):
    answer = api.post("/api/v1/services/", {"name": "Pay", "slug": "pay", "escalation_policy": "1"})
    assert answer.status_code == 400
    assert answer.json() == {"escalation_policy": ["A whole number is required."]}


def test_max_length_counts_the_string_as_sent(api):
    incident = make_incident()
    answer = api.post(f"/api/v1/incidents/{incident.pk}/resolve/", {"reason": "x" + " " * 2000})
    assert answer.status_code == 400
    assert "reason" in answer.json()
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_a_nul_in_a_username_is_400_not_a_database_error(api):
    service = ServiceFactory(slug="checkout")
    answer = api.patch(f"/api/v1/services/{service.pk}/", {"owner": "ali\x00ce"})
    assert answer.status_code == 400
    assert answer.json() == {"owner": ["Null characters are not allowed."]}


def test_a_nul_in_a_username_path_is_404(api):
    answer = api.get("/api/v1/users/ali%00ce/contact-methods/")
    assert answer.status_code == 404
    assert answer.json() == {"detail": "Not found."}


def test_postmortem_status_with_a_list_body_is_400(api):
    incident = make_incident()
    postmortem_draft(incident=incident)
    answer = api.post(
        f"/api/v1/incidents/{incident.pk}/postmortem/status/",
        "[null, null]",
        content_type="application/json",
    )
    assert answer.status_code == 400
    assert "non_field_errors" in answer.json()


def test_an_api_url_that_names_no_object_answers_json_404(api):
    answer = api.get("/api/v1/incidents/not-a-number/")
    assert answer.status_code == 404
    assert answer["Content-Type"] == "application/json"
    assert answer.json() == {"detail": "Not found."}


def test_other_unknown_urls_keep_the_html_404(client):
    answer = client.get("/no-such-page/")
    assert answer.status_code == 404
    assert answer["Content-Type"].startswith("text/html")


def test_form_encoded_bodies_are_refused_with_415(api):
    answer = api.post(
        "/api/v1/incidents/",
        "title=Down&severity=P1",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 415
    assert not Incident.objects.exists()


def test_handoff_time_is_hh_mm(api):
    UserFactory(username="oncall")
    rotation = {
        "name": "Primary",
        "participants": ["oncall"],
        "shift": "weekly",
        "handoff_time": "0900",
        "start": "2026-01-05",
    }
    answer = api.post(
        "/api/v1/schedules/",
        {"name": "Platform", "time_zone": "UTC", "rotations": [rotation]},
        format="json",
    )
    assert answer.status_code == 400
    assert "handoff_time" in answer.json()["rotations"][0]


def test_a_nullable_relation_takes_an_empty_string_as_null(api):
    owner = UserFactory(username="owner")
    service = ServiceFactory(slug="checkout", owner=owner)
    answer = api.patch(f"/api/v1/services/{service.pk}/", {"owner": ""})
    assert answer.status_code == 200
    assert answer.json()["owner"] is None


def test_an_alert_summary_of_nul_characters_alone_is_blank(client):
    _, token = make_integration(name="og", kind="opsgenie", rate_limit_per_second=0)
    answer = client.post(
        "/v2/alerts",
        json.dumps({"message": "\u0000 \u0000"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"GenieKey {token}",
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["errors"] == {"message": "This field may not be blank."}
    assert {"took", "requestId"} <= body.keys()
    assert not Alert.objects.exists()
