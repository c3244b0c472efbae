"""The admin as the main UI: every page renders, actions and moves go through the domain.

Superuser pages use `admin_client`; group members log in with `client.force_login` so the
staff groups' permissions are what is tested.
"""

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.core.lifecycle import (
    incident_acknowledge,
    incident_add_responder,
    incident_assign_commander,
    incident_resolve,
    status_update_post,
)
from incidents.models import Incident, Responder, Service, StatusUpdate
from tests.factories import ServiceFactory, UserFactory, make_incident, severity

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/incidents/incident/"


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    # Production settings use the manifest storage, which needs collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def change_url(incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def client_as(client, user):
    client.force_login(user)
    return client


def texts(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def run_action(client, action: str, *incidents):
    return client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [i.pk for i in incidents], "index": 0},
        follow=True,
    )


def change_form_data(response) -> dict:
    """The POST body the change page would send untouched, including every inline formset."""
    data = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        data.update(_as_post(form.add_prefix(name), field, value))
    for inline in response.context["inline_admin_formsets"]:
        formset = inline.formset
        for name, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{name}"] = value
        for subform in formset.forms:
            for name, field in subform.fields.items():
                value = subform.initial.get(name, field.initial)
                data.update(_as_post(subform.add_prefix(name), field, value))
    return data


def _as_post(key, field, value):
    if value is None:
        return {key: ""}
    if hasattr(value, "pk"):
        value = value.pk
    if isinstance(value, list):
        return {key: [getattr(v, "pk", v) for v in value]}
    if hasattr(value, "astimezone"):  # split date/time widget
        local = timezone.localtime(value)
        return {f"{key}_0": local.strftime("%Y-%m-%d"), f"{key}_1": local.strftime("%H:%M:%S")}
    if isinstance(value, bool):
        return {key: "on"} if value else {}
    return {key: value}


# --- pages ---------------------------------------------------------------------------------------


def test_every_changelist_add_and_change_page_renders_for_a_superuser(admin_client, incident):
    service = Service.objects.get(slug="checkout")
    pages = [
        "/admin/",
        CHANGELIST,
        f"{CHANGELIST}?o=3.-5",  # sorted by severity, then age
        f"{CHANGELIST}?o=-6",  # sorted by commander
        f"{CHANGELIST}?state=open&mine=yes&unacknowledged=yes&q=INC-1",
        "/admin/incidents/incident/add/",
        change_url(incident),
        reverse("admin:incidents_incident_post_update", args=[incident.pk]),
        "/admin/incidents/service/",
        "/admin/incidents/service/add/",
        reverse("admin:incidents_service_change", args=[service.pk]),
        "/admin/incidents/severity/",
        "/admin/incidents/severity/add/",
        reverse("admin:incidents_severity_change", args=[severity("P0").pk]),
    ]
    for page in pages:
        assert admin_client.get(page).status_code == 200, page


def test_site_is_branded_tocsin_with_its_stylesheet(admin_client):
    body = admin_client.get("/admin/").content.decode()
    assert "<title>" in body and "Tocsin" in body
    assert "incidents/admin.css" in body
    assert "Django administration" not in body


def test_changelist_shows_reference_badges_age_commander_and_missed_target(admin_client, user):
    incident = make_incident(
        title="Payments failing",
        severity_key="P0",
        detected_at=timezone.now() - timedelta(minutes=27),
    )
    incident_assign_commander(incident=incident, commander=user, actor=user)
    body = admin_client.get(CHANGELIST).content.decode()
    assert f'href="{change_url(incident)}' in body
    assert incident.reference in body
    assert "Payments failing" in body
    assert "--sev: #b91c1c" in body and ">P0<" in body
    assert "tocsin-tone--alarm" in body and ">Triggered<" in body
    assert "27m" in body
    assert user.get_full_name() in body
    # P0 must be acknowledged within 15 minutes.
    assert "Ack late" in body
    assert "Acknowledge target 15m: missed by 12m" in body


def test_open_incidents_are_listed_before_resolved_ones(admin_client):
    older_open = make_incident(title="Still burning")
    newer_resolved = make_incident(title="Put out")
    incident_resolve(incident=newer_resolved)
    body = admin_client.get(CHANGELIST).content.decode()
    assert body.index("Still burning") < body.index("Put out")
    assert older_open.number < newer_resolved.number


@pytest.mark.parametrize("term", ["INC-{n}", "inc-{n}", "{n}"])
def test_search_finds_an_incident_by_reference_or_number(admin_client, term):
    wanted = make_incident(title="Login broken")
    make_incident(title="Search slow")
    body = admin_client.get(CHANGELIST, {"q": term.format(n=wanted.number)}).content.decode()
    assert "Login broken" in body
    assert "Search slow" not in body


def test_search_finds_by_title_and_summary(admin_client):
    make_incident(title="Login broken", summary="SSO provider returns 500")
    make_incident(title="Search slow")
    assert "Login broken" in admin_client.get(CHANGELIST, {"q": "sso provider"}).content.decode()
    body = admin_client.get(CHANGELIST, {"q": "search"}).content.decode()
    assert "Search slow" in body and "Login broken" not in body


def test_filters_open_mine_unacknowledged_severity_status_service(admin_client, user):
    admin_user = admin_client.get("/admin/").wsgi_request.user
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    make_incident(title="Alpha triggered", severity_key="P0", services=[checkout])
    acked = make_incident(title="Bravo acked", severity_key="P2")
    incident_acknowledge(incident=acked, actor=user)
    resolved = make_incident(title="Charlie resolved")
    incident_resolve(incident=resolved)
    commanded = make_incident(title="Delta commanded")
    incident_assign_commander(incident=commanded, commander=admin_user, actor=admin_user)
    incident_add_responder(incident=acked, user=admin_user, actor=admin_user)

    def listed(**params):
        body = admin_client.get(CHANGELIST, params).content.decode()
        titles = ["Alpha triggered", "Bravo acked", "Charlie resolved", "Delta commanded"]
        return {t.split()[0] for t in titles if t in body}

    assert listed() == {"Alpha", "Bravo", "Charlie", "Delta"}
    assert listed(state="open") == {"Alpha", "Bravo", "Delta"}
    assert listed(state="resolved") == {"Charlie"}
    assert listed(mine="yes") == {"Bravo", "Delta"}
    assert listed(unacknowledged="yes") == {"Alpha", "Delta"}
    assert listed(severity__id__exact=severity("P2").pk) == {"Bravo"}
    assert listed(status__exact="acknowledged") == {"Bravo"}
    assert listed(services__id__exact=checkout.pk) == {"Alpha"}


# --- actions -------------------------------------------------------------------------------------


def test_acknowledge_action_acknowledges_and_names_the_user_in_the_timeline(client, responder):
    first, second = make_incident(title="One"), make_incident(title="Two")
    response = run_action(client_as(client, responder), "acknowledge", first, second)
    assert response.status_code == 200
    assert "Acknowledged 2 incidents." in texts(response)
    for incident in (first, second):
        incident.refresh_from_db()
        assert incident.status == IncidentStatus.ACKNOWLEDGED
        event = incident.timeline.get(kind=TimelineKind.STATUS)
        assert event.actor == responder
        assert "Triggered to Acknowledged" in event.message


def test_acknowledge_action_reports_refusals_and_no_ops_and_changes_nothing_else(client, responder):
    fresh = make_incident(title="Fresh")
    done = make_incident(title="Done")
    incident_resolve(incident=done)
    working = make_incident(title="Working")
    incident_acknowledge(incident=working)
    events_before = {i.pk: i.timeline.count() for i in (done, working)}

    response = run_action(client_as(client, responder), "acknowledge", fresh, done, working)

    [message] = texts(response)
    assert message.startswith("Acknowledged 1 incident.")
    assert f"{working.reference} was already acknowledged." in message
    assert (
        f"{done.reference} is resolved and cannot move to acknowledged. Reopen it first." in message
    )
    [stored] = list(response.context["messages"]) or [None]
    assert stored.level_tag == "warning"
    done.refresh_from_db()
    assert done.status == IncidentStatus.RESOLVED
    assert {i.pk: i.timeline.count() for i in (done, working)} == events_before


def test_resolve_action_resolves_open_incidents(client, responder):
    incident = make_incident()
    response = run_action(client_as(client, responder), "resolve", incident)
    assert "Resolved 1 incident." in texts(response)
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.timeline.filter(kind=TimelineKind.STATUS, actor=responder).exists()


def test_take_command_action_makes_the_manager_commander(client, manager):
    incident = make_incident()
    response = run_action(client_as(client, manager), "take_command", incident)
    assert "Took command of 1 incident." in texts(response)
    incident.refresh_from_db()
    assert incident.commander == manager
    event = incident.timeline.get(kind=TimelineKind.COMMANDER)
    assert event.actor == manager and "took command" in event.message


def test_actions_list_only_what_the_user_may_run(client, viewer, responder, manager):
    make_incident()

    def offered(user):
        client.force_login(user)
        response = client.get(CHANGELIST)
        form = response.context["action_form"]
        if form is None:  # no action at all: the admin drops the action bar
            return set()
        return {name for name, _ in form.fields["action"].choices if name}

    mine = {"acknowledge", "resolve", "take_command"}  # other areas add their own actions
    assert offered(viewer) == set()
    assert offered(responder) & mine == {"acknowledge", "resolve"}
    assert offered(manager) & mine == mine


def test_viewer_posting_an_action_gets_403_and_nothing_changes(client, viewer):
    incident = make_incident()
    response = client_as(client, viewer).post(
        CHANGELIST, {"action": "acknowledge", "_selected_action": [incident.pk], "index": 0}
    )
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED


def test_responder_cannot_take_command(client, responder):
    incident = make_incident()
    response = client_as(client, responder).post(
        CHANGELIST, {"action": "take_command", "_selected_action": [incident.pk], "index": 0}
    )
    assert response.status_code == 403
    incident.refresh_from_db()
    assert incident.commander is None


# --- the add and change pages --------------------------------------------------------------------


def test_adding_an_incident_opens_it_through_the_domain(client, manager):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    response = client_as(client, manager).post(
        "/admin/incidents/incident/add/",
        {
            "title": "Checkout 502s",
            "severity": severity("P1").pk,
            "services": [checkout.pk],
            "commander": manager.pk,
            "summary": "Card payments fail",
            "impact": "All EU customers",
            "started_at_0": "",
            "started_at_1": "",
        },
    )
    incident = Incident.objects.get(title="Checkout 502s")
    assert response.status_code == 302
    assert response["Location"] == change_url(incident)
    assert incident.status == IncidentStatus.TRIGGERED
    assert incident.created_by == manager
    assert incident.commander == manager
    assert list(incident.services.all()) == [checkout]
    assert incident.started_at == incident.detected_at
    created = incident.timeline.get(kind=TimelineKind.CREATED)
    assert created.actor == manager


def test_adding_an_incident_without_a_title_shows_the_field_error(client, manager):
    response = client_as(client, manager).post(
        "/admin/incidents/incident/add/", {"title": "", "severity": severity("P1").pk}
    )
    assert response.status_code == 200
    assert "title" in response.context["adminform"].form.errors
    assert not Incident.objects.exists()


def test_responder_cannot_open_incidents_from_the_admin(client, responder):
    assert client_as(client, responder).get("/admin/incidents/incident/add/").status_code == 403


def test_editing_the_change_page_goes_through_the_domain(client, manager):
    incident = make_incident(title="Old title")
    client_as(client, manager)
    data = change_form_data(client.get(change_url(incident)))
    data.update(
        title="New title",
        public_title="Checkout issues",
        severity=severity("P0").pk,
        commander=manager.pk,
    )
    response = client.post(change_url(incident), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    incident.refresh_from_db()
    assert (incident.title, incident.severity.key, incident.commander) == (
        "New title",
        "P0",
        manager,
    )
    assert incident.public_title == "Checkout issues"
    kinds = set(incident.timeline.filter(actor=manager).values_list("kind", flat=True))
    assert kinds == {TimelineKind.FIELD, TimelineKind.SEVERITY, TimelineKind.COMMANDER}


def test_status_number_and_timestamps_are_read_only_on_the_change_page(admin_client, incident):
    form = admin_client.get(change_url(incident)).context["adminform"].form
    assert {"status", "number", "detected_at", "acknowledged_at", "resolved_at"}.isdisjoint(
        form.fields
    )
    assert {"title", "severity", "commander", "summary", "impact", "started_at"} <= set(form.fields)


def test_responder_cannot_change_the_commander(client, responder):
    incident = make_incident()
    incident_assign_commander(incident=incident, commander=responder, actor=responder)
    response = client_as(client, responder).get(change_url(incident))
    assert "commander" not in response.context["adminform"].form.fields
    assert responder.get_full_name() in response.content.decode()


def test_responders_inline_adds_and_removes_through_the_domain(client, manager):
    helper = UserFactory(username="hal", first_name="Hal", last_name="Helper")
    incident = make_incident()
    client_as(client, manager)
    data = change_form_data(client.get(change_url(incident)))
    data.update(
        {
            "responders-TOTAL_FORMS": "1",
            "responders-0-user": helper.pk,
            "responders-0-role": "scribe",
            "responders-0-incident": incident.pk,
        }
    )
    assert client.post(change_url(incident), data).status_code == 302
    assert Responder.objects.get(incident=incident).user == helper
    added = incident.timeline.get(kind=TimelineKind.RESPONDER_ADDED)
    assert added.actor == manager and "Hal Helper as scribe" in added.message

    data = change_form_data(client.get(change_url(incident)))
    data["responders-0-DELETE"] = "on"
    assert client.post(change_url(incident), data).status_code == 302
    assert not Responder.objects.filter(incident=incident).exists()
    assert incident.timeline.filter(kind=TimelineKind.RESPONDER_REMOVED, actor=manager).exists()


def test_change_page_shows_timeline_updates_and_target_state(admin_client, responder):
    incident = make_incident(severity_key="P0", detected_at=timezone.now() - timedelta(minutes=5))
    incident_acknowledge(incident=incident, actor=responder)
    status_update_post(incident=incident, message="Rolling back the deploy.", actor=responder)
    response = admin_client.get(change_url(incident))
    body = response.content.decode()
    # Acknowledged about 5 minutes in (seconds pass while the test runs: 9 or 10m spare).
    assert re.search(r"Acknowledge target 15m: met with (9|10)m to spare", body)
    assert re.search(r"Resolve target 1h: due in (54|55)m", body)
    assert "Rolling back the deploy." in body
    timeline = next(
        i
        for i in response.context["inline_admin_formsets"]
        if i.opts.model._meta.model_name == "timelineevent"
    )
    # created, Tocsin's escalation note, acknowledged, update
    assert len(timeline.formset.forms) == incident.timeline.count() == 4
    assert not timeline.has_add_permission and not timeline.has_change_permission
    assert responder.get_full_name() in body


def test_change_page_shows_a_missed_resolve_target_in_red(admin_client):
    incident = make_incident(severity_key="P0", detected_at=timezone.now() - timedelta(hours=2))
    body = admin_client.get(change_url(incident)).content.decode()
    assert 'tocsin-target--missed">Resolve target 1h: missed by 1h' in body


def test_viewer_sees_the_incident_read_only(client, viewer, incident):
    response = client_as(client, viewer).get(change_url(incident))
    assert response.status_code == 200
    assert not response.context["has_change_permission"]
    body = response.content.decode()
    assert "Move to" not in body and "Post update" not in body
    assert client.post(change_url(incident), {"title": "x"}).status_code == 403


# --- status moves --------------------------------------------------------------------------------


def move(client, incident, to, reason=""):
    url = reverse("admin:incidents_incident_move", args=[incident.pk])
    return client.post(url, {"to": to, "reason": reason}, follow=True)


def test_move_buttons_offer_the_allowed_next_statuses(client, responder, incident):
    body = client_as(client, responder).get(change_url(incident)).content.decode()
    for status in ("acknowledged", "investigating", "identified", "monitoring", "resolved"):
        assert f'name="to" value="{status}"' in body
    assert 'value="triggered"' not in body


def test_moving_a_triggered_incident_to_investigating_acknowledges_first(
    client, responder, incident
):
    response = move(client_as(client, responder), incident, "investigating")
    assert f"{incident.reference} is now Investigating." in texts(response)
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING
    assert incident.acknowledged_at is not None
    moves = incident.timeline.filter(kind=TimelineKind.STATUS, actor=responder)
    assert moves.count() == 2


def test_an_illegal_move_shows_the_reason_and_changes_nothing(client, responder, incident):
    incident_resolve(incident=incident)
    before = incident.timeline.count()
    response = move(client_as(client, responder), incident, "acknowledged")
    assert response.status_code == 200
    assert (
        f"{incident.reference} is resolved and cannot move to acknowledged. Reopen it first."
        in texts(response)
    )
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert incident.timeline.count() == before


def test_reopening_needs_a_reason(client, responder, incident):
    incident_resolve(incident=incident)
    client_as(client, responder)
    assert "Say why the incident is being reopened." in texts(
        move(client, incident, "investigating")
    )
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED

    move(client, incident, "investigating", reason="Errors are back")
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.INVESTIGATING
    reopened = incident.timeline.get(kind=TimelineKind.REOPENED)
    assert reopened.actor == responder and "Errors are back" in reopened.message


def test_an_unknown_status_is_refused_with_a_message(client, responder, incident):
    response = move(client_as(client, responder), incident, "exploded")
    assert "Choose one of the offered statuses." in texts(response)


def test_viewer_cannot_move_an_incident(client, viewer, incident):
    url = reverse("admin:incidents_incident_move", args=[incident.pk])
    assert client_as(client, viewer).post(url, {"to": "acknowledged"}).status_code == 403
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.TRIGGERED


def test_move_of_a_missing_incident_is_404_and_get_is_405(admin_client):
    assert (
        admin_client.post("/admin/incidents/incident/999999/move/", {"to": "resolved"}).status_code
        == 404
    )
    assert admin_client.get("/admin/incidents/incident/999999/move/").status_code == 405


# --- status updates ------------------------------------------------------------------------------


def post_update_url(incident) -> str:
    return reverse("admin:incidents_incident_post_update", args=[incident.pk])


def test_post_update_page_is_prefilled_from_the_template(client, responder, incident):
    client_as(client, responder)
    form = client.get(post_update_url(incident)).context["form"]
    assert form.initial["status"] == "investigating"
    assert form.initial["message"].startswith(f"INCIDENT - P1 - {incident.title}")

    form = client.get(post_update_url(incident), {"status": "resolved", "public": "1"}).context[
        "form"
    ]
    assert form.initial["status"] == "resolved" and form.initial["public"] is True
    # The public texts speak to customers, without the internal header.
    assert "INCIDENT - P1" not in form.initial["message"]
    assert form.initial["message"].strip()


def test_posting_an_update_records_it_and_moves_the_incident(client, responder, incident):
    response = client_as(client, responder).post(
        post_update_url(incident),
        {
            "status": "identified",
            "public": "on",
            "message": "Bad deploy found, rolling back.",
            "confirmed": "on",
        },
        follow=True,
    )
    assert f"Posted a public update on {incident.reference} (Identified)." in texts(response)
    update = StatusUpdate.objects.get(incident=incident)
    assert (update.status, update.public, update.author) == ("identified", True, responder)
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.IDENTIFIED
    assert incident.timeline.filter(kind=TimelineKind.UPDATE, actor=responder).exists()


def test_an_empty_update_shows_the_error_and_saves_nothing(client, responder, incident):
    response = client_as(client, responder).post(
        post_update_url(incident), {"status": "investigating", "message": "  "}
    )
    assert response.status_code == 200
    assert "message" in response.context["form"].errors
    assert not StatusUpdate.objects.exists()


def test_an_update_that_would_reopen_without_reason_is_refused(client, responder, incident):
    incident_resolve(incident=incident)
    response = client_as(client, responder).post(
        post_update_url(incident), {"status": "investigating", "message": "Back again"}
    )
    assert response.status_code == 200
    assert "Say why the incident is being reopened." in str(response.context["form"].errors)
    assert not StatusUpdate.objects.exists()


def test_viewer_cannot_post_updates(client, viewer, incident):
    client_as(client, viewer)
    assert client.get(post_update_url(incident)).status_code == 403
    response = client.post(post_update_url(incident), {"status": "investigating", "message": "x"})
    assert response.status_code == 403
    assert not StatusUpdate.objects.exists()


# --- catalogue -----------------------------------------------------------------------------------


def test_severity_list_shows_targets_humanized(admin_client):
    response = admin_client.get("/admin/incidents/severity/")
    rows = response.content.decode()
    assert [s.key for s in response.context["cl"].result_list] == ["P0", "P1", "P2", "P3"]
    # P0: acknowledge in 15 minutes, resolve in an hour, update every 30 minutes.
    for text in ("15m", "30m", "4h", "1d after resolution", "2d after resolution"):
        assert text in rows


def test_service_list_counts_open_incidents(admin_client):
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    make_incident(services=[checkout])
    resolved = make_incident(services=[checkout])
    incident_resolve(incident=resolved)
    response = admin_client.get("/admin/incidents/service/")
    [row] = response.context["cl"].result_list
    assert row.open_count == 1


def test_manager_can_add_a_service(client, manager):
    response = client_as(client, manager).post(
        "/admin/incidents/service/add/", {"name": "Search", "slug": "search", "status_order": 100}
    )
    assert response.status_code == 302
    assert Service.objects.filter(slug="search").exists()


# --- query count ---------------------------------------------------------------------------------


def _open_incidents(count: int, commander):
    services = [ServiceFactory(name=f"Svc {n}", slug=f"svc-{n}") for n in range(3)]  # get_or_create
    for n in range(count):
        incident = make_incident(title=f"Incident {n}", services=services[: 1 + n % 3])
        if n % 2:
            incident_assign_commander(incident=incident, commander=commander, actor=commander)
        if n % 3 == 0:
            incident_resolve(incident=incident)


@pytest.mark.parametrize("as_group_member", [False, True])
def test_incident_changelist_runs_a_fixed_number_of_queries(
    client, admin_user, responder, django_assert_max_num_queries, as_group_member
):
    user = responder if as_group_member else admin_user
    client.force_login(user)
    _open_incidents(5, user)
    with CaptureQueriesContext(connection) as five_rows:
        response = client.get(CHANGELIST)
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 5

    _open_incidents(45, user)
    with django_assert_max_num_queries(len(five_rows)):
        response = client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 50
    assert len(five_rows) <= 15


def test_take_command_button_on_the_incident_page(client, manager, responder, incident):
    url = reverse("admin:incidents_incident_take_command", args=[incident.pk])
    assert url not in client_as(client, responder).get(change_url(incident)).content.decode()
    assert client.post(url).status_code == 403

    assert url in client_as(client, manager).get(change_url(incident)).content.decode()
    response = client.post(url, follow=True)
    assert f"You command {incident.reference}." in texts(response)
    incident.refresh_from_db()
    assert incident.commander == manager
    assert incident.timeline.get(kind=TimelineKind.COMMANDER).actor == manager
    assert url not in response.content.decode()  # already in command


def test_changing_services_on_the_change_page_goes_through_the_domain(client, manager):
    api_service = ServiceFactory(name="Public API", slug="api")
    checkout = ServiceFactory(name="Checkout", slug="checkout")
    incident = make_incident(services=[checkout])
    client_as(client, manager)
    data = change_form_data(client.get(change_url(incident)))
    data["services"] = [checkout.pk, api_service.pk]
    response = client.post(change_url(incident), data)
    assert response.status_code == 302, response.context and response.context["errors"]
    assert set(incident.services.values_list("slug", flat=True)) == {"api", "checkout"}
    event = incident.timeline.get(kind=TimelineKind.FIELD, actor=manager)
    assert event.before == {"services": ["checkout"]}
    assert event.after == {"services": ["api", "checkout"]}


def test_a_public_update_is_previewed_then_published_on_confirmation(client, responder):
    checkout = ServiceFactory(name="Checkout", slug="checkout", is_public=True)
    incident = make_incident(title="pgbouncer pool exhausted", services=[checkout])
    client_as(client, responder)
    typed = {
        "status": "investigating",
        "public": "on",
        "public_title": "Orders failing at checkout",
        "message": "Some orders fail. We are investigating.",
    }
    preview = client.post(post_update_url(incident), typed)
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "Check the public update before it goes out" in html
    assert "Orders failing at checkout" in html and "affects Checkout" in html
    assert not StatusUpdate.objects.exists()

    back = client.post(post_update_url(incident), {**typed, "edit": "Back to editing"})
    assert back.context["form"]["message"].value() == typed["message"]
    assert not StatusUpdate.objects.exists()

    client.post(post_update_url(incident), {**typed, "confirmed": "on"})
    update = StatusUpdate.objects.get()
    assert update.public and update.message == typed["message"]
    incident.refresh_from_db()
    assert incident.public_title == "Orders failing at checkout"


def test_preview_warns_when_no_public_service_is_affected(client, responder, incident):
    client_as(client, responder)
    preview = client.post(
        post_update_url(incident), {"status": "investigating", "public": "on", "message": "Hi"}
    )
    assert "customers will not see this update" in preview.content.decode()


def test_an_internal_update_posts_without_preview(client, responder, incident):
    client_as(client, responder).post(
        post_update_url(incident), {"status": "investigating", "message": "Internal note"}
    )
    assert StatusUpdate.objects.get().public is False
