"""What the schedule pages show: who is on call now and next, the 14-day final schedule."""

from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe

from incidents.admin.rotation_edits import local_time as _local
from incidents.core.formatting import person_name
from incidents.oncall import compute as oncall

HORIZON = timedelta(days=14)
PALETTE = ("#2563eb", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2", "#65a30d", "#9333ea")


def _colours(timeline) -> dict[int, str]:
    """A distinct colour per person, in order of first appearance on the page."""
    colours: dict[int, str] = {}
    for seg in timeline:
        if seg.user is not None and seg.user not in colours:
            colours[seg.user] = PALETTE[len(colours) % len(PALETTE)]
    return colours


def _length(delta: timedelta) -> str:
    hours = round(delta.total_seconds() / 3600, 1)
    if hours >= 24:
        return f"{hours / 24:.1f} d".replace(".0 d", " d")
    return f"{hours:g} h"


def _who(user_id, users) -> str:
    user = users.get(user_id)
    return "—" if user is None else person_name(user)


def final_schedule_html(obj):
    """The next 14 days of a schedule: day strips and a table with "Take this shift"."""
    tz = ZoneInfo(obj.time_zone)
    now = timezone.now().replace(second=0, microsecond=0)
    timeline = oncall.final_timeline(oncall.load_spec(obj), now, now + HORIZON)
    users = get_user_model().objects.in_bulk({s.user for s in timeline if s.user})
    colours = _colours(timeline)
    take_url = reverse("admin:incidents_schedule_override", args=[obj.pk])
    rows = []
    for seg in timeline:
        query = urlencode(
            {
                "start": seg.start.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
                "end": seg.end.astimezone(tz).strftime("%Y-%m-%dT%H:%M"),
                **({"replaces": seg.user} if seg.user else {}),
            }
        )
        rows.append(
            {
                "user": seg.user,
                "colour": colours.get(seg.user),
                "who": _who(seg.user, users),
                "start": _local(seg.start, tz),
                "end": _local(seg.end, tz),
                "length": _length(seg.end - seg.start),
                "take_url": f"{take_url}?{query}",
            }
        )
    context = {
        "rows": rows,
        "strips": _day_strips(timeline, tz, now, users, colours),
        "time_zone": obj.time_zone,
    }
    return render("admin/incidents/schedule/final_schedule.html", context)


def attach_now_next(schedules) -> None:
    """Who is on call now and next for a page of schedules, in a fixed number of queries."""
    now = timezone.now()
    specs = oncall.load_specs(schedules)
    pairs = {pk: oncall.now_and_next(spec, now) for pk, spec in specs.items()}
    ids = {seg.user for pair in pairs.values() for seg in pair if seg and seg.user}
    users = get_user_model().objects.in_bulk(ids)
    for schedule in schedules:
        current, nxt = pairs.get(schedule.pk, (None, None))
        schedule._now_next = (current, nxt, users)


def now_next_html(schedule, current, nxt, users):
    tz = ZoneInfo(schedule.time_zone)
    context = {
        "now": _who(current.user, users) if current and current.user else "",
        "until": _local(nxt.start, tz) if nxt else "",
        "next": (_who(nxt.user, users) if nxt.user else "nobody") if nxt else "",
    }
    return render("admin/incidents/schedule/now_next.html", context)


def _day_strips(timeline, tz, now, users, colours) -> list[dict]:
    """One bar per local day, segments coloured by person and gaps in red."""
    if not timeline:
        return []
    first_day = now.astimezone(tz).date()
    strips = []
    for offset in range(15):
        day = first_day + timedelta(days=offset)
        day_start = oncall.localize(datetime.combine(day, datetime.min.time()), tz)
        day_end = oncall.localize(
            datetime.combine(day + timedelta(days=1), datetime.min.time()), tz
        )
        span = (day_end - day_start).total_seconds()
        pieces = []
        for seg in timeline:
            s, e = max(seg.start, day_start), min(seg.end, day_end)
            if e <= s:
                continue
            pieces.append(
                {
                    "left": str((s - day_start).total_seconds() / span * 100),
                    "width": str((e - s).total_seconds() / span * 100),
                    "colour": colours[seg.user] if seg.user else "#dc2626",
                    "gap_class": "oncall-bar-gap" if seg.user is None else "",
                    "label": _who(seg.user, users) if seg.user else "Nobody on call",
                }
            )
        if pieces:
            strips.append({"label": day.strftime("%a %d %b"), "pieces": pieces})
    return strips


def render(template: str, context: dict):
    """An admin display fragment from its template."""
    return mark_safe(render_to_string(template, context).strip())
