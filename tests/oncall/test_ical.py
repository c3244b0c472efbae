"""iCal feeds at /oncall/ical/<token>.ics, parsed back with the icalendar library."""

from datetime import timedelta

import icalendar
import pytest
from django.test import Client
from django.utils import timezone

from incidents.models import Override
from incidents.oncall.schedules import user_calendar
from tests.factories import UserFactory, make_schedule

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(db):
    return [
        UserFactory(username="alice", first_name="Alice", last_name="Archer"),
        UserFactory(username="bob", first_name="Bob", last_name="Baker"),
    ]


def events(answer):
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(answer.content)
    return [c for c in cal.walk("VEVENT")]


def test_schedule_feed_has_one_event_per_final_shift_with_the_name_in_summary(people):
    alice, bob = people
    schedule = make_schedule(participants=[alice, bob], shift="daily", start="2020-01-01")
    found = events(Client().get(f"/oncall/ical/{schedule.ical_token}.ics"))
    # Daily shifts ending in the last 7 days or starting in the next 60: 67 or 68 events.
    assert 67 <= len(found) <= 68
    summaries = {str(e["SUMMARY"]) for e in found}
    assert summaries == {
        "On call: Alice Archer (Platform primary)",
        "On call: Bob Baker (Platform primary)",
    }
    starts = [e.decoded("DTSTART") for e in found]
    assert starts == sorted(starts)
    full = [e for e in found if e.decoded("DTEND") - e.decoded("DTSTART") == timedelta(days=1)]
    # Only the last one is clipped (at 60 days ahead); the first keeps its true 09:00 start.
    assert len(full) >= len(found) - 1
    assert found[0].decoded("DTSTART").strftime("%H:%M") == "09:00"
    assert all(e.decoded("DTSTART").tzinfo is not None for e in found)


def test_uids_are_stable_between_fetches(people):
    alice, bob = people
    schedule = make_schedule(participants=[alice, bob], shift="daily", start="2020-01-01")
    first = {str(e["UID"]) for e in events(Client().get(f"/oncall/ical/{schedule.ical_token}.ics"))}
    second = {
        str(e["UID"]) for e in events(Client().get(f"/oncall/ical/{schedule.ical_token}.ics"))
    }
    assert len(first) >= 67
    assert first == second


def test_person_feed_has_only_their_shifts_including_overrides(people):
    alice, bob = people
    schedule = make_schedule(participants=[alice], shift="weekly", start="2020-01-06")
    other = make_schedule(name="Platform secondary", participants=[alice], shift="weekly")
    now = timezone.now()
    Override.objects.create(
        schedule=other, user=bob, starts_at=now + timedelta(days=2), ends_at=now + timedelta(days=3)
    )
    Override.objects.create(
        schedule=schedule,
        user=bob,
        starts_at=now + timedelta(days=10),
        ends_at=now + timedelta(days=11),
    )
    token = user_calendar(user=bob).token
    found = events(Client().get(f"/oncall/ical/{token}.ics"))
    assert len(found) == 2
    assert all(str(e["SUMMARY"]).startswith("On call: Bob Baker") for e in found)
    assert [e.decoded("DTEND") - e.decoded("DTSTART") for e in found] == [timedelta(days=1)] * 2


def test_unknown_token_is_404(db):
    assert Client().get("/oncall/ical/not-a-token.ics").status_code == 404
