"""Post-mortem writes: drafting, status moves and action items.

Same rules as `incidents.core.lifecycle`: keyword-only arguments, one transaction, locked rows,
no-op when already in the target state, a timeline row on the incident for each move.
"""

import logging
from datetime import UTC, date, datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from incidents.core.choices import IncidentStatus, PostmortemPolicy, TimelineKind
from incidents.core.errors import DomainError, IllegalTransition
from incidents.core.locks import lock_existing
from incidents.core.timeline import actor_label, timeline_record
from incidents.models import Incident, StatusUpdate, TimelineEvent
from postmortems.choices import (
    POSTMORTEM_TRANSITIONS,
    ActionPriority,
    ActionStatus,
    PostmortemStatus,
)
from postmortems.models import ActionItem, Postmortem

logger = logging.getLogger(__name__)

User = AbstractBaseUser

# Timeline kinds that say nothing a reader of the post-mortem needs (the post-mortem's own rows,
# per-recipient notifications); status updates are listed from their own rows instead.
_SKIPPED_KINDS = {TimelineKind.POSTMORTEM, TimelineKind.NOTIFICATION, TimelineKind.UPDATE}


def generate_timeline(incident: Incident) -> str:
    """The incident's history as the template's Markdown list, times in UTC.

    Times show as HH:MM when everything happened on the day of the first entry, else with
    the date, so a two-day incident still reads in order.
    """
    entries: list[tuple[datetime, int, str]] = []
    events = TimelineEvent.objects.filter(incident=incident).exclude(kind__in=_SKIPPED_KINDS)
    for event in events.order_by("at", "id"):
        entries.append((event.at, 0, event.message))
    updates = StatusUpdate.objects.filter(incident=incident).select_related("author")
    for update in updates.order_by("created_at", "id"):
        visibility = "public" if update.public else "internal"
        who = actor_label(update.author) if update.author_id else "Tocsin"
        entries.append(
            (
                update.created_at,
                1,
                f"{update.get_status_display()} update ({visibility}, {who}): {update.message}",
            )
        )
    if not entries:
        return ""
    entries.sort(key=lambda e: (e[0], e[1]))
    first_day = entries[0][0].astimezone(UTC).date()
    same_day = all(at.astimezone(UTC).date() == first_day for at, _, _ in entries)
    lines = []
    for at, _, text in entries:
        at = at.astimezone(UTC)
        stamp = f"{at:%H:%M}" if same_day else f"{at:%Y-%m-%d %H:%M}"
        lines.append(f"- **{stamp}** - {' '.join(text.split())}")
    return "\n".join(lines)


def _due_at(incident: Incident) -> datetime | None:
    within = incident.severity.postmortem_due_within
    if within is None:
        return None
    return (incident.resolved_at or timezone.now()) + within


@transaction.atomic
def postmortem_draft(
    *, incident: Incident, actor: User | None = None, via: str | None = None
) -> tuple[Postmortem, bool]:
    """Draft the incident's post-mortem if it has none yet; returns (post-mortem, created).

    Idempotent: an existing post-mortem is returned untouched, so resolving a reopened
    incident again keeps every edit and the first due date. The draft is `required` when the
    severity says so; its due date counts from resolution (from now while still open).
    """
    # The incident lock every change to an incident takes first (docs/architecture.md).
    incident = lock_existing(incident)
    existing = Postmortem.objects.filter(incident=incident).first()
    if existing is not None:
        return existing, False
    required = incident.severity.postmortem == PostmortemPolicy.REQUIRED
    postmortem = Postmortem.objects.create(
        incident=incident,
        required=required,
        author=incident.commander or actor,
        due_at=_due_at(incident),
        summary=incident.summary,
        impact_users=incident.impact,
        timeline=generate_timeline(incident),
    )
    due = f", due {postmortem.due_at:%Y-%m-%d %H:%M} UTC" if postmortem.due_at else ""
    started = "drafted the required post-mortem" if required else "started a post-mortem"
    timeline_record(
        incident=incident,
        kind=TimelineKind.POSTMORTEM,
        actor=actor,
        via=via,
        message=f"{actor_label(actor, via)} {started}{due}.",
        after={"postmortem": postmortem.pk, "status": postmortem.status},
    )
    return postmortem, True


def draft_on_resolve(incident_id: int, before: str, after: str) -> None:
    """Lifecycle hook: a resolved incident whose severity requires one gets its draft.

    Optional and not-required severities get none automatically; people start those by hand.
    It runs in the resolving transaction, in its own savepoint: a failure is logged by the
    lifecycle and the incident's resolution stands.
    """
    if after != IncidentStatus.RESOLVED:
        return
    incident = Incident.objects.select_related("severity").get(pk=incident_id)
    if incident.severity.postmortem == PostmortemPolicy.REQUIRED:
        postmortem_draft(incident=incident)


@transaction.atomic
def postmortem_regenerate_timeline(
    *, postmortem: Postmortem, actor: User | None = None
) -> Postmortem:
    """Replace the timeline section with a fresh one from the incident (overwrites edits)."""
    postmortem = (
        Postmortem.objects.select_for_update().select_related("incident").get(pk=postmortem.pk)
    )
    postmortem.timeline = generate_timeline(postmortem.incident)
    postmortem.save(update_fields=["timeline", "updated_at"])
    return postmortem


def _check_complete(postmortem: Postmortem) -> None:
    for field in ("summary", "root_cause"):
        if not getattr(postmortem, field).strip():
            label = Postmortem._meta.get_field(field).verbose_name
            raise DomainError(f"Fill in the {label} before publishing.", field=field)


@transaction.atomic
def postmortem_transition(
    *, postmortem: Postmortem, to: str, actor: User | None = None, via: str | None = None
) -> Postmortem:
    """Move a post-mortem along draft → in review → published (or back to draft)."""
    to = PostmortemStatus(to)
    postmortem = (
        Postmortem.objects.select_for_update(of=("self",))
        .select_related("incident")
        .get(pk=postmortem.pk)
    )
    before = postmortem.status
    if before == to:
        return postmortem
    if to not in POSTMORTEM_TRANSITIONS[before]:
        raise IllegalTransition(
            f"The post-mortem is {PostmortemStatus(before).label.lower()} and cannot move to "
            f"{to.label.lower()}."
        )
    if to == PostmortemStatus.PUBLISHED:
        _check_complete(postmortem)
    postmortem.status = to
    postmortem.published_at = timezone.now() if to == PostmortemStatus.PUBLISHED else None
    postmortem.save(update_fields=["status", "published_at", "updated_at"])
    timeline_record(
        incident=postmortem.incident,
        kind=TimelineKind.POSTMORTEM,
        actor=actor,
        via=via,
        message=f"{actor_label(actor, via)} moved the post-mortem from "
        f"{PostmortemStatus(before).label.lower()} to {to.label.lower()}.",
        before={"status": before},
        after={"status": to},
    )
    return postmortem


def postmortem_submit(*, postmortem: Postmortem, actor: User | None = None) -> Postmortem:
    return postmortem_transition(postmortem=postmortem, to=PostmortemStatus.IN_REVIEW, actor=actor)


def postmortem_publish(*, postmortem: Postmortem, actor: User | None = None) -> Postmortem:
    return postmortem_transition(postmortem=postmortem, to=PostmortemStatus.PUBLISHED, actor=actor)


@transaction.atomic
def action_item_create(
    *,
    postmortem: Postmortem,
    title: str,
    owner: User | None = None,
    due_date: date | None = None,
    priority: str = ActionPriority.MEDIUM,
    tracker_url: str = "",
    actor: User | None = None,
) -> ActionItem:
    title = (title or "").strip()
    if not title:
        raise DomainError("An action item needs a title.", field="title")
    return ActionItem.objects.create(
        postmortem=postmortem,
        title=title[:255],
        owner=owner,
        due_date=due_date,
        priority=ActionPriority(priority),
        tracker_url=tracker_url,
    )


@transaction.atomic
def action_item_set_status(
    *, item: ActionItem, status: str, actor: User | None = None
) -> ActionItem:
    """Any status may follow any other (work gets reopened); done stamps `completed_at`."""
    status = ActionStatus(status)
    item = ActionItem.objects.select_for_update().get(pk=item.pk)
    if item.status == status:
        return item
    item.status = status
    item.completed_at = timezone.now() if status == ActionStatus.DONE else None
    item.save(update_fields=["status", "completed_at"])
    return item


ACTION_ITEM_FIELDS = ("title", "owner", "due_date", "priority", "status", "tracker_url")


@transaction.atomic
def action_item_save(*, item: ActionItem, actor: User | None = None) -> ActionItem:
    """Save an action item edited as a whole (the admin's forms): a move to done stamps
    `completed_at`, a move away from done clears it."""
    if not (item.title or "").strip():
        raise DomainError("An action item needs a title.", field="title")
    stored = None
    if item.pk is not None:
        stored = ActionItem.objects.select_for_update().filter(pk=item.pk).first()
    was_done = stored is not None and stored.status == ActionStatus.DONE
    if item.status == ActionStatus.DONE and not was_done:
        item.completed_at = timezone.now()
    elif item.status != ActionStatus.DONE:
        item.completed_at = None
    item.save()
    return item


# The template's sections, in the order the post-mortem reads.
SECTIONS = (
    "summary",
    "timeline",
    "root_cause",
    "root_cause_category",
    "contributing_factors",
    "impact_users",
    "impact_business",
    "resolution",
    "went_well",
    "went_poorly",
    "prevention",
)
# The sections and the people: free to edit until published.
EDITABLE_FIELDS = (*SECTIONS, "affected_users", "author")


@transaction.atomic
def postmortem_update(
    *, postmortem: Postmortem, actor: User | None = None, **changes
) -> Postmortem:
    """Edit sections of an unpublished post-mortem (move it back to draft to edit a published one)."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError(f"Cannot edit {', '.join(sorted(unknown))} here.")
    postmortem = Postmortem.objects.select_for_update().get(pk=postmortem.pk)
    if postmortem.status == PostmortemStatus.PUBLISHED and changes:
        raise IllegalTransition("The post-mortem is published; move it back to draft to edit it.")
    changed = [f for f, v in changes.items() if getattr(postmortem, f) != v]
    for field in changed:
        setattr(postmortem, field, changes[field])
    if changed:
        postmortem.save(update_fields=[*changed, "updated_at"])
    return postmortem
