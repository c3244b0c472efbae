"""The admin home as the operations dashboard."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.core import lifecycle
from incidents.models import Incident
from postmortems.models import Postmortem
from postmortems.services import action_item_create, postmortem_draft
from tests.factories import UserFactory, make_incident, make_schedule

pytestmark = pytest.mark.django_db


def _world(n: int, service) -> None:
    """`n` incidents of every kind: open, unacknowledged, resolved over months, with
    post-mortems and overdue action items; two schedules."""
    now = timezone.now()
    people = [
        UserFactory(username=f"oncall{i}", first_name=f"On{i}", last_name="Call") for i in range(3)
    ]
    make_schedule(name="Platform primary", participants=people, start="2026-01-05")
    make_schedule(name="Database", participants=people[:1], start="2026-01-05")
    for i in range(n):
        incident = make_incident(
            title=f"Incident {i}", severity_key=f"P{i % 4}", services=[service]
        )
        if i % 3 == 0:
            continue  # left unacknowledged
        lifecycle.incident_acknowledge(incident=incident, actor=people[0])
        if i % 3 == 1:
            continue
        lifecycle.incident_resolve(incident=incident, actor=people[0])
        back = timedelta(days=(i * 7) % 170)
        Incident.objects.filter(pk=incident.pk).update(
            detected_at=incident.detected_at - back,
            started_at=incident.started_at - back,
        )
        postmortem, _ = postmortem_draft(incident=incident)
        Postmortem.objects.filter(pk=postmortem.pk).update(due_at=now - timedelta(days=1))
        action_item_create(
            postmortem=postmortem,
            title=f"Fix {i}",
            owner=people[1],
            due_date=timezone.localdate() - timedelta(days=2),
        )


def test_admin_home_shows_the_operations_dashboard(admin_client, service):
    make_schedule(
        name="Platform primary",
        participants=[UserFactory(username="dana", first_name="Dana", last_name="Scully")],
    )
    waiting = make_incident(title="Checkout returns 502", severity_key="P1", services=[service])
    worked = make_incident(title="Slow search", severity_key="P0", services=[service])
    lifecycle.incident_acknowledge(incident=worked)
    two_hours_ago = timezone.now() - timedelta(hours=2)
    Incident.objects.filter(pk=worked.pk).update(
        detected_at=two_hours_ago, started_at=two_hours_ago
    )

    page = admin_client.get("/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Open incidents" in html
    # Unacknowledged first, even though the acknowledged one is more severe.
    assert html.index(f"INC-{waiting.number}<") < html.index(f"INC-{worked.number}<")
    assert "Unacknowledged" in html
    assert "resolve missed" in html  # the P0 is 2 h old, its target is 1 h
    assert "Platform primary" in html
    assert "Dana Scully" in html
    assert html.count('<svg class="tocsin-chart"') == 2
    assert "Incidents per month by severity" in html
    assert "All sections" in html  # the app list is still there


def test_dashboard_lists_overdue_postmortems_and_action_items(admin_client, service):
    incident = make_incident(title="Pool exhausted", severity_key="P1", services=[service])
    lifecycle.incident_resolve(incident=incident)
    postmortem, _ = postmortem_draft(incident=incident)
    Postmortem.objects.filter(pk=postmortem.pk).update(due_at=timezone.now() - timedelta(hours=1))
    action_item_create(
        postmortem=postmortem,
        title="Alert on pool usage",
        owner=UserFactory(username="bob"),
        due_date=timezone.localdate() - timedelta(days=1),
    )
    action_item_create(
        postmortem=postmortem,
        title="Not yet due",
        due_date=timezone.localdate() + timedelta(days=3),
    )
    html = admin_client.get("/admin/").content.decode()
    assert "Overdue post-mortems" in html
    assert f"/admin/postmortems/postmortem/{postmortem.pk}/change/" in html
    assert "Alert on pool usage" in html
    assert "Not yet due" not in html


@pytest.mark.parametrize("size", [5, 50])
def test_dashboard_runs_a_fixed_number_of_queries(
    admin_client, service, size, django_assert_max_num_queries
):
    _world(size, service)
    admin_client.get("/admin/")  # session and permission caches warm
    # Session, user, dashboard (severities, open counts, open rows + services, 3 for on-call specs
    # + users, overdue lists and counts, 3 report aggregates + severities, the inbox's backlog),
    # app list. 5 and 50 incidents must fit the same budget.
    with django_assert_max_num_queries(21):
        page = admin_client.get("/admin/")
    assert page.status_code == 200


def test_dashboard_query_count_is_the_same_for_5_and_50_incidents(admin_client, service):
    _world(5, service)
    admin_client.get("/admin/")
    with CaptureQueriesContext(connection) as small:
        admin_client.get("/admin/")
    for i in range(45):
        make_incident(title=f"More {i}", severity_key=f"P{i % 4}", services=[service])
    with CaptureQueriesContext(connection) as large:
        admin_client.get("/admin/")
    assert len(small.captured_queries) == len(large.captured_queries)
