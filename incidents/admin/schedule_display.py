"""What the schedule pages show: who is on call now and next, the 14-day final schedule."""

from datetime import datetime, timedelta
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from incidents.admin.rotation_edits import local_time as _local
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
    if user is None:
        return "—"
    return user.get_full_name() or user.username


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
        who = (
            format_html(
                '<span class="oncall-dot" style="background:{}"></span>{}',
                colours[seg.user],
                _who(seg.user, users),
            )
            if seg.user
            else format_html("<strong>{}</strong>", "Nobody on call")
        )
        rows.append(
            (
                "oncall-gap" if seg.user is None else "",
                who,
                _local(seg.start, tz),
                _local(seg.end, tz),
                _length(seg.end - seg.start),
                f"{take_url}?{query}",
                "Cover this gap" if seg.user is None else "Take this shift",
            )
        )
    body = format_html_join(
        "",
        '<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td>'
        '<td><a class="button" href="{}">{}</a></td></tr>',
        rows,
    )
    return format_html(
        '<div class="oncall-final">{}<table class="oncall-table"><thead><tr><th>Who</th>'
        "<th>From</th><th>To</th><th>Length</th><th></th></tr></thead><tbody>{}</tbody>"
        '</table><p class="help">Times in {}. Gaps, when nobody is on call, are in red.</p>'
        "</div>",
        _day_strips(timeline, tz, now, users, colours),
        body,
        obj.time_zone,
    )


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
    if current is None or current.user is None:
        now_html = format_html('<span class="oncall-nobody">{}</span>', "Nobody on call")
    else:
        now_html = format_html("<strong>{}</strong>", _who(current.user, users))
    if nxt is None:
        return format_html("{}", now_html)
    next_who = _who(nxt.user, users) if nxt.user else "nobody"
    return format_html(
        '{} <span class="oncall-next">until {}, then {}</span>',
        now_html,
        _local(nxt.start, tz),
        next_who,
    )


def _day_strips(timeline, tz, now, users, colours):
    """One bar per local day, segments coloured by person and gaps in red."""
    if not timeline:
        return ""
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
            left = (s - day_start).total_seconds() / span * 100
            width = (e - s).total_seconds() / span * 100
            colour = colours[seg.user] if seg.user else "#dc2626"
            label = _who(seg.user, users) if seg.user else "Nobody on call"
            pieces.append(
                (left, width, colour, "oncall-bar-gap" if seg.user is None else "", label)
            )
        if not pieces:
            continue
        bar = format_html_join(
            "",
            '<span class="oncall-bar {3}" style="left:{0}%;width:{1}%;background:{2}" '
            'title="{4}"></span>',
            pieces,
        )
        strips.append((day.strftime("%a %d %b"), bar))
    return format_html(
        '<div class="oncall-strips">{}<div class="oncall-scale"><span>00:00</span><span>06:00'
        "</span><span>12:00</span><span>18:00</span><span>24:00</span></div></div>",
        format_html_join(
            "",
            '<div class="oncall-day"><span class="oncall-day-label">{}</span>'
            '<span class="oncall-day-bar">{}</span></div>',
            strips,
        ),
    )
