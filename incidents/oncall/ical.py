"""iCalendar feeds of final shifts: one per schedule, one per person, behind a secret token."""

from datetime import datetime, timedelta

import icalendar
from django.contrib.auth import get_user_model
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from incidents.core.formatting import person_name
from incidents.models import Schedule, UserCalendar
from incidents.oncall import compute as oncall

PAST = timedelta(days=7)
FUTURE = timedelta(days=60)
LEAD_IN = timedelta(days=35)


def _uid(schedule_id: int, user_id: int, start: datetime) -> str:
    # Stable across refreshes while the shift keeps its start, so calendar apps update in place.
    return f"shift-{schedule_id}-{user_id}-{start:%Y%m%dT%H%M%SZ}@tocsin"


def _calendar(name: str) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", "-//Tocsin//On-call shifts//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    return cal


def _event(schedule: Schedule, shift: oncall.Shift, stamp: datetime) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", _uid(schedule.pk, shift.user.pk, shift.start))
    event.add("dtstamp", stamp)
    event.add("dtstart", shift.start)
    event.add("dtend", shift.end)
    event.add("summary", f"On call: {person_name(shift.user)} ({schedule.name})")
    return event


def _shifts(spec, now: datetime) -> list[oncall.Shift]:
    """Shifts ending in the last PAST or starting before now + FUTURE, with their true starts.

    Computed from a month earlier so a shift under way at the window's start keeps its real
    start, and with it its UID, from one fetch to the next.
    """
    shifts = oncall.spec_final_shifts(spec, now - PAST - LEAD_IN, now + FUTURE)
    return [s for s in shifts if s.end > now - PAST]


def schedule_feed(schedule: Schedule, now: datetime) -> bytes:
    cal = _calendar(f"On call: {schedule.name}")
    shifts = _shifts(oncall.load_spec(schedule), now)
    users = get_user_model().objects.in_bulk({s.user for s in shifts})
    for shift in shifts:
        if shift.user in users:
            cal.add_component(
                _event(schedule, oncall.Shift(users[shift.user], shift.start, shift.end), now)
            )
    return cal.to_ical()


def _schedules_of(user) -> tuple[list[Schedule], dict]:
    """The schedules the person takes turns in or covers, by name, with their specs."""
    schedule_ids = set(
        Schedule.objects.filter(rotations__participants__user=user).values_list("pk", flat=True)
    ) | set(Schedule.objects.filter(overrides__user=user).values_list("pk", flat=True))
    schedules = list(Schedule.objects.filter(pk__in=schedule_ids).order_by("name"))
    return schedules, oncall.load_specs(schedules)


def person_shifts(user, now: datetime, ahead: timedelta) -> list[tuple[Schedule, oncall.Shift]]:
    """The person's shifts under way at `now` or starting within `ahead`, on every schedule,
    in time order. Looked at from `now - LEAD_IN` to `now + ahead + LEAD_IN`: a shift reaching
    past either end is cut there."""
    schedules, specs = _schedules_of(user)
    found = [
        (schedule, oncall.Shift(user, shift.start, shift.end))
        for schedule in schedules
        for shift in oncall.spec_final_shifts(
            specs[schedule.pk], now - LEAD_IN, now + ahead + LEAD_IN
        )
        if shift.user == user.pk and shift.end > now and shift.start < now + ahead
    ]
    return sorted(found, key=lambda pair: (pair[1].start, pair[0].name))


def person_feed(user, now: datetime) -> bytes:
    cal = _calendar(f"On call: {person_name(user)}")
    schedules, specs = _schedules_of(user)
    for schedule in schedules:
        for shift in _shifts(specs[schedule.pk], now):
            if shift.user == user.pk:
                cal.add_component(_event(schedule, oncall.Shift(user, shift.start, shift.end), now))
    return cal.to_ical()


@require_GET
def feed(request, token: str):
    """`/oncall/ical/<token>.ics`: the token is the only credential, so an unknown one is a 404."""
    now = timezone.now().replace(microsecond=0)
    schedule = Schedule.objects.filter(ical_token=token).first()
    if schedule is not None:
        body = schedule_feed(schedule, now)
    else:
        calendar = UserCalendar.objects.filter(token=token).select_related("user").first()
        if calendar is None or not calendar.user.is_active:
            raise Http404("No such calendar.")
        body = person_feed(calendar.user, now)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response
