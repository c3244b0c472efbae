"""Configuration changed through the API leaves audit records naming the API user."""

import pytest

from incidents.models import (
    ConfigChange,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    Override,
    Rotation,
    Schedule,
)
from tests.api.test_escalation_api import policy_body
from tests.api.test_oncall_api import schedule_body
from tests.factories import UserFactory, api_client_for, make_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(manager):
    return api_client_for(manager)


def actors(model, action="added"):
    return list(
        ConfigChange.objects.filter(content_type__model=model, action=action).values_list(
            "actor__username", flat=True
        )
    )


def test_policy_created_and_made_default_through_the_api_is_audited(api, manager):
    schedule = make_schedule(name="Checkout primary", participants=[UserFactory(username="pat")])
    created = api.post("/api/v1/escalation-policies/", policy_body(schedule), format="json")
    assert created.status_code == 201, created.json()
    policy = EscalationPolicy.objects.get(pk=created.json()["id"])
    made_default = api.patch(
        f"/api/v1/escalation-policies/{policy.pk}/", {"default": True}, format="json"
    )
    assert made_default.status_code == 200
    assert actors("escalationpolicy") == [manager.username]
    assert actors("escalationstep") == [manager.username] * EscalationStep.objects.count()
    record = ConfigChange.objects.get(content_type__model="escalationpolicy", action="changed")
    assert (record.actor, record.after) == (manager, {"is_default": True})


def test_contact_method_added_through_the_api_is_audited_masked(api, manager):
    UserFactory(username="pat")
    answer = api.post(
        "/api/v1/users/pat/contact-methods/",
        {"kind": "webhook", "address": "https://hooks.example.com/T0/B0/secret"},
        format="json",
    )
    assert answer.status_code == 201
    method = ContactMethod.objects.get()
    record = ConfigChange.objects.get(object_id=str(method.pk), content_type__model="contactmethod")
    assert record.actor == manager
    assert "secret" not in str(record.after)


def test_schedule_rotation_people_and_override_through_the_api_are_audited(api, manager):
    for name in ("alice", "bob", "carol"):
        UserFactory(username=name)
    created = api.post("/api/v1/schedules/", schedule_body(), format="json")
    assert created.status_code == 201, created.content
    schedule = Schedule.objects.get(pk=created.json()["id"])
    rotation = Rotation.objects.get(schedule=schedule)
    people = api.patch(
        f"/api/v1/schedules/{schedule.pk}/rotations/{rotation.pk}/",
        {"participants": ["carol", "alice"]},
        format="json",
    )
    assert people.status_code == 200, people.content
    override = api.post(
        f"/api/v1/schedules/{schedule.pk}/overrides/",
        {
            "user": "bob",
            "start": "2031-01-01T09:00:00Z",
            "end": "2031-01-02T09:00:00Z",
            "reason": "swap",
        },
        format="json",
    )
    assert override.status_code == 201, override.content
    assert actors("schedule") == [manager.username]
    assert actors("handoffchannel") == [manager.username] * 2
    assert actors("override") == [manager.username]
    moved = ConfigChange.objects.filter(
        content_type__model="rotation", action="changed", object_id=str(rotation.pk)
    ).latest("id")
    assert moved.actor == manager
    assert moved.before == {"participants": ["alice", "bob"]}
    assert moved.after == {"participants": ["carol", "alice"]}
    assert Override.objects.count() == 1
