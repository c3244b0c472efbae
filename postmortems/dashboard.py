"""The operations dashboard on the admin home: one selector, a fixed number of queries.

What is burning (open incidents, unacknowledged first), who answers (on call now), what is
owed (overdue post-mortems and action items) and how we are doing (the last six months).

Each part shows only to whom may read it: incidents (their list, counts and figures) by the
incident policy's "view", on call by view_schedule, the overdue post-mortems and action items
by their view permission plus seeing incidents. A staff user with no permission sees none of it.
"""

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.db.models import Case, Count, Exists, IntegerField, Value, When
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from incidents.alerts.inbox import inbox_backlog, inbox_backlogged
from incidents.core import policy
from incidents.core.choices import IncidentStatus
from incidents.core.formatting import safe_colour, severity_badge
from incidents.core.texts import humanize_duration
from incidents.core.timeline import actor_label
from incidents.models import EscalationPolicy, Incident, Schedule, Severity
from incidents.oncall.compute import load_specs, now_and_next
from incidents.paging.fallback import NOBODY_PAGED, nobody_paged, with_paging_state
from postmortems import charts, reports
from postmortems.models import ActionItem, Postmortem

OPEN_LIMIT = 15
OWED_LIMIT = 8
MONTHS = 6


def _admin_url(name: str, pk: int) -> str | None:
    try:
        return reverse(name, args=[pk])
    except NoReverseMatch:  # the model is not in the admin
        return None


def _admin_url_of(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _minutes(value) -> float | None:
    return None if value is None else round(value.total_seconds() / 60, 1)


def _open_incidents(now: datetime) -> list[dict]:
    unacknowledged_first = Case(
        When(status=IncidentStatus.TRIGGERED, then=Value(0)),
        default=Value(1),
        output_field=IntegerField(),
    )
    rows = (
        with_paging_state(Incident.objects.open())
        .select_related("severity", "commander")
        .prefetch_related("services")
        .annotate(waiting=unacknowledged_first)
        .order_by("waiting", "severity__rank", "detected_at")[:OPEN_LIMIT]
    )
    return [
        {
            "incident": incident,
            "badge": severity_badge(incident.severity),
            "url": _admin_url("admin:incidents_incident_change", incident.pk),
            "age": humanize_duration(incident.age(now)),
            "unacknowledged": incident.status == IncidentStatus.TRIGGERED,
            "ack_breached": incident.acknowledge_breached(now),
            "resolve_breached": incident.resolve_breached(now),
            "services": ", ".join(s.name for s in incident.services.all()),
            "commander": actor_label(incident.commander) if incident.commander_id else "",
            "nobody_paged": nobody_paged(incident),
            "page_failing": incident.page_failing,
        }
        for incident in rows
    ]


def _oncall(now: datetime) -> list[dict]:
    schedules = list(Schedule.objects.order_by("name"))
    if not schedules:
        return []
    specs = load_specs(schedules)
    segments = {s.pk: now_and_next(specs[s.pk], now) for s in schedules}
    wanted = {
        seg.user
        for current, nxt in segments.values()
        for seg in (current, nxt)
        if seg is not None and seg.user is not None
    }
    users = get_user_model().objects.in_bulk(wanted)
    rows = []
    for schedule in schedules:
        current, nxt = segments[schedule.pk]
        person = users.get(current.user) if current and current.user else None
        following = users.get(nxt.user) if nxt and nxt.user else None
        rows.append(
            {
                "schedule": schedule,
                "url": _admin_url("admin:incidents_schedule_change", schedule.pk),
                "who": actor_label(person) if person else None,
                "until": current.end if current and person else None,
                "next": actor_label(following) if following else None,
            }
        )
    return rows


def _charts(now: datetime, severities: list[Severity]) -> dict:
    starts = reports.month_starts(now, MONTHS)
    labels = [f"{start:%b}" for start in starts]
    index = {start.date(): i for i, start in enumerate(starts)}
    counts = {s.key: [0] * MONTHS for s in severities}
    for row in reports.by_month_and_severity(since=starts[0]):
        if row["month"] in index and row["severity"] in counts:
            counts[row["severity"]][index[row["month"]]] = row["figures"].count
    mtta, mttr = [None] * MONTHS, [None] * MONTHS
    for row in reports.by_month(since=starts[0]):
        if row["month"] in index:
            mtta[index[row["month"]]] = _minutes(row["figures"].mtta)
            mttr[index[row["month"]]] = _minutes(row["figures"].mttr)
    bars = charts.stacked_bars(
        "Incidents per month by severity",
        labels,
        [charts.Series(s.key, s.color, counts[s.key]) for s in severities],
    )
    trend = charts.lines(
        "Mean time to acknowledge and to resolve per month",
        labels,
        [charts.Series("MTTA", "#1f5fa8", mtta), charts.Series("MTTR", "#e4572e", mttr)],
    )
    return {"counts": bars, "trend": trend, "since": starts[0]}


def _figures(now: datetime, severities: list[Severity], since: datetime) -> list[dict]:
    figures = reports.by_severity(since=since)
    rows = []
    for severity in severities:
        f = figures.get(severity.key, reports.EMPTY)
        rows.append(
            {
                "severity": severity,
                "badge": severity_badge(severity),
                "count": f.count,
                "mttd": humanize_duration(f.mttd) if f.mttd is not None else "-",
                "mtta": humanize_duration(f.mtta) if f.mtta is not None else "-",
                "mttr": humanize_duration(f.mttr) if f.mttr is not None else "-",
                "mttd_missed": f.mttd is not None and f.mttd > reports.MTTD_GOAL,
                "mtta_missed": f.mtta is not None and f.mtta > severity.acknowledge_within,
                "mttr_missed": f.mttr is not None and f.mttr > severity.resolve_within,
                "repeats": f.repeats,
            }
        )
    return rows


def _inbox() -> dict:
    """The ingest inbox's backlog (one query): what waits, since when, and whether that is
    past TOCSIN_INGEST_BACKLOG_SECONDS (what /health/ingest answers 503 for)."""
    backlog = inbox_backlog()
    seconds = round(backlog.age_seconds)
    url = _admin_url_of("admin:incidents_inboxevent_changelist")
    return {
        "depth": backlog.depth,
        "age": f"{seconds} s" if seconds < 60 else humanize_duration(timedelta(seconds=seconds)),
        "backlogged": inbox_backlogged(backlog),
        "url": f"{url}?state=waiting" if url else None,
    }


def visible_parts(user) -> dict[str, bool]:
    """Which parts of the dashboard `user` may read (None: all of them, for callers with no user)."""
    if user is None:
        return dict.fromkeys(("incidents", "oncall", "postmortems", "action_items", "inbox"), True)
    incidents = policy.may(user, policy.Action.VIEW)
    return {
        "incidents": incidents,
        "oncall": user.has_perm("incidents.view_schedule"),
        "postmortems": incidents and policy.may(user, policy.Action.VIEW_POSTMORTEM),
        "action_items": incidents and user.has_perm("postmortems.view_actionitem"),
        "inbox": user.has_perm("incidents.view_inboxevent"),
    }


def operations_dashboard(*, now: datetime | None = None, user=None) -> dict:
    """Everything the admin home shows `user`, in a number of queries that does not grow with data.

    Without a user (a caller that is not a request), every part.
    """
    now = now or timezone.now()
    sees = visible_parts(user)
    dash = {"now": now, "sees": sees}
    if sees["incidents"]:
        dash.update(_incident_parts(now))
    if sees["oncall"]:
        dash["oncall"] = _oncall(now)
    if sees["inbox"]:
        dash["inbox"] = _inbox()
    if sees["postmortems"]:
        overdue_postmortems = Postmortem.objects.overdue(now)
        dash["overdue_postmortems"] = list(
            overdue_postmortems.select_related("incident__severity", "author").order_by("due_at")[
                :OWED_LIMIT
            ]
        )
        dash["overdue_postmortems_total"] = overdue_postmortems.count()
    if sees["action_items"]:
        overdue_items = ActionItem.objects.overdue(timezone.localdate(now))
        dash["overdue_items"] = list(
            overdue_items.select_related("owner", "postmortem__incident").order_by("due_date")[
                :OWED_LIMIT
            ]
        )
        dash["overdue_items_total"] = overdue_items.count()
    return dash


def _incident_parts(now: datetime) -> dict:
    severities = list(
        Severity.objects.order_by("rank").annotate(
            # Asked here to keep the query count fixed: is any policy the default?
            default_policy=Exists(EscalationPolicy.objects.filter(is_default=True))
        )
    )
    counted = list(
        with_paging_state(Incident.objects.open(), alias=True)
        .order_by()
        .values("severity_id")
        .annotate(n=Count("pk"), nobody=Count("pk", filter=NOBODY_PAGED))
    )
    open_counts = {row["severity_id"]: row["n"] for row in counted}
    chart_data = _charts(now, severities)
    return {
        "open_incidents": _open_incidents(now),
        "open_total": sum(open_counts.values()),
        "open_by_severity": [
            {
                "severity": s,
                "colour": safe_colour(s.color),
                "count": open_counts.get(s.pk, 0),
            }
            for s in severities
        ],
        "nobody_paged_total": sum(row["nobody"] for row in counted),
        "default_policy_missing": bool(severities) and not severities[0].default_policy,
        "policy_add_url": _admin_url_of("admin:incidents_escalationpolicy_changelist"),
        "charts": chart_data,
        "figures": _figures(now, severities, chart_data["since"]),
    }
