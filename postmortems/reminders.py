"""Daily reminders for overdue post-mortems and action items.

Each row is claimed with a compare-and-set on `last_reminded_at` (not yet reminded since the
start of the current UTC day), so two runs of the task, or two workers, send one reminder per
row per day. Reminders are notification rows (`incidents.paging.delivery.followup`): they reach the
person by their first contact route, are retried with backoff, and show in the delivery log.
"""

import logging
from datetime import UTC, datetime

from django.conf import settings
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incidents.paging import delivery as notify
from postmortems.models import ActionItem, Postmortem

logger = logging.getLogger(__name__)


def _start_of_day(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _claim(model, pk: int, now: datetime) -> bool:
    not_today = Q(last_reminded_at__isnull=True) | Q(last_reminded_at__lt=_start_of_day(now))
    return model.objects.filter(not_today, pk=pk).update(last_reminded_at=now) == 1


def _admin_url(viewname: str, pk: int) -> str:
    return settings.TOCSIN_BASE_URL + reverse(viewname, args=[pk])


def _queue(template: str, recipient, context: dict, key: str, now: datetime) -> bool:
    subject, _, body = render_to_string(template, context).strip().partition("\n")
    row = notify.followup(
        incident=context["incident"],
        user=recipient,
        key=f"{key}:{_start_of_day(now):%Y-%m-%d}",
        subject=subject.strip(),
        body=body.strip() + "\n",
        now=now,
    )
    return row is not None


def postmortem_reminders_send(*, now: datetime | None = None) -> dict[str, int]:
    """Remind the author (else the incident's commander) of each overdue post-mortem, and the
    owner of each overdue action item. Returns how many reminders were queued of each kind."""
    now = now or timezone.now()
    sent = {"postmortems": 0, "action_items": 0}
    overdue = (
        Postmortem.objects.overdue(now)
        .select_related("incident__severity", "author", "incident__commander")
        .order_by("due_at")
    )
    for postmortem in overdue:
        recipient = postmortem.author or postmortem.incident.commander
        if recipient is None or not _claim(Postmortem, postmortem.pk, now):
            continue
        context = {
            "postmortem": postmortem,
            "incident": postmortem.incident,
            "recipient": recipient,
            "url": _admin_url("admin:postmortems_postmortem_change", postmortem.pk),
        }
        if _queue(
            "emails/postmortems/postmortem_overdue.txt",
            recipient,
            context,
            f"postmortem:{postmortem.pk}",
            now,
        ):
            sent["postmortems"] += 1
    items = (
        ActionItem.objects.overdue(now.astimezone(UTC).date())
        .filter(owner__isnull=False)
        .select_related("owner", "postmortem__incident")
        .order_by("due_date", "pk")
    )
    for item in items:
        if not _claim(ActionItem, item.pk, now):
            continue
        context = {
            "item": item,
            "incident": item.postmortem.incident,
            "recipient": item.owner,
            "url": _admin_url("admin:postmortems_actionitem_change", item.pk),
        }
        if _queue(
            "emails/postmortems/action_item_overdue.txt",
            item.owner,
            context,
            f"actionitem:{item.pk}",
            now,
        ):
            sent["action_items"] += 1
    return sent
