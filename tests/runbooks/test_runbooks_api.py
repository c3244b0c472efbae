"""GET /api/v1/incidents/{id}/runbooks/: the matching runbooks as {id, title, url}."""

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import UserFactory, make_incident, make_runbook


def api(user) -> APIClient:
    client = APIClient()
    _, key = AuthToken.objects.create(user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def url(incident) -> str:
    return f"/api/v1/incidents/{incident.pk}/runbooks/"


@pytest.fixture
def runbooks(db, service):
    return [
        make_runbook(
            title="Checkout down", services=[service], rules=[("title_keyword", "", "502", 3)]
        ),
        make_runbook(title="Any checkout trouble", services=[service]),
        make_runbook(title="Unrelated", match={"alertname": "RedisDown"}),
    ]


def test_answers_the_matching_runbooks_best_first(viewer, incident, runbooks, settings):
    response = api(viewer).get(url(incident))

    assert response.status_code == 200
    first, second = runbooks[0], runbooks[1]
    assert response.json() == [
        {
            "id": first.pk,
            "title": "Checkout down",
            "url": f"{settings.TOCSIN_BASE_URL}/admin/runbooks/runbook/{first.pk}/change/",
            "score": 8,
        },
        {
            "id": second.pk,
            "title": "Any checkout trouble",
            "url": f"{settings.TOCSIN_BASE_URL}/admin/runbooks/runbook/{second.pk}/change/",
            "score": 5,
        },
    ]


def test_limit_cuts_the_list_and_bad_limits_are_400_naming_the_field(viewer, incident, runbooks):
    client = api(viewer)

    assert [r["title"] for r in client.get(url(incident), {"limit": 1}).json()] == ["Checkout down"]
    for bad in ("0", "x", "21"):
        response = client.get(url(incident), {"limit": bad})
        assert response.status_code == 400
        assert "limit" in response.json()


def test_an_incident_nothing_matches_answers_an_empty_list(viewer, db):
    incident = make_incident(title="Typo on the About page")

    response = api(viewer).get(url(incident))

    assert response.status_code == 200
    assert response.json() == []


def test_unknown_incident_is_404(viewer):
    assert api(viewer).get("/api/v1/incidents/999999/runbooks/").status_code == 404


def test_needs_a_token(incident):
    assert APIClient().get(url(incident)).status_code == 401


def test_needs_view_permissions(incident):
    nobody = UserFactory(username="nobody")

    response = api(nobody).get(url(incident))

    assert response.status_code == 403
    assert "runbooks.view_runbook" in response.json()["detail"]
