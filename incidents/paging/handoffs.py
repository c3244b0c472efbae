"""Handoff messages: at every shift change the team channel hears who takes over, once.

`handoff_sweep` runs from Celery beat every few seconds. Per schedule it looks for shift changes
since the schedule's `handoffs_checked_at`, records each as a `Handoff` row, unique on
(schedule, at), so two sweeps or a retry never announce one change twice, and queues one outbox
row per channel plus a "you are now on call" notice to the incoming person, with their text
rendered there and then. The outbox delivers them like any page (incidents/paging/delivery.py):
same task, same backoff, same delivery log.
"""

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.core.choices import ContactKind
from incidents.core.formatting import person_mention
from incidents.models import Handoff, Incident, NotificationReason, Schedule, Severity
from incidents.oncall import compute as oncall
from incidents.oncall.schedules import user_calendar
from incidents.paging import delivery, outbox

log = logging.getLogger(__name__)

# A sweep never announces changes older than this (e.g. after the workers were down for a day).
LOOKBACK = timedelta(hours=1)
OPEN_LISTED = 10


def handoff_context(*, schedule: Schedule, at: datetime, spec=None) -> dict:
    """Everything the handoff template shows, from the rows as they are at `at`."""
    spec = spec or oncall.load_spec(schedule)
    tz = ZoneInfo(schedule.time_zone)
    before = oncall.final_timeline(spec, at - timedelta(days=35), at)
    after = oncall.final_timeline(spec, at, at + timedelta(days=35))
    previous = before[-1] if before else None
    current = after[0] if after else None
    shift_start = previous.start if previous else at
    users = get_user_model().objects.in_bulk({s.user for s in (previous, current) if s and s.user})
    outgoing = users.get(previous.user) if previous and previous.user else None
    incoming = users.get(current.user) if current and current.user else None

    secondary = None
    if schedule.backup_schedule_id:
        backup = oncall.oncall_users(schedule.backup_schedule, at)
        secondary = backup[0] if backup else None

    counts = dict(
        Incident.objects.filter(detected_at__gte=shift_start, detected_at__lt=at)
        .values_list("severity__key")
        .annotate(n=Count("id"))
    )
    severities = [(s.key, counts.get(s.key, 0)) for s in Severity.objects.order_by("rank")]
    still_open = list(
        Incident.objects.open().select_related("severity").order_by("severity__rank", "number")
    )
    # Post-mortems build on incidents, so the model is looked up rather than imported.
    action_items = apps.get_model("postmortems", "ActionItem").objects.open()
    pending = list(action_items.select_related("owner", "postmortem__incident")[:OPEN_LISTED])
    return {
        "schedule": schedule,
        "action_items": pending,
        "action_count": action_items.count(),
        "action_overdue": action_items.overdue(today=oncall.to_local(at, tz).date()).count(),
        # Naive wall-clock times: the template's date filter would turn aware ones into UTC.
        "at_local": oncall.to_local(at, tz),
        "time_zone": schedule.time_zone,
        "shift_start_local": oncall.to_local(shift_start, tz),
        "until_local": oncall.to_local(current.end, tz) if current and current.user else None,
        "incoming": incoming,
        "outgoing": outgoing,
        "incoming_name": person_mention(incoming, with_name=True),
        "outgoing_name": person_mention(outgoing),
        "secondary_name": person_mention(secondary, with_name=True) if secondary else None,
        "has_backup": bool(schedule.backup_schedule_id),
        "incident_total": sum(counts.values()),
        "severities": severities,
        "still_open": still_open[:OPEN_LISTED],
        "more_open": max(len(still_open) - OPEN_LISTED, 0),
        "open_count": len(still_open),
    }


def handoff_record(*, schedule: Schedule, at: datetime, spec=None) -> tuple[Handoff, bool]:
    """The Handoff row for the change at `at`, created with its outbox rows if new."""
    context = handoff_context(schedule=schedule, at=at, spec=spec)
    with transaction.atomic():
        handoff, created = Handoff.objects.get_or_create(
            schedule=schedule,
            at=at,
            defaults={
                "outgoing": context["outgoing"],
                "incoming": context["incoming"],
                "message": render_to_string("messages/handoff.txt", context).strip(),
            },
        )
        if not created:
            return handoff, False
        incoming = context["incoming"]
        subject = f"On-call handoff: {schedule.name}, {person_mention(incoming)} takes over"
        for channel in schedule.handoff_channels.all():
            outbox.message(
                key=f"handoff:{handoff.pk}:channel:{channel.pk}",
                reason=NotificationReason.HANDOFF,
                kind=channel.kind,
                address=channel.address,
                recipient=f"{schedule.name} handoff channel",
                subject=subject,
                body=handoff.message,
            )
        if incoming is not None and incoming.email:
            notice_subject, notice_body = _notice(handoff, context)
            outbox.message(
                key=f"handoff:{handoff.pk}:notice:user:{incoming.pk}",
                reason=NotificationReason.HANDOFF,
                kind=ContactKind.EMAIL,
                address=incoming.email,
                recipient=incoming.get_username(),
                user=incoming,
                subject=notice_subject,
                body=notice_body,
            )
    return handoff, True


def handoff_sweep(*, now: datetime | None = None) -> dict:
    """Record the shift changes of every schedule since its last check, then deliver."""
    now = now or timezone.now()
    recorded = 0
    with transaction.atomic():
        # A second sweep running at the same time skips the schedules this one holds.
        schedules = list(Schedule.objects.select_for_update(skip_locked=True).order_by("pk"))
        specs = oncall.load_specs(schedules)
        for schedule in schedules:
            since = max(schedule.handoffs_checked_at or schedule.created_at, now - LOOKBACK)
            if since < now:
                for at, _outgoing, _incoming in oncall.changes(specs[schedule.pk], since, now):
                    _, created = handoff_record(schedule=schedule, at=at, spec=specs[schedule.pk])
                    recorded += created
            schedule.handoffs_checked_at = now
        Schedule.objects.bulk_update(schedules, ["handoffs_checked_at"])
    # The messages are outbox rows now: the delivery workers send them, never this sweep.
    return {"schedules": len(schedules), "recorded": recorded}


def handoff_deliver_pending(limit: int = 100) -> int:
    """Send the due handoff messages in this process (what the delivery workers do)."""
    return delivery.deliver_due(limit=limit, reason=NotificationReason.HANDOFF)


def _notice(handoff: Handoff, context: dict) -> tuple[str, str]:
    schedule = handoff.schedule
    context = {
        **context,
        "calendar_url": user_calendar(user=handoff.incoming).ical_url,
        "base_url": settings.TOCSIN_BASE_URL,
    }
    subject = f"You are now on call for {schedule.name}"
    return subject, render_to_string("messages/oncall_notice.txt", context).strip()
