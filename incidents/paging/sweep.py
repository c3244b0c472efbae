"""The timer sweep: what the beat task runs every few seconds, whatever happened to the ETA tasks.

It audits first: a triggered incident of a paging severity with neither an escalation nor a
recorded "nobody to page" (an escalation row lost, an incident written around the lifecycle) gets
its escalation started, once, with a timeline note saying so. Then it fires due steps and severity
timers, and sends the notifications whose own task is late.
"""

import logging
from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from incidents.core.choices import IncidentStatus, TimelineKind
from incidents.core.locks import lock_incident, retry_on_conflict
from incidents.core.timeline import timeline_record
from incidents.models import Incident, IncidentEscalation, TimelineEvent
from incidents.paging import delivery as notify
from incidents.paging.cadence import escalation_fire_due_deadlines
from incidents.paging.engine import NOBODY_TO_PAGE, escalation_start
from incidents.paging.steps import escalation_fire_due

logger = logging.getLogger(__name__)

VIA = "Timer sweep"


def _nobody_recorded():
    """The timeline entry escalation_start writes when no policy covers an incident (entries
    from before it carried a marker are known by their text)."""
    entries = TimelineEvent.objects.filter(incident=OuterRef("pk"), kind=TimelineKind.ESCALATION)
    return entries.filter(
        Q(after__paging=NOBODY_TO_PAGE["paging"])
        | Q(message__startswith="No escalation policy applies")
    )


def unescalated():
    """Triggered incidents of a paging severity with no escalation and no "nobody to page"."""
    return (
        Incident.objects.filter(status=IncidentStatus.TRIGGERED, severity__pages=True)
        .exclude(Exists(IncidentEscalation.objects.filter(incident=OuterRef("pk"))))
        .exclude(Exists(_nobody_recorded()))
    )


@retry_on_conflict
def _restart(incident_id: int) -> bool:
    incident = lock_incident(incident_id)
    if incident is None or not unescalated().filter(pk=incident_id).exists():
        return False  # started (or resolved) meanwhile
    timeline_record(
        incident=incident,
        kind=TimelineKind.ESCALATION,
        via=VIA,
        message="Triggered with no escalation and no record that nobody is to be paged: "
        "starting its escalation now.",
        after={"audit": "escalation started"},
    )
    escalation_start(incident_id=incident_id)
    return True


def escalation_audit(*, limit: int = 20) -> int:
    """Start the escalation of up to `limit` incidents `unescalated()` finds, each once: after
    this, each has an escalation or the timeline says nobody is to be paged. Returns how many."""
    started = 0
    for pk in unescalated().order_by("detected_at").values_list("pk", flat=True)[:limit]:
        try:
            started += _restart(pk)
        except Exception:
            # Tried again at the next sweep; the change that failed was undone whole.
            logger.exception("Could not start the escalation of incident %s", pk)
    return started


def escalation_sweep(*, budget_seconds: float = 20.0, grace_seconds: float = 2.0) -> dict[str, int]:
    """Audit, then fire every due step and severity timer, and hand the notifications whose
    task is late to the delivery queue.

    Incidents are taken with `SELECT … FOR UPDATE SKIP LOCKED`, so sweeps on several workers and
    the ETA tasks share the work without waiting on each other or doing anything twice. The sweep
    never sends a notification itself, so a slow webhook never holds it (or a page) back.
    Notifications are only swept once `grace_seconds` late: until then their own task is on
    its way.
    """
    stop_at = timezone.now() + timedelta(seconds=budget_seconds)
    counts = {"audited": escalation_audit(), "steps": 0, "deadlines": 0, "notifications": 0}
    failed_steps: set[int] = set()
    failed_deadlines: set[int] = set()
    while timezone.now() < stop_at:
        steps = escalation_fire_due(limit=100, failed=failed_steps)
        deadlines = escalation_fire_due_deadlines(limit=20, failed=failed_deadlines)
        # Late notifications go to the delivery queue, once per sweep: the sweep never sends.
        late = timezone.now() - timedelta(seconds=grace_seconds)
        sent = 0 if counts["notifications"] else notify.notification_sweep(late)
        counts["steps"] += steps
        counts["deadlines"] += deadlines
        counts["notifications"] += sent
        if not (steps or deadlines or sent):
            break
    return counts
