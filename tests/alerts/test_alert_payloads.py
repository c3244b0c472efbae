"""An alert's stored payload holds no credential, and only integration managers read it."""

import json

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from incidents.models import Alert
from tests.factories import UserFactory, make_integration
from tests.ingest_payloads import am_notification, opsgenie_create, pd_trigger

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery-staple"


def post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def test_a_pagerduty_routing_key_is_not_stored(client):
    _, token = make_integration(name="pd", kind="pagerduty")

    answer = post(client, "/v2/enqueue", pd_trigger(token, dedup_key="disk-1"))

    assert answer.status_code == 202
    payload = Alert.objects.get().last_payload
    assert token not in json.dumps(payload)
    assert payload["routing_key"] == "[redacted]"
    assert payload["payload"]["summary"].startswith("DISK at 99%")


def test_genie_keys_and_authorization_headers_in_a_payload_are_masked(client):
    _, token = make_integration(name="og", kind="opsgenie")
    body = opsgenie_create(alias="db-1")
    body["details"] = {
        "Authorization": "GenieKey 0123456789abcdef0123456789abcdef",
        "forwarded": "curl -H 'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig' ...",
        "runbook": "Bearer token expired? Re-run the login job.",
    }

    answer = post(client, "/v2/alerts", body, HTTP_AUTHORIZATION=f"GenieKey {token}")

    assert answer.status_code == 202
    details = Alert.objects.get().last_payload["details"]
    assert details["Authorization"] == "[redacted]"
    assert details["forwarded"] == "curl -H 'Authorization: Bearer [redacted]' ..."
    assert details["runbook"] == "Bearer token expired? Re-run the login job."
    assert "0123456789abcdef" not in json.dumps(Alert.objects.get().last_payload)


def test_an_alertmanager_payload_keeps_what_is_not_a_credential(client):
    _, token = make_integration(name="am", kind="alertmanager")
    body = am_notification()
    body["alerts"][0]["annotations"]["api_key"] = "sk_live_0123456789abcdef"

    answer = post(
        client, "/api/v1/integrations/alertmanager/", body, HTTP_AUTHORIZATION=f"Bearer {token}"
    )

    assert answer.status_code == 202
    alert = Alert.objects.get()
    assert alert.last_payload["alerts"][0]["annotations"]["api_key"] == "[redacted]"
    assert alert.last_payload["alerts"][0]["labels"] == body["alerts"][0]["labels"]


def staff(group: str, username: str):
    user = UserFactory(username=username, is_staff=True)
    user.set_password(PASSWORD)
    user.save()
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.mark.parametrize(
    ("group", "sees_payload"),
    [("Viewer", False), ("Responder", False), ("Incident manager", True)],
)
def test_only_those_who_manage_integrations_see_the_raw_payload(client, group, sees_payload):
    _, token = make_integration(name="pd", kind="pagerduty")
    post(client, "/v2/enqueue", pd_trigger(token, dedup_key="disk-1"))
    alert = Alert.objects.get()
    client.force_login(staff(group, f"user-{group.split()[0].lower()}"))

    page = client.get(reverse("admin:incidents_alert_change", args=[alert.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "DISK at 99%" in html
    assert "prod-datapipe03.example.com" in html  # the parsed alert is for every viewer
    assert ("event_action" in html) is sees_payload  # only the raw payload has this
    assert token not in html


def test_the_migration_masks_payloads_stored_before(client):
    import importlib
    from types import SimpleNamespace

    from django.apps import apps
    from django.db import connection

    _, token = make_integration(name="pd", kind="pagerduty")
    post(client, "/v2/enqueue", pd_trigger(token, dedup_key="disk-1"))
    Alert.objects.update(last_payload=pd_trigger(token, dedup_key="disk-1"))
    migration = importlib.import_module("incidents.migrations.0011_redact_alert_payloads")

    # RunPython hands its function the schema editor; only its connection is used.
    migration.forwards(apps, SimpleNamespace(connection=connection))

    payload = Alert.objects.get().last_payload
    assert payload["routing_key"] == "[redacted]" and token not in json.dumps(payload)
