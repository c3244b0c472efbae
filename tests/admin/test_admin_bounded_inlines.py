"""A 600-alert incident: its page shows the newest alerts and timeline entries, with links to
all of them, in a fixed number of queries."""

import re
import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.admin.bounded import INLINE_LIMIT
from incidents.core.choices import TimelineKind
from incidents.models import Alert, TimelineEvent
from tests.factories import make_incident, make_integration

pytestmark = pytest.mark.django_db

TOTAL = 600


def _big_incident(total: int = TOTAL):
    incident = make_incident(title="Alertmanager group: every node down")
    integration, _ = make_integration(name="prometheus")
    now = timezone.now()
    Alert.objects.bulk_create(
        Alert(
            integration=integration,
            incident=incident,
            dedup_key=f"node-{n}",
            summary=f"Node node-{n:03d} down",
            first_seen_at=now - timedelta(hours=1),
            last_seen_at=now - timedelta(seconds=total - n),
        )
        for n in range(total)
    )
    TimelineEvent.objects.bulk_create(
        TimelineEvent(
            incident=incident,
            kind=TimelineKind.NOTE,
            actor_label="Tocsin",
            message=f"Event number {n:03d}",
            at=now + timedelta(seconds=n),
        )
        for n in range(total)
    )
    return incident


def _change_page(client, incident):
    return client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))


def test_incident_page_shows_the_newest_rows_and_links_to_all(admin_client):
    incident = _big_incident()
    html = _change_page(admin_client, incident).content.decode()
    # (A row with a change link names its alert twice: keep each once, in page order.)
    shown_alerts = list(dict.fromkeys(re.findall(r"Node node-(\d{3}) down", html)))
    assert shown_alerts == [f"{n:03d}" for n in range(TOTAL - 1, TOTAL - 1 - INLINE_LIMIT, -1)]
    # The timeline shows its latest entries, oldest first, as it reads.
    shown_events = list(dict.fromkeys(re.findall(r"Event number (\d{3})", html)))
    assert shown_events == [f"{n:03d}" for n in range(TOTAL - INLINE_LIMIT, TOTAL)]
    alerts_url = f"{reverse('admin:incidents_alert_changelist')}?incident={incident.number}"
    timeline_url = (
        f"{reverse('admin:incidents_timelineevent_changelist')}?incident={incident.number}"
    )
    assert f'<a href="{alerts_url}">See all {TOTAL} alerts</a>' in html
    entries = incident.timeline.count()  # the 600 and the incident's own ("opened" ...)
    assert f'<a href="{timeline_url}">See all {entries} timeline entries</a>' in html


def test_the_see_all_links_list_that_incidents_rows_only(admin_client):
    incident = _big_incident(total=30)
    other = make_incident(title="Unrelated")
    TimelineEvent.objects.create(
        incident=other, kind=TimelineKind.NOTE, actor_label="x", message="Elsewhere"
    )
    alerts = admin_client.get(
        reverse("admin:incidents_alert_changelist"), {"incident": incident.number}
    )
    assert alerts.status_code == 200
    assert alerts.context["cl"].result_count == 30
    events = admin_client.get(
        reverse("admin:incidents_timelineevent_changelist"), {"incident": incident.number}
    )
    assert events.status_code == 200
    assert events.context["cl"].result_count == incident.timeline.count()
    assert "Elsewhere" not in events.content.decode()
    nothing = admin_client.get(
        reverse("admin:incidents_timelineevent_changelist"), {"incident": "INC-x"}
    )
    assert nothing.status_code == 200 and nothing.context["cl"].result_count == 0


def test_a_small_incident_has_no_see_all_link(admin_client, incident):
    html = _change_page(admin_client, incident).content.decode()
    assert "See all" not in html and "Showing the newest" not in html


def test_a_viewer_may_follow_the_timeline_link(client, viewer, incident):
    client.force_login(viewer)
    answer = client.get(
        reverse("admin:incidents_timelineevent_changelist"), {"incident": incident.number}
    )
    assert answer.status_code == 200
    assert answer.context["cl"].result_count == incident.timeline.count()


@pytest.mark.parametrize("total", [30, TOTAL])
def test_page_runs_the_same_queries_and_stays_fast_whatever_the_alert_count(
    admin_client, total, django_assert_max_num_queries
):
    incident = _big_incident(total)
    started = time.monotonic()
    with django_assert_max_num_queries(60):
        answer = _change_page(admin_client, incident)
    elapsed = time.monotonic() - started
    assert answer.status_code == 200
    assert len(answer.content) < 400_000
    assert elapsed < 5, f"the page took {elapsed:.1f}s"
