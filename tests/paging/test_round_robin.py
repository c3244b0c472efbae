"""Round-robin targets: each new incident pages the next person of the list, in turn."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.urls import reverse

from incidents.core.errors import DomainError
from incidents.models import (
    ConfigChange,
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    Incident,
    IncidentEscalation,
    Notification,
    RoundRobinMember,
    TimelineEvent,
)
from incidents.paging import engine as escalation
from incidents.paging.policies import (
    RoundRobin,
    StepInput,
    escalation_policy_create,
    escalation_step_save,
)
from tests.factories import ServiceFactory, UserFactory, make_incident

T0 = datetime(2026, 3, 10, 3, 0, tzinfo=UTC)


@pytest.fixture
def people(db):
    return [UserFactory(username=name) for name in ("alice", "bob", "carol")]


@pytest.fixture
def lead(db):
    return UserFactory(username="lee-lead")


@pytest.fixture
def policy(people, lead):
    """The round robin at once, the lead after 15 minutes, the whole path twice."""
    return escalation_policy_create(
        name="Support",
        repeat=1,
        repeat_delay=timedelta(minutes=5),
        steps=[
            StepInput(delay=timedelta(0), targets=[RoundRobin(users=people)]),
            StepInput(delay=timedelta(minutes=15), targets=[lead]),
        ],
    )


@pytest.fixture
def service(policy):
    return ServiceFactory(name="Support desk", slug="support", escalation_policy=policy)


def open_incident(service, title="Printer on fire"):
    # incident_create starts the escalation itself (a required hook), as every caller sees it.
    incident = make_incident(title=title, services=[service], detected_at=T0)
    return Incident.objects.get(pk=incident.pk)


def fire(incident, seconds: float) -> bool:
    row = IncidentEscalation.objects.get(incident=incident)
    return escalation.escalation_fire_step(
        escalation_id=row.pk, expected_version=row.version, now=T0 + timedelta(seconds=seconds)
    )


def paged(incident) -> list[tuple[str, int, int]]:
    return sorted(
        Notification.objects.filter(incident=incident, reason="page").values_list(
            "recipient", "round", "step"
        )
    )


def timeline(incident) -> list[str]:
    return list(
        TimelineEvent.objects.filter(incident=incident, kind="escalation")
        .order_by("id")
        .values_list("message", flat=True)
    )


def round_robin_target(policy) -> EscalationTarget:
    return EscalationTarget.objects.get(step__policy=policy, type="round_robin")


def members(target) -> list[str]:
    return [m.user.username for m in target.members.select_related("user").order_by("position")]


# --- writes ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_members_are_saved_in_order_and_the_audit_names_them(policy):
    target = round_robin_target(policy)
    assert members(target) == ["alice", "bob", "carol"]
    assert target.next_index == 0
    record = ConfigChange.objects.filter(object_repr__contains="step 1").order_by("id").first()
    assert record is not None
    assert "Round robin: alice → bob → carol" in record.after["targets"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("names", "says"),
    [
        (["alice"], "at least two different people"),
        (["alice", "alice"], "each person once"),
        (["alice", "bob-gone"], "active people only: bob-gone"),
    ],
)
def test_a_round_robin_needs_two_distinct_active_people(people, names, says):
    UserFactory(username="bob-gone", is_active=False)
    users = [get_user_model().objects.get(username=name) for name in names]
    with pytest.raises(DomainError) as refused:
        escalation_policy_create(
            name="Bad", steps=[StepInput(delay=timedelta(0), targets=[RoundRobin(users=users)])]
        )
    assert refused.value.field == "targets"
    assert says in str(refused.value)
    assert not EscalationPolicy.objects.filter(name="Bad").exists()
    assert not RoundRobinMember.objects.exists()


@pytest.mark.django_db
def test_editing_members_keeps_the_next_person_when_they_stay(policy, people, service):
    _, bob, carol = people
    open_incident(service)  # alice's turn: bob is next
    step = EscalationStep.objects.get(policy=policy, order=0)
    dana = UserFactory(username="dana")
    escalation_step_save(step=step, targets=[RoundRobin(users=[dana, carol, bob])])
    target = round_robin_target(policy)
    assert members(target) == ["dana", "carol", "bob"]
    assert target.next_index == 2  # still bob's turn
    incident = open_incident(service, "Next one")
    assert fire(incident, 0)
    assert paged(incident) == [("bob", 0, 0)]


@pytest.mark.django_db
def test_editing_members_without_the_next_person_keeps_the_position(policy, people, service):
    alice, bob, _ = people
    open_incident(service)
    open_incident(service, "Second")  # bob's turn taken: carol (position 2) is next
    step = EscalationStep.objects.get(policy=policy, order=0)
    escalation_step_save(step=step, targets=[RoundRobin(users=[alice, bob])])
    target = round_robin_target(policy)
    assert target.next_index == 0  # position 2 is past the end of two: the start
    same_members = round_robin_target(policy).pk
    escalation_step_save(step=step, targets=[RoundRobin(users=[alice, bob])])
    assert round_robin_target(policy).pk == same_members


# --- engine ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_new_incidents_page_alice_bob_carol_then_alice_again(service):
    expected = ["alice", "bob", "carol", "alice"]
    for n, name in enumerate(expected):
        incident = open_incident(service, f"Incident {n}")
        assert fire(incident, 0)
        assert paged(incident) == [(name, 0, 0)]
        messages = timeline(incident)
        assert f"Round robin: {name} takes this incident." in messages[0]
        assert any(m.startswith(f"Step 1 of 2 paged {name}.") for m in messages)
        target = IncidentEscalation.objects.get(incident=incident).snapshot["steps"][0]["targets"]
        assert target[0]["username"] == name and target[0]["type"] == "round_robin"


@pytest.mark.django_db
def test_later_steps_and_rounds_of_one_incident_keep_the_same_person(service):
    first = open_incident(service)
    second = open_incident(service, "Meanwhile")  # bob's turn, taken in between
    assert fire(first, 0)
    assert fire(first, 15 * 60)
    assert fire(first, 20 * 60)  # round 2, step 1
    assert paged(first) == [("alice", 0, 0), ("alice", 1, 0), ("lee-lead", 0, 1)]
    assert fire(second, 0)
    assert paged(second) == [("bob", 0, 0)]


@pytest.mark.django_db
def test_an_inactive_member_is_passed_over_when_the_turn_is_taken(service, people):
    bob = people[1]
    open_incident(service)  # alice
    bob.is_active = False
    bob.save()
    incident = open_incident(service, "Bob is away")
    assert fire(incident, 0)
    assert paged(incident) == [("carol", 0, 0)]
    assert any("passed over inactive bob" in m for m in timeline(incident))
    nxt = open_incident(service, "After carol")
    assert fire(nxt, 0)
    assert paged(nxt) == [("alice", 0, 0)]


@pytest.mark.django_db
def test_a_member_deactivated_after_their_turn_hands_it_to_the_next(service, people):
    alice = people[0]
    incident = open_incident(service)  # alice's turn
    alice.is_active = False
    alice.save()
    assert fire(incident, 0)
    assert paged(incident) == [("bob", 0, 0)]
    assert any("alice is no longer active, bob takes the turn" in m for m in timeline(incident))


@pytest.mark.django_db
def test_an_escalation_snapshot_from_before_round_robins_still_fires(service, lead):
    incident = open_incident(service)
    row = IncidentEscalation.objects.get(incident=incident)
    row.snapshot = {
        "policy": row.policy_id,
        "name": "Old",
        "repeat": 0,
        "repeat_delay": 300,
        "steps": [
            {"delay": 0, "targets": [{"type": "user", "id": lead.pk, "username": "lee-lead"}]}
        ],
    }
    row.save()
    assert fire(incident, 0)
    assert paged(incident) == [("lee-lead", 0, 0)]


# --- admin ---------------------------------------------------------------------------------------


def step_form_data(policy, *, round_robins: str, targets=()):
    step = EscalationStep.objects.get(policy=policy, order=0)
    other = EscalationStep.objects.get(policy=policy, order=1)
    lead_target = other.targets.get()
    return {
        "name": policy.name,
        "description": "",
        "repeat": "1",
        "repeat_delay": "00:05:00",
        "steps-TOTAL_FORMS": "2",
        "steps-INITIAL_FORMS": "2",
        "steps-0-id": str(step.pk),
        "steps-0-policy": str(policy.pk),
        "steps-0-order": "0",
        "steps-0-delay": "00:00:00",
        "steps-0-targets": list(targets),
        "steps-0-round_robins": round_robins,
        "steps-1-id": str(other.pk),
        "steps-1-policy": str(policy.pk),
        "steps-1-order": "1",
        "steps-1-delay": "00:15:00",
        "steps-1-targets": [f"user:{lead_target.user_id}"],
        "steps-1-round_robins": "",
        "routes-TOTAL_FORMS": "0",
        "routes-INITIAL_FORMS": "0",
    }


@pytest.mark.django_db
def test_policy_page_shows_the_round_robin_in_order(admin_client, policy):
    answer = admin_client.get(reverse("admin:incidents_escalationpolicy_change", args=[policy.pk]))
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "1. at once: Round robin: alice → bob → carol" in text
    assert "alice, bob, carol</textarea>" in text


@pytest.mark.django_db
def test_admin_edits_the_round_robin_members(admin_client, policy):
    UserFactory(username="dana")
    url = reverse("admin:incidents_escalationpolicy_change", args=[policy.pk])
    answer = admin_client.post(url, step_form_data(policy, round_robins="carol, dana, alice"))
    assert answer.status_code == 302, answer.content.decode()[:3000]
    assert members(round_robin_target(policy)) == ["carol", "dana", "alice"]
    page = admin_client.get(url).content.decode()
    assert "Round robin: carol → dana → alice" in page


@pytest.mark.django_db
def test_admin_adds_a_round_robin_to_a_new_policy(admin_client, people):
    data = {
        "name": "Triage",
        "description": "",
        "repeat": "0",
        "repeat_delay": "00:05:00",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-0-order": "0",
        "steps-0-delay": "00:00:00",
        "steps-0-round_robins": "bob, alice",
        "routes-TOTAL_FORMS": "0",
        "routes-INITIAL_FORMS": "0",
    }
    answer = admin_client.post(reverse("admin:incidents_escalationpolicy_add"), data)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    policy = EscalationPolicy.objects.get(name="Triage")
    assert members(round_robin_target(policy)) == ["bob", "alice"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("line", "says"),
    [
        ("alice, nobody-here", "No active user named nobody-here."),
        ("alice", "at least two different people"),
        ("alice, alice", "each person once"),
    ],
)
def test_admin_refuses_a_bad_round_robin_and_changes_nothing(admin_client, policy, line, says):
    url = reverse("admin:incidents_escalationpolicy_change", args=[policy.pk])
    answer = admin_client.post(url, step_form_data(policy, round_robins=line))
    assert answer.status_code == 200
    assert says in answer.content.decode()
    assert members(round_robin_target(policy)) == ["alice", "bob", "carol"]


@pytest.mark.django_db
def test_the_step_page_does_not_add_a_memberless_round_robin(admin_client, policy):
    step = EscalationStep.objects.get(policy=policy, order=1)
    target = step.targets.get()
    data = {
        "policy": str(policy.pk),
        "order": "1",
        "delay": "00:15:00",
        "targets-TOTAL_FORMS": "2",
        "targets-INITIAL_FORMS": "1",
        "targets-MIN_NUM_FORMS": "1",
        "targets-0-id": str(target.pk),
        "targets-0-step": str(step.pk),
        "targets-0-type": "user",
        "targets-0-user": str(target.user_id),
        "targets-1-step": str(step.pk),
        "targets-1-type": "round_robin",
    }
    url = reverse("admin:incidents_escalationstep_change", args=[step.pk])
    answer = admin_client.post(url, data)
    assert answer.status_code == 200
    assert "Add a round robin on the policy&#x27;s page" in answer.content.decode()
    assert step.targets.count() == 1


# --- two incidents at the same instant -----------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_incidents_opened_at_once_get_two_different_people(service):
    """On PostgreSQL the target row's lock orders them; on SQLite, its one writer at a time."""
    start = threading.Barrier(2)
    opened: list[int] = []
    errors: list[BaseException] = []

    def open_one(n: int) -> None:
        try:
            start.wait(timeout=60)
            opened.append(make_incident(title=f"At once {n}", services=[service]).pk)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    for _ in range(3):
        opened.clear()
        threads = [threading.Thread(target=open_one, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors
        assert len(opened) == 2
        chosen = [
            IncidentEscalation.objects.get(incident_id=pk).snapshot["steps"][0]["targets"][0][
                "username"
            ]
            for pk in opened
        ]
        assert len(set(chosen)) == 2, chosen
    # Six incidents, three people: each had exactly two turns, and the counter went round twice.
    turns = [
        row.snapshot["steps"][0]["targets"][0]["username"]
        for row in IncidentEscalation.objects.all()
    ]
    assert sorted(turns) == ["alice", "alice", "bob", "bob", "carol", "carol"]
    assert round_robin_target(service.escalation_policy).next_index == 0


@pytest.mark.django_db
def test_the_policy_page_costs_the_same_queries_however_many_round_robins(
    admin_client, django_assert_max_num_queries, people
):
    extra = [UserFactory(username=f"extra{n}") for n in range(8)]
    for count in (1, 8):
        policy = escalation_policy_create(
            name=f"Many {count}",
            steps=[
                StepInput(
                    delay=timedelta(minutes=n), targets=[RoundRobin(users=[*people, extra[n]])]
                )
                for n in range(count)
            ],
        )
        with django_assert_max_num_queries(22):
            answer = admin_client.get(
                reverse("admin:incidents_escalationpolicy_change", args=[policy.pk])
            )
        assert answer.status_code == 200
        assert f"Round robin: alice → bob → carol → extra{count - 1}" in answer.content.decode()
