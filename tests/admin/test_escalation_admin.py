"""Escalation and delivery log in the admin: pages render, actions work, lists stay cheap."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.models import (
    EscalationPolicy,
    EscalationStep,
    Notification,
    NotificationStatus,
    SeverityRoute,
    TeamChannel,
)
from incidents.paging import engine as escalation
from incidents.paging.delivery import contact_method_create
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, make_incident, make_schedule, severity

pytestmark = pytest.mark.django_db


@pytest.fixture
def pat():
    return UserFactory(username="pat")


@pytest.fixture
def policy(pat):
    schedule = make_schedule(name="Checkout primary", participants=[pat])
    return escalation_policy_create(
        name="Checkout",
        steps=[
            StepInput(delay=timedelta(0), targets=[schedule]),
            StepInput(delay=timedelta(minutes=15), targets=[UserFactory(username="lee")]),
        ],
    )


def escalated_incident(policy, title="Checkout returns 502"):
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
    incident = make_incident(title=title, services=[service])
    state = escalation.escalation_start(incident_id=incident.pk)
    escalation.escalation_fire_step(escalation_id=state.pk)
    return incident


@pytest.mark.parametrize(
    "model",
    [
        "escalationpolicy",
        "teamchannel",
        "severityroute",
        "incidentescalation",
        "notification",
        "contactmethod",
    ],
)
def test_changelists_render(admin_client, policy, model):
    escalated_incident(policy)
    answer = admin_client.get(reverse(f"admin:incidents_{model}_changelist"))
    assert answer.status_code == 200


@pytest.mark.parametrize(
    "model", ["escalationpolicy", "teamchannel", "severityroute", "contactmethod"]
)
def test_add_pages_render(admin_client, model):
    assert admin_client.get(reverse(f"admin:incidents_{model}_add")).status_code == 200


def test_policy_page_shows_the_escalation_path(admin_client, policy):
    answer = admin_client.get(reverse("admin:incidents_escalationpolicy_change", args=[policy.pk]))
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "1. at once: On-call of a schedule: Checkout primary" in text
    assert "2. after 15m: User: lee" in text


def test_step_page_edits_targets(admin_client, policy):
    step = EscalationStep.objects.get(policy=policy, order=0)
    answer = admin_client.get(reverse("admin:incidents_escalationstep_change", args=[step.pk]))
    assert answer.status_code == 200


def test_policy_add_form_creates_a_policy_with_a_step_and_route(admin_client):
    data = {
        "name": "P0 lead",
        "description": "",
        "repeat": "1",
        "repeat_delay": "00:05:00",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-0-order": "0",
        "steps-0-delay": "00:02:00",
        "steps-0-targets": [f"user:{UserFactory(username='lead').pk}"],
        "routes-TOTAL_FORMS": "1",
        "routes-INITIAL_FORMS": "0",
        "routes-0-severity": str(severity("P0").pk),
        "routes-0-service": "",
    }
    answer = admin_client.post(reverse("admin:incidents_escalationpolicy_add"), data)
    assert answer.status_code == 302, answer.content.decode()[:3000]
    policy = EscalationPolicy.objects.get(name="P0 lead")
    assert policy.steps.count() == 1
    assert [str(t) for t in policy.steps.get().targets.all()] == ["User: lead"]
    assert SeverityRoute.objects.get(severity__key="P0").policy == policy


def test_incident_page_shows_the_escalation_state(admin_client, policy):
    incident = escalated_incident(policy)
    answer = admin_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "step 2 of 2, round 1 of 1, next page at" in text


def test_escalate_now_action_on_the_incident_list(admin_client, policy):
    incident = escalated_incident(policy)
    answer = admin_client.post(
        reverse("admin:incidents_incident_changelist"),
        {"action": "escalate_now", "_selected_action": [incident.pk]},
        follow=True,
    )
    assert answer.status_code == 200
    assert f"Escalated {incident.reference} now." in answer.content.decode()
    assert Notification.objects.filter(incident=incident, recipient="lee").exists()


def test_escalate_now_without_policy_says_why(admin_client):
    incident = make_incident()
    answer = admin_client.post(
        reverse("admin:incidents_incident_changelist"),
        {"action": "escalate_now", "_selected_action": [incident.pk]},
        follow=True,
    )
    assert "has no escalation" in answer.content.decode()


def test_retry_action_queues_a_failed_notification_again(admin_client, policy, pat):
    incident = escalated_incident(policy)
    row = Notification.objects.get(incident=incident, recipient="pat")
    row.status, row.attempts, row.last_error = NotificationStatus.FAILED, 6, "HTTP 500"
    row.save()
    answer = admin_client.post(
        reverse("admin:incidents_notification_changelist"),
        {"action": "retry", "_selected_action": [row.pk]},
        follow=True,
    )
    assert "Queued 1 notification(s) again." in answer.content.decode()
    row.refresh_from_db()
    assert (row.status, row.attempts) == ("queued", 0)


def test_viewer_sees_notifications_but_cannot_retry(client, viewer, policy):
    incident = escalated_incident(policy)
    client.force_login(viewer)
    answer = client.get(reverse("admin:incidents_notification_changelist"))
    assert answer.status_code == 200
    assert b'value="retry"' not in answer.content
    row = Notification.objects.get(incident=incident, recipient="pat")
    assert row.status == "queued"


def test_notification_changelist_runs_a_fixed_number_of_queries(
    admin_client, policy, django_assert_max_num_queries
):
    def make(start, count):
        for n in range(start, start + count):
            user = UserFactory(username=f"user{n}")
            contact_method_create(user=user, kind="email", address=f"user{n}@example.com")
            incident = make_incident(title=f"Outage {n}")
            escalation.notify.page(
                incident=incident, users=[user], channels=[], rnd=0, step=0, now=timezone.now()
            )

    make(0, 5)
    url = reverse("admin:incidents_notification_changelist")
    with django_assert_max_num_queries(12) as five:
        assert admin_client.get(url).status_code == 200
    make(5, 45)
    with django_assert_max_num_queries(len(five.captured_queries)):
        assert admin_client.get(url).status_code == 200


def test_team_channel_changelist_lists_channels(admin_client):
    TeamChannel.objects.create(
        name="#checkout", kind="webhook", address="https://hooks.example.com/x"
    )
    answer = admin_client.get(reverse("admin:incidents_teamchannel_changelist"))
    assert "#checkout" in answer.content.decode()
