"""Incident metrics the team runbooks ask to track monthly, computed in the database.

Definitions (docs/postmortems.md):
- MTTD, mean time to detect: detected_at - started_at.
- MTTA, mean time to acknowledge: acknowledged_at - detected_at (acknowledged incidents only).
- MTTR, mean time to resolve: resolved_at - detected_at (resolved incidents only).
- A repeat incident: its post-mortem has a root-cause category, and an earlier incident
  (or one detected at the same instant and numbered before it), detected at most REPEAT_WINDOW
  before it, shares a service and has a post-mortem with the same category.
Incidents count in the month (UTC) and the period of their detection.

Every figure is one aggregate query: no Python loops over incident rows.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import Lag, TruncMonth

from incidents.models import Incident, Severity

REPEAT_WINDOW = timedelta(days=90)
# The team runbooks' goal: detect within five minutes.
MTTD_GOAL = timedelta(minutes=5)


def _duration(end: str, start: str) -> ExpressionWrapper:
    return ExpressionWrapper(F(end) - F(start), output_field=DurationField())


def repeat_incident_ids() -> QuerySet:
    """Ids of repeat incidents, as a subquery: one pass over the categorized incidents.

    Per (service, root-cause category), incidents in detection order; an incident whose
    predecessor in its partition was detected at most REPEAT_WINDOW earlier is a repeat.
    The immediate predecessor is the latest earlier one, so this is "any earlier one within
    the window", without a correlated subquery per incident.
    """
    Link = Incident.services.through
    category = "incident__postmortem__root_cause_category"
    return (
        Link.objects.filter(**{f"{category}__isnull": False})
        .annotate(
            previous=Window(
                Lag("incident__detected_at"),
                partition_by=[F("service_id"), F(category)],
                order_by=[F("incident__detected_at").asc(), F("incident_id").asc()],
            )
        )
        .filter(incident__detected_at__lte=F("previous") + REPEAT_WINDOW)
        .values("incident_id")
    )


def _aggregates() -> dict:
    return {
        "count": Count("pk"),
        "mttd": Avg(_duration("detected_at", "started_at")),
        "mtta": Avg(_duration("acknowledged_at", "detected_at")),
        "mttr": Avg(_duration("resolved_at", "detected_at")),
        "repeats": Count("pk", filter=Q(pk__in=repeat_incident_ids())),
    }


def incidents_between(since: datetime | None, until: datetime | None) -> QuerySet[Incident]:
    qs = Incident.objects.all()
    if since is not None:
        qs = qs.filter(detected_at__gte=since)
    if until is not None:
        qs = qs.filter(detected_at__lt=until)
    return qs


@dataclass(frozen=True)
class Figures:
    count: int
    mttd: timedelta | None
    mtta: timedelta | None
    mttr: timedelta | None
    repeats: int

    @staticmethod
    def seconds(value: timedelta | None) -> float | None:
        return None if value is None else round(value.total_seconds(), 1)

    def as_seconds(self) -> dict:
        return {
            "count": self.count,
            "mttd": self.seconds(self.mttd),
            "mtta": self.seconds(self.mtta),
            "mttr": self.seconds(self.mttr),
            "repeat_incidents": self.repeats,
        }


EMPTY = Figures(0, None, None, None, 0)


def _figures(row: dict) -> Figures:
    return Figures(row["count"], row["mttd"], row["mtta"], row["mttr"], row["repeats"])


def by_severity(
    *, since: datetime | None = None, until: datetime | None = None
) -> dict[str, Figures]:
    """Figures per severity key, every severity present (empty ones with count 0), by rank."""
    rows = (
        incidents_between(since, until).values("severity_id").annotate(**_aggregates()).order_by()
    )
    found = {row["severity_id"]: _figures(row) for row in rows}
    return {s.key: found.get(s.pk, EMPTY) for s in Severity.objects.order_by("rank")}


def by_month_and_severity(
    *, since: datetime | None = None, until: datetime | None = None
) -> list[dict]:
    """[{"month": date, "severity": key, **figures}] ordered by month then severity rank."""
    rows = (
        incidents_between(since, until)
        .annotate(month=TruncMonth("detected_at", tzinfo=UTC))
        .values("month", "severity__key", "severity__rank")
        .annotate(**_aggregates())
        .order_by("month", "severity__rank")
    )
    return [
        {"month": row["month"].date(), "severity": row["severity__key"], "figures": _figures(row)}
        for row in rows
    ]


def by_month(*, since: datetime | None = None, until: datetime | None = None) -> list[dict]:
    """All severities together, per month: the trend lines of the dashboard."""
    rows = (
        incidents_between(since, until)
        .annotate(month=TruncMonth("detected_at", tzinfo=UTC))
        .values("month")
        .annotate(**_aggregates())
        .order_by("month")
    )
    return [{"month": row["month"].date(), "figures": _figures(row)} for row in rows]


def month_starts(now: datetime, count: int) -> list[datetime]:
    """The first instants (UTC) of the `count` months ending with the one holding `now`."""
    now = now.astimezone(UTC)
    year, month = now.year, now.month
    starts = []
    for _ in range(count):
        starts.append(datetime(year, month, 1, tzinfo=UTC))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]
