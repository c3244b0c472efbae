"""The default escalation policy: no paging incident pages nobody."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.utils import timezone
from knox.models import AuthToken
from rest_framework.test import APIClient

from incidents.core.checks import default_escalation_policy_is_set
from incidents.core.errors import DomainError
from incidents.core.lifecycle import (
    incident_acknowledge,
    incident_set_services,
    incident_set_severity,
)
from incidents.models import (
    EscalationPolicy,
    EscalationState,
    Incident,
    IncidentEscalation,
    Integration,
    Notification,
    TimelineEvent,
)
from incidents.paging import engine as escalation
from incidents.paging import sweep as timer_sweep
from incidents.paging.delivery import contact_method_create, deliver_due
from incidents.paging.policies import (
    StepInput,
    escalation_policy_create,
    escalation_policy_set_default,
)
from tests.factories import ServiceFactory, UserFactory, make_incident, make_schedule, severity
from tests.ingest_payloads import am_notification
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db


@pytest.fixture
def pat():
    return UserFactory(username="pat", email="pat@example.com")


@pytest.fixture
def schedule(pat):
    return make_schedule(name="Platform primary", participants=[pat])


def on_call_policy(schedule, name="Platform on-call", **kwargs):
    return escalation_policy_create(
        name=name, steps=[StepInput(delay=timedelta(0), targets=[schedule])], **kwargs
    )


def api_for(user) -> APIClient:
    _, key = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def sweep():
    """What the beat sweep does every few seconds (no grace: nothing else will send them),
    then what the delivery workers do with the rows it hands them."""
    counts = timer_sweep.escalation_sweep(budget_seconds=5, grace_seconds=0)
    deliver_due()
    return counts


def test_alertmanager_integration_without_service_pages_the_oncall_through_the_default_policy(
    client, pat, schedule, capsys
):
    with WebhookSink() as sink:
        contact_method_create(user=pat, kind="webhook", address=f"{sink.url}/pat")
        on_call_policy(schedule, default=True)
        # As the README shows it: no --service.
        call_command("create_integration", "prom", "--kind", "alertmanager")
        token = capsys.readouterr().out.strip().splitlines()[-1]
        assert Integration.objects.get(name="prom").service is None

        answer = client.post(
            "/api/v1/integrations/alertmanager/",
            data=json.dumps(am_notification()),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        assert answer.status_code == 202, answer.content
        incident = Incident.objects.get()
        assert incident.severity.key == "P1" and not incident.services.exists()
        assert IncidentEscalation.objects.get(incident=incident).policy_name == "Platform on-call"

        sweep()
        assert len(sink.bodies("/pat")) == 1
        assert incident.reference in sink.bodies("/pat")[0]["text"]


def test_service_policy_still_wins_over_the_default(pat, schedule):
    lead = UserFactory(username="lee")
    on_call_policy(schedule, default=True)
    own = escalation_policy_create(
        name="Checkout", steps=[StepInput(delay=timedelta(0), targets=[lead])]
    )
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=own)
    incident = make_incident(services=[service])
    assert IncidentEscalation.objects.get(incident=incident).policy_name == "Checkout"


def test_non_paging_severity_is_not_caught_by_the_default(schedule):
    on_call_policy(schedule, default=True)
    incident = make_incident(severity_key="P3")
    assert not IncidentEscalation.objects.filter(incident=incident).exists()


def test_only_one_policy_is_default_setting_a_new_one_unsets_the_old(schedule):
    first = on_call_policy(schedule, default=True)
    second = on_call_policy(schedule, name="Second", default=True)
    first.refresh_from_db()
    assert (first.is_default, second.is_default) == (False, True)
    escalation_policy_set_default(policy=second, default=False)
    assert not EscalationPolicy.objects.filter(is_default=True).exists()


def test_the_database_refuses_two_defaults(schedule):
    on_call_policy(schedule, default=True)
    other = on_call_policy(schedule, name="Other")
    other.is_default = True
    with pytest.raises(IntegrityError), transaction.atomic():
        other.save()


def test_setting_a_default_later_starts_the_escalation_of_incidents_nobody_was_paged_for(
    pat, schedule, django_capture_on_commit_callbacks, mailoutbox
):
    incident = make_incident()
    assert not IncidentEscalation.objects.filter(incident=incident).exists()
    acknowledged = incident_acknowledge(incident=make_incident(title="Acknowledged already"))

    with django_capture_on_commit_callbacks(execute=True):
        answer = api_for(UserFactory(username="max", is_superuser=True)).post(
            "/api/v1/escalation-policies/",
            {
                "name": "Catch-all",
                "default": True,
                "steps": [
                    {"delay_seconds": 0, "targets": [{"type": "schedule", "id": schedule.pk}]}
                ],
            },
            format="json",
        )
    assert answer.status_code == 201, answer.json()
    assert answer.json()["default"] is True
    assert EscalationPolicy.objects.get(pk=answer.json()["id"]).is_default
    assert IncidentEscalation.objects.get(incident=incident).policy_name == "Catch-all"
    assert not IncidentEscalation.objects.filter(incident=acknowledged).exists()
    sweep()
    assert [m.to for m in mailoutbox] == [["pat@example.com"]]
    assert incident.reference in mailoutbox[0].subject


def test_adding_a_service_with_a_policy_later_starts_the_escalation(pat, schedule):
    incident = make_incident()
    service = ServiceFactory(
        name="Checkout", slug="checkout", escalation_policy=on_call_policy(schedule)
    )
    incident_set_services(incident=incident, services=[service])
    row = IncidentEscalation.objects.get(incident=incident)
    assert (row.policy_name, row.state) == ("Platform on-call", EscalationState.ACTIVE)
    sweep()
    assert Notification.objects.filter(incident=incident, recipient="pat").exists()


def test_raising_the_severity_to_a_paging_one_starts_the_default_policy(schedule):
    on_call_policy(schedule, default=True)
    incident = make_incident(severity_key="P3")
    incident_set_severity(incident=incident, severity=severity("P1"))
    assert IncidentEscalation.objects.get(incident=incident).policy_name == "Platform on-call"


def test_setting_a_service_policy_through_the_api_starts_its_incidents(
    schedule, django_capture_on_commit_callbacks
):
    service = ServiceFactory(name="Checkout", slug="checkout")
    incident = make_incident(services=[service])
    policy = on_call_policy(schedule)
    api = api_for(UserFactory(username="max", is_superuser=True))
    with django_capture_on_commit_callbacks(execute=True):
        answer = api.patch(
            f"/api/v1/services/{service.pk}/", {"escalation_policy": policy.pk}, format="json"
        )
    assert answer.status_code == 200, answer.json()
    assert IncidentEscalation.objects.get(incident=incident).policy_name == "Platform on-call"


def test_escalate_now_starts_an_incident_that_nothing_covered_when_it_opened(pat, schedule):
    incident = make_incident()
    on_call_policy(schedule, default=True)  # its on-commit catch-up does not run in this test
    assert not IncidentEscalation.objects.filter(incident=incident).exists()
    escalation.escalation_escalate_now(incident=incident)
    assert Notification.objects.filter(incident=incident, recipient="pat", reason="page").exists()
    assert TimelineEvent.objects.filter(
        incident=incident, message__startswith="Escalate now: step 1"
    ).exists()


def test_escalate_now_without_any_policy_says_what_to_do():
    incident = make_incident()
    with pytest.raises(DomainError, match="Page someone instead, or set a default"):
        escalation.escalation_escalate_now(incident=incident)


def test_escalate_now_on_an_exhausted_escalation_pages_the_last_step_again(pat, schedule):
    incident = make_incident(
        services=[ServiceFactory(slug="checkout", escalation_policy=on_call_policy(schedule))]
    )
    sweep()
    assert IncidentEscalation.objects.get(incident=incident).state == EscalationState.EXHAUSTED
    escalation.escalation_escalate_now(incident=incident)
    assert Notification.objects.filter(incident=incident, recipient="pat").count() == 2
    assert IncidentEscalation.objects.get(incident=incident).state == EscalationState.EXHAUSTED


def test_system_check_reports_a_missing_default_at_info_level_only(schedule):
    found = default_escalation_policy_is_set(None)
    assert [(m.id, m.level) for m in found] == [("tocsin.I001", 20)]
    on_call_policy(schedule, default=True)
    assert default_escalation_policy_is_set(None) == []


def test_seed_demo_sets_a_default_policy():
    call_command("seed_demo")
    assert EscalationPolicy.objects.get(is_default=True).name == "Platform on-call"
    incident = make_incident(title="From an integration without a service")
    assert IncidentEscalation.objects.get(incident=incident).policy_name == "Platform on-call"
    assert timezone.now()  # seeded data is usable at once


def test_patch_makes_an_existing_policy_the_default_and_needs_the_permission(
    schedule, responder, django_capture_on_commit_callbacks
):
    incident = make_incident()
    old = on_call_policy(schedule, name="Old", default=True)
    policy = on_call_policy(schedule)
    url = f"/api/v1/escalation-policies/{policy.pk}/"
    assert api_for(responder).patch(url, {"default": True}, format="json").status_code == 403
    manager = api_for(UserFactory(username="max", is_superuser=True))
    assert manager.patch(url, {"default": "yes"}, format="json").status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        answer = manager.patch(url, {"default": True}, format="json")
    assert answer.status_code == 200 and answer.json()["default"] is True
    old.refresh_from_db()
    assert not old.is_default
    assert IncidentEscalation.objects.get(incident=incident).policy_name == "Platform on-call"


def test_the_incident_api_says_why_nobody_is_paged_until_a_default_covers_it(
    pat, schedule, django_capture_on_commit_callbacks
):
    incident = make_incident()
    api = api_for(UserFactory(username="max", is_superuser=True))

    before = api.get(f"/api/v1/incidents/{incident.pk}/").json()
    assert before["nobody_paged"].startswith("No escalation policy covers it")

    with django_capture_on_commit_callbacks(execute=True):
        on_call_policy(schedule, default=True)
    sweep()

    assert api.get(f"/api/v1/incidents/{incident.pk}/").json()["nobody_paged"] is None
