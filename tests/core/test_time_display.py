"""Every time Tocsin shows says its zone, in one format: "2026-12-01 21:40 UTC"."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from incidents.core import lifecycle
from incidents.core.formatting import format_time
from incidents.oncall.schedules import override_create
from tests.factories import ServiceFactory, UserFactory, make_incident, make_schedule

pytestmark = pytest.mark.django_db

STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d (?:UTC|CET|CEST)"
TWELVE_HOUR = re.compile(r"\d(?::\d\d)? ?[ap]\.m\.|noon|midnight")


def test_format_time_writes_the_zone_it_converts_to():
    moment = datetime(2026, 12, 1, 21, 40, tzinfo=UTC)
    assert format_time(moment) == "2026-12-01 21:40 UTC"
    assert format_time(moment, "Europe/Paris") == "2026-12-01 22:40 CET"
    assert format_time(moment.replace(month=7), "Europe/Paris") == "2026-07-01 23:40 CEST"
    assert format_time(None) == ""


def test_incident_list_and_page_label_every_time(admin_client, incident):
    listing = admin_client.get(reverse("admin:incidents_incident_changelist")).content.decode()
    assert re.search(rf'<td class="field-detected">{STAMP}</td>', listing)
    page = admin_client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
    html = page.content.decode()
    detected = format_time(incident.detected_at)
    assert detected in html  # the read-only "Detected" field and the timeline's times
    assert not TWELVE_HOUR.search(html)


def test_overrides_list_uses_the_one_format(admin_client):
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    schedule = make_schedule(participants=[alice])
    start = timezone.now().replace(hour=13, minute=30, second=0, microsecond=0) + timedelta(days=1)
    override_create(schedule=schedule, user=bob, start=start, end=start + timedelta(hours=4))
    html = admin_client.get(reverse("admin:incidents_override_changelist")).content.decode()
    assert format_time(start) in html and format_time(start + timedelta(hours=4)) in html
    assert not TWELVE_HOUR.search(html)


def test_schedule_page_shows_its_zone(admin_client):
    alice = UserFactory(username="alice", first_name="Alice", last_name="A")
    schedule = make_schedule(participants=[alice], time_zone="Europe/Paris")
    html = admin_client.get(reverse("admin:incidents_schedule_change", args=[schedule.pk]))
    times = re.findall(STAMP, html.content.decode())
    assert times and all(t.endswith(("CET", "CEST")) for t in times)


def test_dashboard_labels_the_end_of_the_current_shift(admin_client):
    alice = UserFactory(username="alice", first_name="Alice", last_name="A")
    make_schedule(participants=[alice])
    html = admin_client.get("/admin/").content.decode()
    assert re.search(rf"until {STAMP}", html)


def test_status_page_names_the_zone_it_is_in(client, settings):
    settings.TIME_ZONE = "Europe/Paris"
    cache.clear()
    checkout = ServiceFactory(name="Checkout", slug="checkout", is_public=True)
    incident = make_incident(services=[checkout])
    update = lifecycle.status_update_post(incident=incident, message="Looking", public=True)
    html = client.get("/status/").content.decode()
    assert format_time(update.created_at, "Europe/Paris") in html
    assert " UTC" not in html  # the times are in Paris, and say so
