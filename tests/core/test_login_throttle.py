"""Failed sign-ins are throttled per client address (admin and API tokens), never per username."""

import pytest
from django.test import Client
from django.urls import reverse
from knox.models import AuthToken
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

LOGIN = reverse("admin:login")


@pytest.fixture
def oncall():
    user = UserFactory(username="oncall", is_staff=True)
    user.set_password("right-horse-battery")
    user.save()
    return user


def sign_in(ip: str, password: str):
    return Client(REMOTE_ADDR=ip).post(
        LOGIN, {"username": "oncall", "password": password, "next": "/admin/"}
    )


def test_admin_login_locks_the_address_after_ten_failures_with_a_429(oncall, settings):
    assert settings.AXES_FAILURE_LIMIT == 10
    for _ in range(9):
        assert sign_in("203.0.113.7", "wrong").status_code == 200  # the form again, with an error
    tenth = sign_in("203.0.113.7", "wrong")
    assert tenth.status_code == 429
    # Even the right password is refused from that address until the cool-off ends.
    locked = sign_in("203.0.113.7", "right-horse-battery")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == 15 * 60
    assert "Too many sign-ins failed from your address" in locked.content.decode()


def test_a_locked_out_address_does_not_lock_the_account_for_anyone_else(oncall):
    for _ in range(10):
        sign_in("203.0.113.8", "wrong")
    assert sign_in("203.0.113.8", "right-horse-battery").status_code == 429
    elsewhere = sign_in("198.51.100.20", "right-horse-battery")
    assert elsewhere.status_code == 302 and elsewhere["Location"] == "/admin/"


def api_from(ip: str, key: str) -> APIClient:
    client = APIClient(REMOTE_ADDR=ip)
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_failed_token_authentications_are_throttled_per_address(manager):
    _, key = AuthToken.objects.create(user=manager)
    bad = api_from("203.0.113.9", "0" * 64)
    for _ in range(9):
        assert bad.get("/api/v1/incidents/").status_code == 401
    answer = bad.get("/api/v1/incidents/")
    assert answer.status_code == 429
    assert int(answer["Retry-After"]) == 15 * 60
    assert "Too many failed authentications" in answer.json()["detail"]
    # The locked-out address waits even with a good token; other addresses are not affected.
    assert api_from("203.0.113.9", key).get("/api/v1/incidents/").status_code == 429
    assert api_from("198.51.100.21", key).get("/api/v1/incidents/").status_code == 200
