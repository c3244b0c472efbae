"""People pickers (post-mortem author and reviewers, action-item owner, paged user) load for
every group that may edit the object, without opening the user admin to them."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from incidents.core import lifecycle
from postmortems.services import postmortem_draft
from tests.factories import UserFactory, make_incident

pytestmark = pytest.mark.django_db

SEARCH = "/admin/people/search/"


@pytest.fixture
def postmortem(service):
    incident = make_incident(title="Checkout 502s", services=[service])
    lifecycle.incident_resolve(incident=incident)
    return postmortem_draft(incident=incident)[0]


@pytest.fixture
def people(db):
    return [
        UserFactory(username="asmith", first_name="Alice", last_name="Smith", email="a@corp.test"),
        UserFactory(username="bjones", first_name="Bob", last_name="Jones"),
        UserFactory(username="gone", first_name="Alice", last_name="Left", is_active=False),
    ]


def _picker_urls(html: str) -> dict[str, str]:
    """Each autocomplete select on the page: its field name -> the URL it loads results from."""
    found = {}
    for tag in re.findall(r"<select[^>]*admin-autocomplete[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)[1]
        found[name] = re.search(r'data-ajax--url="([^"]+)"', tag)[1]
    return found


def _search(client, url, app, model, field, term):
    return client.get(
        url, {"app_label": app, "model_name": model, "field_name": field, "term": term}
    )


@pytest.mark.parametrize("group", ["responder", "manager"])
def test_post_mortem_pickers_load_people_for_staff_who_may_edit(
    client, request, postmortem, people, group
):
    user = request.getfixturevalue(group)
    client.force_login(user)
    page = client.get(reverse("admin:postmortems_postmortem_change", args=[postmortem.pk]))
    assert page.status_code == 200
    pickers = _picker_urls(page.content.decode())
    for name, (model, field) in {
        "author": ("postmortem", "author"),
        "reviewers": ("postmortem", "reviewers"),
        "action_items-0-owner": ("actionitem", "owner"),
    }.items():
        answer = _search(client, pickers[name], "postmortems", model, field, "alice")
        assert answer.status_code == 200, name
        assert answer.json() == {
            "results": [{"id": str(people[0].pk), "text": "Alice Smith (asmith)"}],
            "pagination": {"more": False},
        }


def test_search_matches_every_word_against_names_and_usernames(client, responder, people):
    client.force_login(responder)
    answer = _search(client, SEARCH, "postmortems", "postmortem", "author", "bob jon")
    assert [r["text"] for r in answer.json()["results"]] == ["Bob Jones (bjones)"]
    everyone = _search(client, SEARCH, "postmortems", "postmortem", "author", "")
    texts = [r["text"] for r in everyone.json()["results"]]
    assert "Alice Left (gone)" not in texts  # inactive people cannot be named
    assert "a@corp.test" not in everyone.content.decode()


def test_viewers_who_may_not_edit_get_403(client, viewer, people):
    client.force_login(viewer)
    assert _search(client, SEARCH, "postmortems", "postmortem", "author", "a").status_code == 403


@pytest.mark.parametrize(
    ("app", "model", "field"),
    [
        ("postmortems", "postmortem", "summary"),  # not a people field
        ("postmortems", "postmortem", "incident"),  # a relation, but not to people
        ("postmortems", "nosuchmodel", "author"),
        ("postmortems", "postmortem", "nosuchfield"),
    ],
)
def test_malformed_searches_are_403(client, responder, app, model, field):
    client.force_login(responder)
    assert _search(client, SEARCH, app, model, field, "a").status_code == 403


def test_the_user_admin_stays_closed_to_responders(client, responder, people):
    client.force_login(responder)
    assert client.get("/admin/auth/user/").status_code == 403
    django_autocomplete = _search(
        client, "/admin/autocomplete/", "postmortems", "postmortem", "author", "a"
    )
    assert django_autocomplete.status_code == 403


def test_anonymous_visitors_are_sent_to_the_login(client, people):
    answer = _search(client, SEARCH, "postmortems", "postmortem", "author", "a")
    assert answer.status_code == 302
    assert "/admin/login/" in answer["Location"]


def test_escalation_target_and_contact_method_pickers_use_the_people_search(admin_client):
    for url in ("/admin/incidents/escalationstep/add/", "/admin/incidents/contactmethod/add/"):
        pickers = _picker_urls(admin_client.get(url).content.decode())
        people_pickers = {n: u for n, u in pickers.items() if n.endswith("user")}
        assert people_pickers and set(people_pickers.values()) == {SEARCH}, url


def test_search_runs_a_fixed_number_of_queries(client, responder, django_assert_max_num_queries):
    get_user_model().objects.bulk_create(
        get_user_model()(username=f"person{n}", first_name="Person", is_staff=True)
        for n in range(30)
    )
    client.force_login(responder)
    with django_assert_max_num_queries(6):
        answer = _search(client, SEARCH, "postmortems", "actionitem", "owner", "person")
    assert len(answer.json()["results"]) == 20 and answer.json()["pagination"]["more"]
