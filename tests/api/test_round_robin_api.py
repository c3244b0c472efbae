"""Round-robin targets over the REST API: created, answered in turn order, refused clearly."""

import pytest

from incidents.models import EscalationPolicy, EscalationTarget, RoundRobinMember
from tests.api.test_escalation_api import client_for
from tests.factories import UserFactory, make_schedule

pytestmark = pytest.mark.django_db

URL = "/api/v1/escalation-policies/"


@pytest.fixture
def api(manager):
    return client_for(manager)


@pytest.fixture
def people():
    return [UserFactory(username=name) for name in ("alice", "bob", "carol", "lee")]


def body(usernames, name="Support"):
    return {
        "name": name,
        "repeat": 1,
        "steps": [
            {"delay_seconds": 0, "targets": [{"type": "round_robin", "usernames": usernames}]},
            {"delay_seconds": 900, "targets": [{"type": "user", "username": "lee"}]},
        ],
    }


def test_round_robin_target_round_trips_in_order(api, people):
    answer = api.post(URL, body(["carol", "alice", "bob"]), format="json")
    assert answer.status_code == 201, answer.json()
    created = answer.json()
    assert created["steps"][0]["targets"] == [
        {"type": "round_robin", "usernames": ["carol", "alice", "bob"]}
    ]
    assert created["steps"][1]["targets"][0]["username"] == "lee"
    assert api.get(f"{URL}{created['id']}/").json() == created
    target = EscalationTarget.objects.get(type="round_robin")
    assert [m.user.username for m in target.members.order_by("position")] == [
        "carol",
        "alice",
        "bob",
    ]


def test_unknown_usernames_answer_400_naming_them_and_create_nothing(api, people):
    answer = api.post(URL, body(["alice", "nobody", "ghost"]), format="json")
    assert answer.status_code == 400
    errors = answer.json()["steps"][0]["targets"][0]
    assert errors == {"usernames": ["Unknown user(s): nobody, ghost."]}
    assert not EscalationPolicy.objects.exists()
    assert not RoundRobinMember.objects.exists()


def test_an_inactive_member_is_refused_like_an_unknown_one(api, people):
    UserFactory(username="gone", is_active=False)
    answer = api.post(URL, body(["alice", "gone"]), format="json")
    assert answer.status_code == 400
    assert "gone" in str(answer.json()["steps"][0]["targets"][0]["usernames"])


@pytest.mark.parametrize(
    ("usernames", "says"),
    [(["alice"], "at least two different people"), (["alice", "alice"], "each person once")],
)
def test_fewer_than_two_distinct_people_answer_400_on_targets(api, people, usernames, says):
    answer = api.post(URL, body(usernames), format="json")
    assert answer.status_code == 400
    assert says in str(answer.json()["targets"])
    assert not EscalationPolicy.objects.exists()


def test_a_round_robin_without_usernames_answers_400_on_usernames(api, people):
    step = {"delay_seconds": 0, "targets": [{"type": "round_robin"}]}
    answer = api.post(URL, {"name": "Empty", "steps": [step]}, format="json")
    assert answer.status_code == 400
    assert "usernames" in answer.json()["steps"][0]["targets"][0]
    assert not EscalationPolicy.objects.exists()


def test_policy_list_with_round_robins_runs_a_fixed_number_of_queries(
    api, people, django_assert_max_num_queries
):
    schedule = make_schedule(name="Support primary", participants=[people[3]])
    for n in range(3):
        policy = body(["alice", "bob", "carol"], name=f"P{n}")
        policy["steps"][1]["targets"].append({"type": "schedule", "id": schedule.pk})
        assert api.post(URL, policy, format="json").status_code == 201
    with django_assert_max_num_queries(11):
        assert api.get(URL).json()["count"] == 3
    for n in range(3, 40):
        policy = body(["bob", "carol", "alice"] if n % 2 else ["alice", "bob"], name=f"P{n}")
        assert api.post(URL, policy, format="json").status_code == 201
    with django_assert_max_num_queries(11):
        answer = api.get(URL, {"page_size": 100}).json()
    assert answer["count"] == 40
    rr = [p["steps"][0]["targets"][0] for p in answer["results"]]
    assert {"type": "round_robin", "usernames": ["bob", "carol", "alice"]} in rr
    assert {"type": "round_robin", "usernames": ["alice", "bob"]} in rr
