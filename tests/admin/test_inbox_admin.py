"""The ingest inbox in the admin: a read-only list with states, "Retry now", fixed queries; the
admin home's backlog card; who may see it."""

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from incidents.models import InboxEvent
from tests.factories import make_integration

pytestmark = pytest.mark.django_db

LIST = "admin:incidents_inboxevent_changelist"


def row(integration, *, seconds_ago=5.0, state="pending", attempts=0, success=None, **fields):
    received = timezone.now() - timedelta(seconds=seconds_ago)
    return InboxEvent.objects.create(
        integration=integration,
        events=[{"action": "trigger"}],
        event_count=1,
        received_at=received,
        not_before=received + timedelta(hours=1) if attempts else received,
        state=state,
        attempts=attempts,
        success=success,
        applied_at=received if state == "applied" else None,
        **fields,
    )


@pytest.fixture
def sources(service):
    first, _ = make_integration(name="prom-prod", kind="alertmanager", service=service)
    second, _ = make_integration(name="og-bridge", kind="opsgenie", service=service)
    return first, second


def login(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_list_shows_each_rows_state_attempts_error_and_result(admin_client, sources):
    prom, og = sources
    row(prom)
    row(prom, attempts=3, last_error="HookFailed: escalation could not start")
    row(og, state="applied", success=True, result="1 new")
    row(og, state="applied", success=False, result="1 about no firing alert (ignored)")

    page = admin_client.get(reverse(LIST))

    assert page.status_code == 200
    html = page.content.decode()
    for label in ("Pending", "Retrying", "Applied", "Applied, failed"):
        assert f">{label}</span>" in html
    assert "HookFailed: escalation could not start" in html
    assert "1 about no firing alert (ignored)" in html
    assert "prom-prod" in html and "og-bridge" in html


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("pending", {"a"}),
        ("retrying", {"b"}),
        ("waiting", {"a", "b"}),
        ("applied", {"c"}),
        ("failed", {"d"}),
    ],
)
def test_the_state_filter(admin_client, sources, state, expected):
    prom, _ = sources
    row(prom, alias="a")
    row(prom, alias="b", attempts=1, last_error="boom")
    row(prom, alias="c", state="applied", success=True)
    row(prom, alias="d", state="applied", success=False)

    page = admin_client.get(reverse(LIST), {"state": state})

    shown = {r.alias for r in page.context["cl"].result_list}
    assert shown == expected


def test_the_integration_filter(admin_client, sources):
    prom, og = sources
    row(prom, alias="from-prom")
    row(og, alias="from-og")

    page = admin_client.get(reverse(LIST), {"integration__id__exact": og.pk})

    assert [r.alias for r in page.context["cl"].result_list] == ["from-og"]


def test_retry_now_makes_pending_rows_due_and_leaves_applied_ones(admin_client, sources):
    prom, _ = sources
    waiting = row(prom, attempts=2, last_error="boom")
    done = row(prom, state="applied", success=True)
    assert waiting.not_before > timezone.now()

    answer = admin_client.post(
        reverse(LIST),
        {"action": "retry_now", "_selected_action": [waiting.pk, done.pk]},
        follow=True,
    )

    html = answer.content.decode()
    assert "1 pending row(s) are due now" in html
    assert "1 selected row(s) were applied already" in html
    waiting.refresh_from_db()
    assert waiting.not_before <= timezone.now()
    assert waiting.state == "pending"


@pytest.mark.parametrize("rows", [5, 60])
def test_the_list_runs_a_fixed_number_of_queries(
    admin_client, sources, rows, django_assert_max_num_queries
):
    prom, og = sources
    for i in range(rows):
        row(prom if i % 2 else og, attempts=i % 3, state="pending")
    admin_client.get(reverse(LIST))  # session and permission caches warm

    with django_assert_max_num_queries(10):
        page = admin_client.get(reverse(LIST))

    assert page.status_code == 200


def test_nobody_adds_or_changes_rows_and_only_superusers_delete(admin_client, manager, sources):
    prom, _ = sources
    target = row(prom)
    managers = login(manager)

    assert managers.get(reverse(LIST)).status_code == 200
    assert managers.get(reverse("admin:incidents_inboxevent_add")).status_code == 403
    change = managers.get(reverse("admin:incidents_inboxevent_change", args=[target.pk]))
    assert change.status_code == 200
    assert 'name="_save"' not in change.content.decode()  # read-only
    assert (
        managers.get(reverse("admin:incidents_inboxevent_delete", args=[target.pk])).status_code
        == 403
    )
    assert admin_client.get(reverse("admin:incidents_inboxevent_add")).status_code == 403
    deleted = admin_client.post(
        reverse("admin:incidents_inboxevent_delete", args=[target.pk]), {"post": "yes"}
    )
    assert deleted.status_code == 302
    assert not InboxEvent.objects.exists()


def test_incident_managers_see_the_inbox_and_responders_do_not(manager, responder, viewer):
    assert login(manager).get(reverse(LIST)).status_code == 200
    assert login(responder).get(reverse(LIST)).status_code == 403
    assert login(viewer).get(reverse(LIST)).status_code == 403


# --- the admin home ---------------------------------------------------------------------------
def test_the_admin_home_shows_the_backlog_and_warns_past_the_setting(
    admin_client, sources, settings
):
    settings.TOCSIN_INGEST_BACKLOG_SECONDS = 30
    prom, _ = sources
    row(prom, seconds_ago=10)

    calm = admin_client.get("/admin/").content.decode()
    assert "Ingest inbox" in calm
    assert "1 pending request</a>, the oldest waiting 10 s" in calm
    assert f'href="{reverse(LIST)}?state=waiting"' in calm
    assert "Alerts are waiting to be applied" not in calm

    row(prom, seconds_ago=600)
    late = admin_client.get("/admin/").content.decode()
    assert "Alerts are waiting to be applied" in late
    assert "2 requests in the ingest inbox, the oldest for 10m" in late
    assert "ops-count--alert" in late


def test_the_admin_home_says_when_nothing_waits(admin_client, sources):
    prom, _ = sources
    row(prom, state="applied", success=True)

    html = admin_client.get("/admin/").content.decode()

    assert "Nothing waits: every alert received is applied." in html


def test_only_who_may_view_the_inbox_sees_its_card(manager, responder, sources):
    prom, _ = sources
    row(prom, seconds_ago=600)

    assert "Ingest inbox" in login(manager).get("/admin/").content.decode()
    assert "Ingest inbox" not in login(responder).get("/admin/").content.decode()
