"""`/api/v1/users/{username}/chat-identities/`: link, list and unlink chat accounts."""

import pytest
from rest_framework.test import APIClient

from incidents.models import ChatIdentity, ConfigChange
from tests.factories import UserFactory, api_client_for

pytestmark = pytest.mark.django_db

URL = "/api/v1/users/{}/chat-identities/"


@pytest.fixture
def alice():
    return UserFactory(username="alice")


def test_link_my_own_slack_account_answers_201_with_an_audit_record(alice):
    api = api_client_for(alice)
    answer = api.post(URL.format("alice"), {"provider": "slack", "external_id": "U0ALICE"})
    assert answer.status_code == 201
    body = answer.json()
    assert {k: body[k] for k in ("user", "provider", "external_id")} == {
        "user": "alice",
        "provider": "slack",
        "external_id": "U0ALICE",
    }
    identity = ChatIdentity.objects.get()
    assert identity.user == alice
    change = ConfigChange.objects.get(object_id=str(identity.pk))
    assert change.action == "added" and change.actor == alice


def test_list_and_unlink(alice, django_assert_max_num_queries):
    api = api_client_for(alice)
    for provider, external in [("slack", "U0A"), ("mattermost", "m" * 26), ("slack", "U0B")]:
        api.post(URL.format("alice"), {"provider": provider, "external_id": external})
    with django_assert_max_num_queries(6):
        listed = api.get(URL.format("alice"))
    assert listed.status_code == 200
    assert [(r["provider"], r["external_id"]) for r in listed.json()] == [
        ("mattermost", "m" * 26),
        ("slack", "U0A"),
        ("slack", "U0B"),
    ]
    pk = listed.json()[1]["id"]
    assert api.delete(f"{URL.format('alice')}{pk}/").status_code == 204
    assert not ChatIdentity.objects.filter(pk=pk).exists()
    assert ConfigChange.objects.filter(object_id=str(pk), action="deleted").exists()
    assert api.delete(f"{URL.format('alice')}{pk}/").status_code == 404


def test_an_account_linked_already_is_refused_on_external_id(alice):
    bob = UserFactory(username="bob")
    ChatIdentity.objects.create(user=bob, provider="slack", external_id="U0BOB")
    answer = api_client_for(alice).post(
        URL.format("alice"), {"provider": "slack", "external_id": "U0BOB"}
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "external_id": ["This Slack account is linked to another person already."]
    }
    assert ChatIdentity.objects.get().user == bob


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "teams", "external_id": "U1"}, "provider"),
        ({"provider": "slack"}, "external_id"),
        ({"provider": "slack", "external_id": "two words"}, "external_id"),
        ({"provider": "slack", "external_id": "x" * 65}, "external_id"),
        ({"provider": "slack", "external_id": 42}, "external_id"),
    ],
)
def test_bad_input_answers_400_naming_the_field(alice, body, field):
    answer = api_client_for(alice).post(URL.format("alice"), body, format="json")
    assert answer.status_code == 400
    assert field in answer.json()
    assert not ChatIdentity.objects.exists()


def test_someone_elses_identities_need_the_permission(alice):
    UserFactory(username="bob")
    api = api_client_for(alice)
    answer = api.post(URL.format("bob"), {"provider": "slack", "external_id": "U0X"})
    assert answer.status_code == 403
    assert api.get(URL.format("bob")).status_code == 403
    assert api.get(URL.format("nobody")).status_code == 404
    admin = UserFactory(username="root", is_superuser=True)
    made = api_client_for(admin).post(
        URL.format("bob"), {"provider": "slack", "external_id": "U0X"}
    )
    assert made.status_code == 201
    assert ChatIdentity.objects.get().user.username == "bob"


def test_anonymous_is_refused(alice):
    answer = APIClient().post(URL.format("alice"), {"provider": "slack", "external_id": "U0A"})
    assert answer.status_code == 401
    assert not ChatIdentity.objects.exists()
