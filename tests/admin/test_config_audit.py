"""Configuration changes leave audit records with their actor, shown on the object's History
page and in the admin's "Audit log"; admin writes go through the domain and refuse bad input on
the form, changing nothing."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from incidents.core.services import service_create, service_update
from incidents.models import (
    ConfigChange,
    ContactMethod,
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    Integration,
    Override,
    Schedule,
    Service,
    SeverityRoute,
    TeamChannel,
)
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.admin.test_oncall_admin import schedule_post
from tests.factories import UserFactory, make_integration, make_schedule, severity

pytestmark = pytest.mark.django_db


@pytest.fixture
def people():
    return [UserFactory(username="alice"), UserFactory(username="bob")]


def records_of(obj):
    return list(
        ConfigChange.objects.filter(
            content_type__model=obj._meta.model_name, object_id=str(obj.pk)
        ).order_by("id")
    )


def only_record(obj, action="added"):
    rows = [r for r in records_of(obj) if r.action == action]
    assert len(rows) == 1, rows
    return rows[0]


# --- every configuration model: admin changes are audited with their actor --------------------


def test_admin_schedule_add_goes_through_schedule_create_and_audits(
    admin_client, admin_user, people
):
    answer = admin_client.post(reverse("admin:incidents_schedule_add"), schedule_post())
    assert answer.status_code == 302
    schedule = Schedule.objects.get(name="Platform primary")
    assert only_record(schedule).actor == admin_user
    rotation = schedule.rotations.get()
    assert only_record(rotation).actor == admin_user
    assert only_record(rotation).note == "Participants: bob, alice"
    channel = schedule.handoff_channels.get()
    record = only_record(channel)
    # The address is a credential: the log keeps it masked.
    assert record.after["address"] == "https://hooks.example.com/…/••••"


def test_admin_schedule_change_records_before_and_after(admin_client, admin_user, people):
    schedule = make_schedule(participants=people)
    rotation = schedule.rotations.get()
    data = schedule_post(
        **{
            "time_zone": "Europe/Paris",
            "rotations-INITIAL_FORMS": "1",
            "rotations-0-id": str(rotation.pk),
            "rotations-0-schedule": str(schedule.pk),
            "rotations-0-participant_usernames": "alice, bob",
            "rotations-0-name": "Layer 1",
            "handoff_channels-TOTAL_FORMS": "0",
        }
    )
    answer = admin_client.post(reverse("admin:incidents_schedule_change", args=[schedule.pk]), data)
    assert answer.status_code == 302
    record = only_record(schedule, "changed")
    assert (record.actor, record.before, record.after) == (
        admin_user,
        {"time_zone": "UTC"},
        {"time_zone": "Europe/Paris"},
    )


def test_admin_policy_with_steps_targets_and_routes_is_audited(admin_client, admin_user):
    lead = UserFactory(username="lead")
    data = {
        "name": "P0 lead",
        "description": "",
        "default": "on",
        "repeat": "0",
        "repeat_delay": "00:05:00",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-0-order": "0",
        "steps-0-delay": "00:00:00",
        "steps-0-targets": [f"user:{lead.pk}"],
        "routes-TOTAL_FORMS": "1",
        "routes-INITIAL_FORMS": "0",
        "routes-0-severity": str(severity("P0").pk),
        "routes-0-service": "",
    }
    answer = admin_client.post(reverse("admin:incidents_escalationpolicy_add"), data)
    assert answer.status_code == 302, answer.content.decode()[:2000]
    policy = EscalationPolicy.objects.get(name="P0 lead")
    assert only_record(policy).actor == admin_user
    default = only_record(policy, "changed")
    assert (default.before, default.after) == ({"is_default": False}, {"is_default": True})
    step = policy.steps.get()
    assert only_record(step).after["targets"] == ["User: lead"]
    assert only_record(SeverityRoute.objects.get(policy=policy)).actor == admin_user


def test_admin_team_channel_contact_method_and_integration_are_audited(admin_client, admin_user):
    pat = UserFactory(username="pat")
    admin_client.post(
        reverse("admin:incidents_teamchannel_add"),
        {"name": "Platform", "kind": "email", "address": "platform@example.com"},
    )
    admin_client.post(
        reverse("admin:incidents_contactmethod_add"),
        {
            "user": str(pat.pk),
            "kind": "webhook",
            "address": "https://hooks.example.com/pat",
            "label": "",
            "rules-TOTAL_FORMS": "0",
            "rules-INITIAL_FORMS": "0",
        },
    )
    admin_client.post(
        reverse("admin:incidents_integration_add"),
        {
            "name": "Prometheus",
            "kind": "alertmanager",
            "enabled": "on",
            "severity_mapping": "{}",
            "rate_limit_per_second": "100",
            "rate_limit_burst": "1000",
            "resolve_incident_on_alert_resolve": "on",
        },
    )
    channel = TeamChannel.objects.get(name="Platform")
    assert only_record(channel).after["address"] == "p••••@example.com"
    method = ContactMethod.objects.get(user=pat)
    assert only_record(method).actor == admin_user
    integration = Integration.objects.get(name="Prometheus")
    assert only_record(integration).actor == admin_user
    assert "token_hash" not in only_record(integration).after


def test_rotating_an_integration_token_is_audited_without_the_token(admin_client, admin_user):
    admin_client.post(
        reverse("admin:incidents_integration_changelist"),
        {
            "action": "rotate_token",
            "_selected_action": [str(make_integration()[0].pk)],
        },
    )
    integration = Integration.objects.get()
    record = only_record(integration, "changed")
    assert (record.actor, record.note, record.after) == (admin_user, "Rotated the token.", {})


def test_admin_override_and_service_delete_are_audited(admin_client, admin_user, people):
    schedule = make_schedule(participants=people)
    service = service_create(actor=None, name="Search", slug="search")
    answer = admin_client.post(
        reverse("admin:incidents_override_add"),
        {
            "schedule": str(schedule.pk),
            "user": str(people[1].pk),
            "starts_at_0": "2030-01-01",
            "starts_at_1": "09:00",
            "ends_at_0": "2030-01-02",
            "ends_at_1": "09:00",
            "replaces": "",
            "reason": "swap",
        },
    )
    assert answer.status_code == 302
    assert only_record(Override.objects.get()).actor == admin_user
    deleted = admin_client.post(
        reverse("admin:incidents_service_delete", args=[service.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 302
    assert not Service.objects.exists()
    record = ConfigChange.objects.get(action="deleted")
    assert (record.actor, record.object_repr, record.before["slug"]) == (
        admin_user,
        "Search",
        "search",
    )


# --- History page and Audit log ---------------------------------------------------------------


def test_history_page_lists_the_objects_audit_records(admin_client, admin_user):
    service = service_create(actor=admin_user, name="Search", slug="search")
    service_update(service=service, actor=admin_user, public_name="Site search")
    answer = admin_client.get(reverse("admin:incidents_service_history", args=[service.pk]))
    assert answer.status_code == 200
    text = answer.content.decode()
    assert "Change history: Search" in text
    assert "Site search" in text and "public_name" in text


def _many_changes(actors, prefix, count):
    make_schedule(name=f"{prefix} schedule", participants=actors[:1])
    for n in range(count):
        actor = actors[n % len(actors)]
        service = service_create(actor=actor, name=f"{prefix} {n}", slug=f"{prefix}-{n}")
        service_update(service=service, actor=actor, description=f"number {n}")


def test_audit_log_is_newest_first_filterable_and_its_queries_do_not_grow(
    admin_client, admin_user, django_assert_max_num_queries
):
    actors = [admin_user, UserFactory(username="carol")]
    _many_changes(actors, "few", 5)
    url = reverse("admin:incidents_configchange_changelist")
    with django_assert_max_num_queries(14):
        few = admin_client.get(url)
    _many_changes(actors[1:], "many", 40)
    with django_assert_max_num_queries(14):
        many = admin_client.get(url)
    assert few.status_code == many.status_code == 200
    rows = list(many.context["cl"].result_list)
    assert [r.at for r in rows] == sorted((r.at for r in rows), reverse=True)
    # Each row names its model and its actor in their own columns.
    html = many.content.decode()
    assert '<td class="field-model_name">service</td>' in html
    carol_label = ConfigChange.objects.filter(actor=actors[1]).values_list("actor_label").first()
    assert f'<td class="field-who">{carol_label[0]}</td>' in html
    carol = actors[1]
    by_actor = admin_client.get(url, {"actor": carol.pk})
    assert {r.actor_id for r in by_actor.context["cl"].result_list} == {carol.pk}
    schedule_type = ConfigChange.objects.filter(content_type__model="schedule").first()
    by_model = admin_client.get(url, {"model": schedule_type.content_type_id})
    assert {r.content_type.model for r in by_model.context["cl"].result_list} == {"schedule"}


def test_audit_log_needs_its_permission(client, viewer):
    url = reverse("admin:incidents_configchange_changelist")
    staff = UserFactory(username="no-group", is_staff=True)
    client.force_login(staff)
    assert client.get(url).status_code == 403
    staff.user_permissions.add(Permission.objects.get(codename="view_configchange"))
    assert client.get(url).status_code == 200
    # Every staff group reads it (Viewer is the smallest).
    client.force_login(viewer)
    assert client.get(url).status_code == 200


# --- admin writes refuse bad input on the form and change nothing -----------------------------


@pytest.mark.parametrize(
    ("model", "data"),
    [
        ("teamchannel", {"name": "Ops", "kind": "webhook", "address": "not a url"}),
        ("teamchannel", {"name": "Ops", "kind": "email", "address": "nobody-at-example"}),
        (
            "contactmethod",
            {
                "kind": "webhook",
                "address": "ftp://example.com/x",
                "label": "",
                "rules-TOTAL_FORMS": "0",
                "rules-INITIAL_FORMS": "0",
            },
        ),
    ],
)
def test_bad_addresses_are_refused_on_the_form(admin_client, model, data):
    if model == "contactmethod":
        data = {**data, "user": str(UserFactory(username="pat").pk)}
    answer = admin_client.post(reverse(f"admin:incidents_{model}_add"), data)
    assert answer.status_code == 200
    assert "address" in answer.context["adminform"].form.errors
    assert not TeamChannel.objects.exists() and not ContactMethod.objects.exists()
    assert not ConfigChange.objects.exists()


def test_a_saved_channel_edited_to_a_bad_address_keeps_the_old_one(admin_client):
    channel = TeamChannel.objects.create(name="Ops", kind="email", address="ops@example.com")
    answer = admin_client.post(
        reverse("admin:incidents_teamchannel_change", args=[channel.pk]),
        {"name": "Ops", "kind": "webhook", "address": ""},
    )
    assert answer.status_code == 200
    assert "address" in answer.context["adminform"].form.errors
    channel.refresh_from_db()
    assert (channel.kind, channel.address) == ("email", "ops@example.com")


def test_a_policy_step_without_a_target_is_refused_on_the_form(admin_client):
    data = {
        "name": "Nobody",
        "description": "",
        "repeat": "0",
        "repeat_delay": "00:05:00",
        "steps-TOTAL_FORMS": "1",
        "steps-INITIAL_FORMS": "0",
        "steps-0-order": "0",
        "steps-0-delay": "00:02:00",
        "routes-TOTAL_FORMS": "0",
        "routes-INITIAL_FORMS": "0",
    }
    answer = admin_client.post(reverse("admin:incidents_escalationpolicy_add"), data)
    assert answer.status_code == 200
    assert "Each step needs at least one target" in answer.content.decode()
    assert not EscalationPolicy.objects.exists() and not EscalationStep.objects.exists()


def test_removing_a_steps_last_target_is_refused_on_the_form(admin_client):
    lee = UserFactory(username="lee")
    policy = escalation_policy_create(
        name="Lee", steps=[StepInput(delay=timedelta(0), targets=[lee])]
    )
    step = policy.steps.get()
    target = step.targets.get()
    answer = admin_client.post(
        reverse("admin:incidents_escalationstep_change", args=[step.pk]),
        {
            "policy": str(policy.pk),
            "order": "0",
            "delay": "00:00:00",
            "targets-TOTAL_FORMS": "1",
            "targets-INITIAL_FORMS": "1",
            "targets-0-id": str(target.pk),
            "targets-0-step": str(step.pk),
            "targets-0-type": "user",
            "targets-0-user": str(lee.pk),
            "targets-0-DELETE": "on",
        },
    )
    assert answer.status_code == 200
    assert "Each step needs at least one target" in answer.content.decode()
    assert EscalationTarget.objects.filter(pk=target.pk).exists()


def test_a_taken_schedule_name_is_refused_on_the_form(admin_client, people):
    make_schedule(name="Taken", participants=people)
    answer = admin_client.post(reverse("admin:incidents_schedule_add"), schedule_post(name="Taken"))
    assert answer.status_code == 200
    assert "already exists" in answer.content.decode()
    assert Schedule.objects.count() == 1


def test_a_domain_refusal_at_save_time_comes_back_onto_the_form(admin_client, monkeypatch):
    """What only the domain can see at save time (a row another request just wrote, say):
    the write is rolled back and the form shows the refusal on its field, not a 500."""
    from incidents.admin.escalation import TeamChannelAdmin
    from incidents.core.errors import DomainError

    def refuse_after_writing(self, request, obj, form, change):
        obj.save()
        raise DomainError("Another channel took this name a moment ago.", field="name")

    monkeypatch.setattr(TeamChannelAdmin, "domain_save", refuse_after_writing)
    answer = admin_client.post(
        reverse("admin:incidents_teamchannel_add"),
        {"name": "Ops", "kind": "email", "address": "ops@example.com"},
    )
    assert answer.status_code == 200
    form = answer.context["adminform"].form
    assert form.errors["name"] == ["Another channel took this name a moment ago."]
    assert not TeamChannel.objects.exists()


@pytest.mark.parametrize("steps", [2, 8])
def test_the_policy_page_costs_the_same_queries_however_many_steps(
    admin_client, django_assert_max_num_queries, steps
):
    lee = UserFactory(username="lee")
    policy = escalation_policy_create(
        name="Long",
        steps=[StepInput(delay=timedelta(minutes=n), targets=[lee]) for n in range(steps)],
    )
    with django_assert_max_num_queries(22):
        answer = admin_client.get(
            reverse("admin:incidents_escalationpolicy_change", args=[policy.pk])
        )
    assert answer.status_code == 200
