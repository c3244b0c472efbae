"""One authorization policy: role x action x entry point, with the answer each gives.

Every row of the table is asked through the real entry point (an admin action on the incident
list, an admin page or its POST, the REST API) as a user of one role, and the test asserts the
HTTP answer and whether the incident's rows changed. The roles are the three staff groups, a
staff user in no group, a superuser, and custom groups holding one permission without another.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client
from django.urls import reverse

from incidents.core import lifecycle
from incidents.core import policy as incident_policy
from incidents.core.choices import IncidentStatus
from incidents.models import (
    Incident,
    IncidentEscalation,
    Responder,
    StatusUpdate,
    TimelineEvent,
)
from incidents.paging import engine as escalation
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import UserFactory, api_client_for, make_incident, make_schedule

pytestmark = pytest.mark.django_db

TITLE = "Checkout returns 502"

# Custom groups: one permission without the other (and one that may not even see incidents).
CUSTOM_GROUPS = {
    "change_only": ["view_incident", "change_incident"],
    "resolve_only": ["view_incident", "resolve_incident"],
    "updater": ["view_incident", "add_statusupdate"],
    "blind_resolver": ["resolve_incident"],
    "opener": ["view_incident", "add_incident"],
}
STAFF_GROUPS = {"viewer": "Viewer", "responder": "Responder", "manager": "Incident manager"}
ROLES = (*STAFF_GROUPS, "no_group", "superuser", *CUSTOM_GROUPS)

WORKERS = {"responder", "manager", "superuser"}
SEERS = {"viewer", "change_only", "resolve_only", "updater", "opener", *WORKERS}

# Who may do each action: the expected answers of the whole table come from here.
ALLOWED = {
    "view": SEERS,
    "create": {"manager", "superuser", "opener"},
    "name a commander when opening": {"manager", "superuser"},
    "acknowledge": WORKERS,
    "resolve": WORKERS | {"resolve_only"},
    "leave triggered for investigating": WORKERS,
    "move between working statuses": WORKERS | {"change_only"},
    "post an internal update": WORKERS | {"updater"},
    "post a public update": WORKERS | {"updater"},
    "resolve with an update": WORKERS,
    "take command": {"manager", "superuser"},
    "escalate now": WORKERS,
    "page someone": WORKERS,
    "add a responder": WORKERS,
}


@pytest.fixture(autouse=True)
def _plain_static_files(settings):
    # A fast hasher: the table makes some hundreds of users, none of which logs in by password.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def make_user(role: str):
    if role == "superuser":
        return UserFactory(username="root", is_superuser=True)
    user = UserFactory(username=role.replace("_", "-"))
    if role in STAFF_GROUPS:
        user.groups.add(Group.objects.get(name=STAFF_GROUPS[role]))
    elif role in CUSTOM_GROUPS:
        group = Group.objects.create(name=f"Custom {role}")
        group.permissions.set(
            Permission.objects.filter(
                content_type__app_label="incidents", codename__in=CUSTOM_GROUPS[role]
            )
        )
        user.groups.add(group)
    return user


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_url(incident) -> str:
    return reverse("admin:incidents_incident_change", args=[incident.pk])


# --- entry points: each returns the HTTP answer ------------------------------------------------


def admin_action(name):
    def run(user, incident, _):
        return (
            browser(user)
            .post(
                reverse("admin:incidents_incident_changelist"),
                {"action": name, "_selected_action": [incident.pk], "index": 0},
            )
            .status_code
        )

    return run


def admin_escalations_action(user, incident, _):
    row = IncidentEscalation.objects.get(incident=incident)
    return (
        browser(user)
        .post(
            reverse("admin:incidents_incidentescalation_changelist"),
            {"action": "escalate_now", "_selected_action": [row.pk], "index": 0},
        )
        .status_code
    )


def admin_move(to):
    def run(user, incident, _):
        url = reverse("admin:incidents_incident_move", args=[incident.pk])
        return browser(user).post(url, {"to": to}).status_code

    return run


def admin_post_update(status, *, public=False):
    def run(user, incident, _):
        url = reverse("admin:incidents_incident_post_update", args=[incident.pk])
        body = {"status": status, "message": "We are on it."}
        if public:
            body |= {"public": "on", "confirmed": "on", "public_title": "Checkout is slow"}
        return browser(user).post(url, body).status_code

    return run


def admin_get(name):
    def run(user, incident, _):
        return browser(user).get(reverse(name, args=[incident.pk])).status_code

    return run


def admin_add_page(user, incident, _):
    return browser(user).get(reverse("admin:incidents_incident_add")).status_code


def admin_take_command(user, incident, _):
    url = reverse("admin:incidents_incident_take_command", args=[incident.pk])
    return browser(user).post(url).status_code


def admin_page_someone(user, incident, pat):
    url = reverse("admin:incidents_incident_page", args=[incident.pk])
    return browser(user).post(url, {"users": [pat.pk], "message": "Need you"}).status_code


def admin_home(user, incident, _):
    answer = browser(user).get(reverse("admin:index"))
    assert answer.status_code == 200
    return "title shown" if TITLE in answer.content.decode() else "title hidden"


def api(method, path, body=None):
    def run(user, incident, pat):
        client = api_client_for(user)
        url = f"/api/v1/incidents/{incident.pk}/{path}" if path else "/api/v1/incidents/"
        data = body(pat) if callable(body) else body
        return getattr(client, method)(url, data, format="json").status_code

    return run


# --- what each action does to the rows, to check a refusal changed nothing ----------------------


def rows(incident) -> tuple:
    incident = Incident.objects.get(pk=incident.pk)
    return (
        incident.status,
        incident.commander_id,
        TimelineEvent.objects.filter(incident=incident).count(),
        StatusUpdate.objects.filter(incident=incident).count(),
        Responder.objects.filter(incident=incident).count(),
        Incident.objects.count(),
    )


def investigating(incident):
    return lifecycle.incident_transition(incident=incident, to=IncidentStatus.INVESTIGATING)


def escalating(incident):
    """The incident's escalation has fired its first step: "escalate now" fires the next."""
    state = escalation.escalation_start(incident_id=incident.pk)
    escalation.escalation_fire_step(escalation_id=state.pk)
    return incident


# (action, entry point, its name, the answer when allowed, the answer when refused, set-up,
# whether an allowed call writes)
ENTRIES = [
    ("view", "admin change page", admin_get("admin:incidents_incident_change"), 200, 403),
    ("view", "admin home dashboard", admin_home, "title shown", "title hidden"),
    ("view", "API detail", api("get", ""), 200, 403),
    ("view", "API timeline", api("get", "timeline/"), 200, 403),
    ("create", "admin add page", admin_add_page, 200, 403),
    ("create", "API create", api("post", None, {"title": "Search is down", "severity": "P2"}), 201, 403),
    (
        "name a commander when opening",
        "API create",
        api(
            "post",
            None,
            lambda pat: {"title": "Search is down", "severity": "P2", "commander": pat.username},
        ),
        201,
        403,
    ),
    ("acknowledge", "admin action", admin_action("acknowledge"), 302, 403),
    ("acknowledge", "admin move", admin_move("acknowledged"), 302, 403),
    ("acknowledge", "API acknowledge", api("post", "acknowledge/"), 200, 403),
    ("acknowledge", "API transition", api("post", "status/", {"status": "acknowledged"}), 200, 403),
    ("resolve", "admin action", admin_action("resolve"), 302, 403),
    ("resolve", "admin move", admin_move("resolved"), 302, 403),
    ("resolve", "API resolve", api("post", "resolve/"), 200, 403),
    ("resolve", "API transition", api("post", "status/", {"status": "resolved"}), 200, 403),
    ("leave triggered for investigating", "admin move", admin_move("investigating"), 302, 403),
    ("leave triggered for investigating", "API transition", api("post", "status/", {"status": "investigating"}), 200, 403),
    ("move between working statuses", "admin move", admin_move("identified"), 302, 403),
    ("move between working statuses", "API transition", api("post", "status/", {"status": "identified"}), 200, 403),
    ("post an internal update", "admin post-update page", admin_post_update("investigating"), 302, 403),
    ("post an internal update", "API updates", api("post", "updates/", {"message": "On it.", "status": "investigating"}), 201, 403),
    ("post a public update", "admin post-update page", admin_post_update("investigating", public=True), 302, 403),
    ("post a public update", "API updates", api("post", "updates/", {"message": "On it.", "public": True}), 201, 403),
    ("resolve with an update", "admin post-update page", admin_post_update("resolved"), 302, 403),
    ("resolve with an update", "API updates", api("post", "updates/", {"message": "Fixed.", "status": "resolved"}), 201, 403),
    ("take command", "admin action", admin_action("take_command"), 302, 403),
    ("take command", "admin take-command button", admin_take_command, 302, 403),
    ("escalate now", "admin action", admin_action("escalate_now"), 302, 403),
    ("escalate now", "admin escalations action", admin_escalations_action, 302, 403),
    ("escalate now", "API escalate", api("post", "escalate/"), 200, 403),
    ("page someone", "admin page", admin_get("admin:incidents_incident_page"), 200, 403),
    ("page someone", "admin page POST", admin_page_someone, 302, 403),
    ("page someone", "API page", api("post", "page/", lambda pat: {"users": [pat.username]}), 202, 403),
    ("add a responder", "API responders", api("post", "responders/", lambda pat: {"user": pat.username}), 201, 403),
]  # fmt: skip

SETUP = {
    "move between working statuses": investigating,
    "post an internal update": investigating,
    "post a public update": investigating,
    "escalate now": escalating,
}
# Entry points that only read: whoever asks, no row changes.
READS = {"admin change page", "admin home dashboard", "API detail", "API timeline"}
READS |= {"admin add page", "admin page"}


@pytest.fixture
def pat(db):
    return UserFactory(username="pat")


@pytest.fixture
def world(pat):
    """An open incident on a service whose escalation policy pages pat, then pat again."""
    escalation_policy_create(
        name="Checkout",
        steps=[
            StepInput(delay=timedelta(0), targets=[pat]),
            StepInput(delay=timedelta(minutes=15), targets=[pat]),
        ],
        default=True,
    )
    return make_incident(title=TITLE)


CASES = [
    pytest.param(action, entry, run, allowed, refused, role, id=f"{action}|{entry}|{role}")
    for action, entry, run, allowed, refused in ENTRIES
    for role in ROLES
]


@pytest.mark.parametrize(("action", "entry", "run", "allowed", "refused", "role"), CASES)
def test_role_action_entry_point(world, pat, action, entry, run, allowed, refused, role):
    incident = SETUP.get(action, lambda i: i)(world)
    user = make_user(role)
    before = rows(incident)
    expected = allowed if role in ALLOWED[action] else refused

    answer = run(user, incident, pat)

    assert answer == expected, f"{role} / {action} / {entry}: answered {answer}"
    after = rows(incident)
    if role not in ALLOWED[action] or entry in READS:
        assert after == before, f"{role} / {action} / {entry}: a refusal changed rows"
    else:
        assert after != before, f"{role} / {action} / {entry}: allowed, but nothing changed"


def test_the_table_covers_every_action_of_the_policy_a_view_offers():
    """Each action the admin or the API offers on an incident has rows in the table."""
    covered = {action for action, *_ in ENTRIES}
    assert covered == set(ALLOWED)
    # Every role of the brief is in the table.
    assert {"no_group", "superuser", "change_only", "resolve_only"} <= set(ROLES)


@pytest.mark.parametrize(
    ("role", "to", "expected"),
    [
        ("change_only", IncidentStatus.ACKNOWLEDGED, False),
        ("change_only", IncidentStatus.INVESTIGATING, False),  # leaving triggered acknowledges
        ("change_only", IncidentStatus.RESOLVED, False),
        ("resolve_only", IncidentStatus.RESOLVED, True),
        ("resolve_only", IncidentStatus.INVESTIGATING, False),
        ("blind_resolver", IncidentStatus.RESOLVED, False),  # acting needs seeing
        ("responder", IncidentStatus.INVESTIGATING, True),
        ("no_group", IncidentStatus.ACKNOWLEDGED, False),
    ],
)
def test_policy_answers_status_moves_from_triggered(world, role, to, expected):
    user = make_user(role)
    assert incident_policy.may(user, "move", incident=world, to=to) is expected


def test_a_refused_api_call_names_the_permission_it_needs(world):
    user = make_user("change_only")
    answer = api_client_for(user).post(
        f"/api/v1/incidents/{world.pk}/status/", {"status": "resolved"}, format="json"
    )
    assert answer.status_code == 403
    assert answer.json() == {"detail": "You need the incidents.resolve_incident permission."}
    blind = api_client_for(make_user("blind_resolver")).post(
        f"/api/v1/incidents/{world.pk}/resolve/", format="json"
    )
    assert blind.status_code == 403
    assert "incidents.view_incident" in blind.json()["detail"]


def test_admin_offers_only_the_buttons_the_policy_allows(world):
    """What the incident page shows: the same answers as what its POSTs may do."""
    page = browser(make_user("resolve_only")).get(change_url(world))
    assert page.status_code == 200
    moves = [value for value, _ in page.context["panel"]["moves"]]
    assert moves == [IncidentStatus.RESOLVED]
    assert page.context["panel"]["post_update_url"] is None
    assert page.context["panel"]["page_url"] is None
    assert page.context["panel"]["take_command_url"] is None

    listing = browser(make_user("change_only")).get(reverse("admin:incidents_incident_changelist"))
    form = listing.context["action_form"]
    offered = [] if form is None else [v for v, _ in form.fields["action"].choices if v]
    assert offered == []  # neither acknowledge, resolve, command nor escalate


def test_admin_home_of_a_user_without_permissions_names_no_incident(world):
    answer = browser(make_user("no_group")).get(reverse("admin:index"))
    body = answer.content.decode()
    assert answer.status_code == 200
    assert TITLE not in body and world.reference not in body
    assert "nothing here for you" in body


def test_the_timeline_list_needs_seeing_incidents_too(world):
    """Timeline entries quote their incident: view_timelineevent alone does not show them."""
    group = Group.objects.create(name="Timeline readers")
    group.permissions.set(Permission.objects.filter(codename="view_timelineevent"))
    reader = UserFactory(username="tim")
    reader.groups.add(group)
    timeline = reverse("admin:incidents_timelineevent_changelist")
    assert browser(reader).get(timeline).status_code == 403
    answer = browser(make_user("viewer")).get(timeline)
    assert answer.status_code == 200 and world.reference in answer.content.decode()


def test_the_add_page_offers_the_commander_only_to_who_may_command(world):
    def fields(role):
        page = browser(make_user(role)).get(reverse("admin:incidents_incident_add"))
        assert page.status_code == 200
        return set(page.context["adminform"].form.fields)

    assert "commander" not in fields("opener")
    assert "commander" in fields("manager")


def test_admin_home_shows_each_part_to_whom_may_read_it(world):
    """On call needs view_schedule only; incidents and the overdue lists need seeing incidents."""
    make_schedule(name="Platform primary", participants=[UserFactory(username="dana")])
    group = Group.objects.create(name="Schedule readers")
    group.permissions.set(Permission.objects.filter(codename="view_schedule"))
    reader = UserFactory(username="sam")
    reader.groups.add(group)
    body = browser(reader).get(reverse("admin:index")).content.decode()
    assert "Platform primary" in body and "On call now" in body
    assert TITLE not in body and "Open incidents" not in body
    assert "Overdue post-mortems" not in body and "Incidents per month" not in body
    viewer = browser(make_user("viewer")).get(reverse("admin:index")).content.decode()
    assert TITLE in viewer and "Overdue post-mortems" in viewer and "Platform primary" in viewer
