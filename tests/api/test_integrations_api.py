"""Integrations through the REST API: created with their token shown once, read without it."""

import json

import pytest
from rest_framework.test import APIClient

from incidents.models import Alert, ConfigChange, Integration
from incidents.models.alert import hash_token
from tests.factories import api_client_for, make_integration

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(manager):
    return api_client_for(manager)


def test_create_answers_201_with_the_token_once_and_the_token_works(
    api, manager, client, service, settings
):
    settings.TOCSIN_BASE_URL = "https://tocsin.example"
    answer = api.post(
        "/api/v1/integrations/",
        {"name": "Prometheus prod", "kind": "generic", "service": "checkout"},
    )

    assert answer.status_code == 201, answer.content
    assert answer["Cache-Control"] == "no-store"
    body = answer.json()
    token = body["token"]
    integration = Integration.objects.get(pk=body["id"])
    assert integration.token_hash == hash_token(token)
    assert (body["name"], body["kind"], body["service"]) == (
        "Prometheus prod",
        "generic",
        "checkout",
    )
    assert body["endpoint_url"] == "https://tocsin.example/api/v1/integrations/generic/"
    assert body["severity_mapping"] == {
        "critical": "P1",
        "error": "P2",
        "warning": "P2",
        "info": "P3",
    }
    entry = ConfigChange.objects.get(object_id=str(integration.pk))
    assert (entry.actor, entry.action) == (manager, "added")
    assert "token_hash" not in entry.after

    sent = client.post(
        "/api/v1/integrations/generic/",
        json.dumps({"summary": "Disk full"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert sent.status_code == 202
    assert Alert.objects.get().incident.services.get() == service


def test_list_and_detail_never_show_the_token_or_its_hash(api, settings):
    settings.TOCSIN_BASE_URL = "https://tocsin.example"
    integration, token = make_integration(name="pd", kind="pagerduty")

    listed = api.get("/api/v1/integrations/")
    detail = api.get(f"/api/v1/integrations/{integration.pk}/")

    assert listed.status_code == 200 and detail.status_code == 200
    assert listed.json()["results"] == [detail.json()]
    assert detail.json()["token_prefix"] == token[:8]
    assert detail.json()["endpoint_url"] == "https://tocsin.example/v2/enqueue"
    for text in (listed.content.decode(), detail.content.decode()):
        assert token not in text and integration.token_hash not in text
        assert "token_hash" not in text and '"token"' not in text


def test_a_mapping_to_an_unknown_severity_is_400_naming_it(api):
    answer = api.post(
        "/api/v1/integrations/",
        {"name": "am", "kind": "alertmanager", "severity_mapping": {"critical": "P7"}},
    )

    assert answer.status_code == 400
    assert answer.json() == {
        "severity_mapping": [
            "Unknown severity: 'P7' (for 'critical'). Our severities are P0, P1, P2, P3."
        ]
    }
    assert not Integration.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "generic"}, "name"),
        ({"name": "x", "kind": "nagios"}, "kind"),
        ({"name": "x", "kind": "generic", "service": "nope"}, "service"),
        ({"name": "x", "kind": "generic", "severity": "P9"}, "severity"),
        ({"name": "x", "kind": "generic", "rate_limit_per_second": -1}, "rate_limit_per_second"),
        ({"name": "x", "kind": "generic", "rate_limit_burst": -1}, "rate_limit_burst"),
        ({"name": "x", "kind": "generic", "enabled": "yes"}, "enabled"),
    ],
)
def test_bad_fields_are_named(api, body, field):
    answer = api.post("/api/v1/integrations/", body)

    assert answer.status_code == 400
    assert field in answer.json()
    assert not Integration.objects.exists()


def test_a_taken_name_is_400(api):
    make_integration(name="prom", kind="alertmanager")

    answer = api.post("/api/v1/integrations/", {"name": "prom", "kind": "generic"})

    assert answer.status_code == 400
    assert "name" in answer.json()
    assert Integration.objects.count() == 1


def test_viewers_read_but_only_managers_create(viewer, responder):
    make_integration(name="prom", kind="alertmanager")

    assert api_client_for(viewer).get("/api/v1/integrations/").status_code == 200
    for user in (viewer, responder):
        answer = api_client_for(user).post(
            "/api/v1/integrations/", {"name": "x", "kind": "generic"}
        )
        assert answer.status_code == 403
    assert APIClient().get("/api/v1/integrations/").status_code == 401
    assert Integration.objects.count() == 1


def test_listing_runs_a_fixed_number_of_queries(api, django_assert_max_num_queries, service):
    for n in range(12):
        make_integration(name=f"i{n}", kind="generic", service=service)

    with django_assert_max_num_queries(8):
        assert len(api.get("/api/v1/integrations/").json()["results"]) == 12
