"""The admin side: the red banner, the dashboard, "Page someone" and the default policy tick."""

from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.test import Client
from django.urls import reverse

from incidents.models import EscalationPolicy, IncidentEscalation, Notification, Responder
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, make_incident, make_schedule, severity

pytestmark = pytest.mark.django_db


class _FormValues(HTMLParser):
    """The values a browser would submit for the page's main form (inputs, selects, textareas)."""

    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "button", "file"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.values[name] = a.get("value") or ("on" if a.get("type") == "checkbox" else "")
        elif tag == "select" and name:
            self._select = name
            if "multiple" not in a:
                self.values.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.values[self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data.lstrip("\n")


def form_values(html: str) -> dict:
    parser = _FormValues()
    parser.feed(html)
    return parser.values


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pat():
    return UserFactory(username="pat", email="pat@example.com", first_name="Pat", last_name="Lee")


@pytest.fixture
def schedule(pat):
    return make_schedule(name="Platform primary", participants=[pat])


def change_url(incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


def page_url(incident) -> str:
    return reverse("admin:incidents_incident_page", args=[incident.pk])


def test_incident_nobody_is_paged_for_shows_the_red_banner_with_page_someone(admin_client):
    incident = make_incident()
    html = admin_client.get(change_url(incident)).content.decode()
    assert f"Nobody is being paged for {incident.reference}." in html
    assert "no default policy is set" in html
    assert f'href="{page_url(incident)}"' in html


def test_incident_being_paged_has_no_banner(admin_client, schedule):
    policy = escalation_policy_create(
        name="Platform", steps=[StepInput(delay=timedelta(0), targets=[schedule])]
    )
    incident = make_incident(services=[ServiceFactory(slug="api", escalation_policy=policy)])
    html = admin_client.get(change_url(incident)).content.decode()
    assert "Nobody is being paged" not in html


def test_dashboard_says_when_no_default_policy_is_set_and_never_on_target_for_nobody_paged(
    admin_client, schedule
):
    incident = make_incident()
    html = admin_client.get("/admin/").content.decode()
    assert "No default escalation policy." in html
    assert "Nobody is being paged for 1 open incident." in html
    row = html[html.index(incident.reference) :].split("</tr>")[0]
    assert "nobody paged" in row and "on target" not in row

    escalation_policy_create(
        name="Platform",
        steps=[StepInput(delay=timedelta(0), targets=[schedule])],
        default=True,
    )
    html = admin_client.get("/admin/").content.decode()
    assert "No default escalation policy." not in html


def test_page_someone_page_lists_people_and_schedules_with_their_oncall(admin_client, schedule):
    incident = make_incident()
    answer = admin_client.get(page_url(incident))
    assert answer.status_code == 200
    html = answer.content.decode()
    assert "Pat Lee (pat)" in html
    assert "Platform primary: Pat Lee" in html


def test_page_someone_pages_the_oncall_and_makes_them_responders(responder, schedule):
    incident = make_incident()
    answer = login(responder).post(
        page_url(incident), {"schedules": [schedule.pk], "message": "Need a second pair of eyes"}
    )
    assert answer.status_code == 302 and answer["Location"] == change_url(incident)
    row = Notification.objects.get(incident=incident, reason="direct")
    assert row.recipient == "pat" and "Need a second pair of eyes" in row.body
    assert Responder.objects.filter(incident=incident, user__username="pat").exists()
    html = login(responder).get(change_url(incident)).content.decode()
    assert "Nobody is being paged" not in html


def test_page_someone_without_anyone_says_so_and_pages_nobody(admin_client):
    incident = make_incident()
    answer = admin_client.post(page_url(incident), {"message": "hello"})
    assert answer.status_code == 200
    assert "Choose at least one person or schedule to page." in answer.content.decode()
    assert not Notification.objects.exists()


def test_page_someone_needs_the_escalate_permission(viewer, pat):
    incident = make_incident()
    client = login(viewer)
    assert client.get(page_url(incident)).status_code == 403
    assert client.post(page_url(incident), {"users": [pat.pk]}).status_code == 403
    assert f'href="{page_url(incident)}"' not in client.get(change_url(incident)).content.decode()
    assert not Notification.objects.exists()


def test_ticking_default_in_the_policy_admin_moves_the_default_and_starts_waiting_incidents(
    admin_client, schedule, django_capture_on_commit_callbacks
):
    incident = make_incident(severity_key="P0")
    old = escalation_policy_create(
        name="Old default", steps=[StepInput(delay=timedelta(0), targets=[schedule])], default=True
    )
    new = escalation_policy_create(
        name="Platform", steps=[StepInput(delay=timedelta(0), targets=[schedule])]
    )
    url = reverse("admin:incidents_escalationpolicy_change", args=[new.pk])
    data = form_values(admin_client.get(url).content.decode())
    data["default"] = "on"
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(url, data)
    assert answer.status_code == 302, answer.context and answer.context["errors"]
    assert list(EscalationPolicy.objects.filter(is_default=True)) == [new]
    old.refresh_from_db()
    assert not old.is_default
    assert IncidentEscalation.objects.get(incident=incident).policy_name == "Platform"


def test_setting_a_service_policy_in_the_admin_starts_its_waiting_incidents(
    admin_client, schedule, django_capture_on_commit_callbacks
):
    service = ServiceFactory(name="Checkout", slug="checkout")
    incident = make_incident(services=[service])
    policy = escalation_policy_create(
        name="Platform", steps=[StepInput(delay=timedelta(0), targets=[schedule])]
    )
    url = reverse("admin:incidents_service_change", args=[service.pk])
    data = form_values(admin_client.get(url).content.decode())
    data["escalation_policy"] = str(policy.pk)
    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(url, data)
    assert answer.status_code == 302, answer.context and answer.context["errors"]
    assert IncidentEscalation.objects.get(incident=incident).policy_name == "Platform"


def test_adding_a_responder_in_the_admin_inline_pages_them(admin_client, pat):
    incident = make_incident()
    data = form_values(admin_client.get(change_url(incident)).content.decode())
    prefix = "responders"
    data[f"{prefix}-TOTAL_FORMS"] = "1"
    data[f"{prefix}-0-user"] = str(pat.pk)
    data[f"{prefix}-0-role"] = "responder"
    data[f"{prefix}-0-incident"] = str(incident.pk)
    answer = admin_client.post(change_url(incident), data)
    assert answer.status_code == 302, answer.context and answer.context["errors"]
    assert Notification.objects.filter(incident=incident, recipient="pat", reason="direct").exists()


@pytest.mark.parametrize("schedules", [1, 6])
def test_page_someone_page_runs_a_fixed_number_of_queries(
    admin_client, schedules, django_assert_max_num_queries
):
    for n in range(schedules):
        make_schedule(name=f"Schedule {n}", participants=[UserFactory(username=f"oncall{n}")])
    incident = make_incident()
    with django_assert_max_num_queries(16):
        answer = admin_client.get(page_url(incident))
    assert answer.status_code == 200
    assert answer.content.decode().count("nobody on call") == 0


@pytest.mark.parametrize("covered", [False, True])
def test_the_add_page_only_promises_paging_when_someone_is_paged(admin_client, schedule, covered):
    if covered:
        escalation_policy_create(
            name="Platform", steps=[StepInput(delay=timedelta(0), targets=[schedule])], default=True
        )
    answer = admin_client.post(
        reverse("admin:incidents_incident_add"),
        {
            "title": "Checkout 502s",
            "severity": severity("P1").pk,
            "started_at_0": "",
            "started_at_1": "",
        },
        follow=True,
    )
    html = answer.content.decode()
    assert ("pages until someone acknowledges it" in html) is covered
    assert ("nobody is being paged for it: page someone" in html) is not covered


def test_incident_list_marks_incidents_nobody_is_paged_for(admin_client, schedule):
    lonely = make_incident(title="Nobody knows")
    policy = escalation_policy_create(
        name="Platform", steps=[StepInput(delay=timedelta(0), targets=[schedule])]
    )
    make_incident(title="Covered", services=[ServiceFactory(slug="api", escalation_policy=policy)])
    html = admin_client.get(reverse("admin:incidents_incident_changelist")).content.decode()
    rows = {
        title: html[html.index(title) :].split("</tr>")[0] for title in ("Nobody knows", "Covered")
    }
    assert "nobody paged" in rows["Nobody knows"]
    assert "nobody paged" not in rows["Covered"]
    assert lonely.pk
