"""The post-mortem over HTTP: JSON, Markdown export, starting, editing, publishing."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from incidents.core import lifecycle
from incidents.models import TimelineEvent
from postmortems.models import ActionItem, Postmortem, RootCauseCategory
from postmortems.services import (
    action_item_create,
    postmortem_regenerate_timeline,
    postmortem_update,
)
from tests.factories import UserFactory, make_incident

pytestmark = pytest.mark.django_db


def _token_client(user) -> APIClient:
    from io import StringIO

    out = StringIO()
    call_command("create_api_token", user.username, stdout=out)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {out.getvalue().strip().splitlines()[-1]}")
    return client


@pytest.fixture
def resolved_p0(django_capture_on_commit_callbacks, service):
    alice = UserFactory(username="alice", first_name="Alice", last_name="Nguyen")
    incident = make_incident(
        title="Checkout returns 502 for all requests",
        severity_key="P0",
        services=[service],
        via="Alertmanager: production",
        summary="Backend answered 502 after the deploy.",
    )
    lifecycle.incident_assign_commander(incident=incident, commander=alice, actor=alice)
    lifecycle.status_update_post(
        incident=incident, actor=alice, public=True, message="Investigating checkout errors."
    )
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.incident_resolve(incident=incident, actor=alice)
    start = datetime(2026, 3, 4, 14, 23, tzinfo=UTC)
    for i, event in enumerate(TimelineEvent.objects.filter(incident=incident).order_by("id")):
        event.at = start + timedelta(minutes=2 * i)
        event.save(update_fields=["at"])
    incident.updates.update(created_at=start + timedelta(minutes=5))
    # The draft was generated from the real clock; regenerate it from the moved history.
    postmortem_regenerate_timeline(postmortem=Postmortem.objects.get(incident=incident))
    incident.refresh_from_db()
    return incident


def test_json_endpoint_answers_404_before_a_postmortem_exists(responder, incident):
    client = _token_client(responder)
    answer = client.get(f"/api/v1/incidents/{incident.pk}/postmortem/")
    assert answer.status_code == 404
    assert client.get(f"/api/v1/incidents/{incident.pk}/postmortem.md").status_code == 404
    assert client.get("/api/v1/incidents/999999/postmortem/").status_code == 404


def test_json_endpoint_shows_the_drafted_postmortem_with_a_token(viewer, resolved_p0):
    answer = _token_client(viewer).get(f"/api/v1/incidents/{resolved_p0.pk}/postmortem/")
    assert answer.status_code == 200
    body = answer.json()
    postmortem = Postmortem.objects.get(incident=resolved_p0)
    assert body["id"] == postmortem.pk
    assert body["status"] == "draft"
    assert body["required"] is True
    expected_due = resolved_p0.resolved_at + timedelta(hours=24)
    assert datetime.fromisoformat(body["due_at"]) == expected_due
    assert body["author"] == "alice"
    assert "- **14:23** - Opened INC-" in body["timeline"]


def test_anonymous_callers_get_401(resolved_p0):
    client = APIClient()
    assert client.get(f"/api/v1/incidents/{resolved_p0.pk}/postmortem/").status_code == 401
    assert client.get(f"/api/v1/incidents/{resolved_p0.pk}/postmortem.md").status_code == 401


def test_markdown_export_fills_the_runbooks_template(viewer, resolved_p0):
    postmortem = Postmortem.objects.get(incident=resolved_p0)
    postmortem_update(
        postmortem=postmortem,
        root_cause="The deploy changed the payment client timeout.",
        root_cause_category=RootCauseCategory.objects.get(name="Deployment"),
        contributing_factors="No canary\nAlert threshold too high",
        went_well="Rollback was smooth",
    )
    bob = UserFactory(username="bob", first_name="Bob", last_name="Okafor")
    action_item_create(
        postmortem=postmortem,
        title="Add a canary stage",
        owner=bob,
        due_date=date(2026, 3, 20),
        priority="high",
    )

    answer = _token_client(viewer).get(f"/api/v1/incidents/{resolved_p0.pk}/postmortem.md")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/markdown")
    text = answer.content.decode()
    assert text.startswith("# Post-Mortem: Checkout returns 502 for all requests\n")
    assert "**Severity:** P0" in text
    assert "**Author:** Alice Nguyen" in text
    assert "## Timeline (All times in UTC)" in text
    assert "- **14:23** - Opened INC-" in text
    assert (
        "- **14:28** - Investigating update (public, Alice Nguyen): Investigating checkout errors."
        in text
    )
    assert "**Category:** Deployment" in text
    assert "1. No canary\n2. Alert threshold too high" in text
    assert "- Rollback was smooth" in text
    assert (
        "1. **Add a canary stage** - Assigned: Bob Okafor - Due: 2026-03-20 - Priority: High"
        in text
    )
    for heading in (
        "## Summary",
        "## Root Cause",
        "## Impact",
        "## Resolution",
        "## Lessons Learned",
        "## Action Items",
        "## Prevention",
    ):
        assert heading in text


def test_a_responder_starts_an_optional_postmortem_once(responder, incident):
    client = _token_client(responder)
    first = client.post(f"/api/v1/incidents/{incident.pk}/postmortem/")
    again = client.post(f"/api/v1/incidents/{incident.pk}/postmortem/")
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert Postmortem.objects.filter(incident=incident).count() == 1


def test_a_viewer_cannot_start_or_edit_a_postmortem(viewer, incident):
    client = _token_client(viewer)
    assert client.post(f"/api/v1/incidents/{incident.pk}/postmortem/").status_code == 403
    assert not Postmortem.objects.exists()


def test_editing_sections_and_refusing_unknown_categories(responder, resolved_p0):
    client = _token_client(responder)
    url = f"/api/v1/incidents/{resolved_p0.pk}/postmortem/"
    answer = client.patch(url, {"root_cause": "Pool exhausted.", "root_cause_category": "Database"})
    assert answer.status_code == 200
    assert answer.json()["root_cause_category"] == "Database"
    bad = client.patch(url, {"root_cause_category": "Gremlins"})
    assert bad.status_code == 400
    assert "root_cause_category" in bad.json()
    assert Postmortem.objects.get(incident=resolved_p0).root_cause == "Pool exhausted."


def test_publishing_needs_the_manager_and_a_filled_root_cause(responder, manager, resolved_p0):
    url = f"/api/v1/incidents/{resolved_p0.pk}/postmortem/status/"
    responder_client, manager_client = _token_client(responder), _token_client(manager)
    assert responder_client.post(url, {"status": "in_review"}).status_code == 200
    assert responder_client.post(url, {"status": "published"}).status_code == 403

    refused = manager_client.post(url, {"status": "published"})
    assert refused.status_code == 400
    assert "root_cause" in refused.json()

    postmortem_update(
        postmortem=Postmortem.objects.get(incident=resolved_p0), root_cause="Bad deploy."
    )
    published = manager_client.post(url, {"status": "published"})
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    assert published.json()["published_at"]


def test_draft_cannot_jump_to_published(manager, resolved_p0):
    postmortem_update(
        postmortem=Postmortem.objects.get(incident=resolved_p0), root_cause="Bad deploy."
    )
    answer = _token_client(manager).post(
        f"/api/v1/incidents/{resolved_p0.pk}/postmortem/status/", {"status": "published"}
    )
    assert answer.status_code == 409
    assert Postmortem.objects.get(incident=resolved_p0).status == "draft"


def test_adding_an_action_item(responder, resolved_p0):
    answer = _token_client(responder).post(
        f"/api/v1/incidents/{resolved_p0.pk}/postmortem/action-items/",
        {
            "title": "Alert on pool usage",
            "owner": "alice",
            "due_date": "2026-04-01",
            "priority": "high",
        },
    )
    assert answer.status_code == 201
    item = ActionItem.objects.get()
    assert (item.title, item.owner.username, item.priority) == (
        "Alert on pool usage",
        "alice",
        "high",
    )
    bad = _token_client(responder).post(
        f"/api/v1/incidents/{resolved_p0.pk}/postmortem/action-items/", {"title": ""}
    )
    assert bad.status_code == 400
    assert "title" in bad.json()
