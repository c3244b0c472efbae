"""Editing who takes turns in a rotation, from a moment on.

An edit never rewrites the past: the shifts that started before its effective moment (the shift in
progress included) keep their people in `shifts`, `oncall?at=` and the iCal feeds; later shifts
are dealt from the new list (`incidents.oncall.compute.revise` states the rule). The people whose upcoming
shifts move are told by email, through the handoff deliveries (sent by the handoff sweep).
"""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from incidents.core.audit import audit_record
from incidents.core.choices import ContactKind
from incidents.core.errors import DomainError
from incidents.core.formatting import person_name
from incidents.models import (
    ChangeAction,
    Notification,
    NotificationReason,
    Rotation,
    RotationParticipant,
    Schedule,
)
from incidents.oncall import compute as oncall

# Moves further ahead than this are neither previewed nor announced (they still happen).
HORIZON = timedelta(days=42)
# An effective moment this far back is taken as "now" (a preview page left open a while);
# earlier ones are refused: past shifts never change.
GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class ParticipantsPlan:
    """What an edit would do: the moment it applies from and the stretches that move."""

    rotation: Rotation
    effective_from: datetime
    before: tuple[int, ...]
    after: tuple[int, ...]
    changed: bool
    moves: list[oncall.Move]
    users: dict  # user id -> user, for everyone named in `moves`, `before` and `after`

    def name(self, user_id) -> str:
        user = self.users.get(user_id)
        if user is None:
            return "nobody"
        return person_name(user)


def check_effective_from(effective_from: datetime | None, now: datetime) -> datetime:
    """The moment an edit applies from: now when absent or a little in the past."""
    if effective_from is None:
        return now
    if effective_from.tzinfo is None:
        raise DomainError("Give the moment with its UTC offset.", field="effective_from")
    if effective_from < now - GRACE:
        raise DomainError(
            "The change cannot start in the past: past shifts never change. "
            "Give a later moment, or none for now.",
            field="effective_from",
        )
    return max(effective_from, now)


def rotation_participants_plan(
    *,
    rotation: Rotation,
    users: Sequence,
    effective_from: datetime | None = None,
    now: datetime | None = None,
) -> ParticipantsPlan:
    """The preview of `rotation_set_participants` with the same arguments; writes nothing."""
    if not users:
        raise DomainError("A rotation needs at least one participant.", field="participants")
    now = (now or timezone.now()).replace(microsecond=0)
    moment = check_effective_from(effective_from, now)
    spec = oncall.load_spec(rotation.schedule)
    index = next(i for i, layer in enumerate(spec.layers) if layer.key == rotation.pk)
    layer = spec.layers[index]
    before = oncall.participants_at(layer, moment)
    after = tuple(u.pk for u in users)
    changed = before != after or any(r.effective_from > moment for r in layer.revisions)
    revised = oncall.revise(layer, after, moment)
    new_spec = replace(spec, layers=(*spec.layers[:index], revised, *spec.layers[index + 1 :]))
    moves = oncall.moves(spec, new_spec, moment, moment + HORIZON) if changed else []
    ids = {*before, *after} | {m.before for m in moves} | {m.after for m in moves}
    people = get_user_model().objects.in_bulk({i for i in ids if i is not None})
    return ParticipantsPlan(rotation, moment, before, after, changed, moves, people)


@transaction.atomic
def rotation_set_participants(
    *,
    rotation: Rotation,
    users: Sequence,
    effective_from: datetime | None = None,
    actor=None,
    now: datetime | None = None,
) -> ParticipantsPlan:
    """`users` take turns in `rotation`, in this order, from `effective_from` (default: now) on.

    A no-op when they already do. Edits at or after that moment that were planned before are
    replaced. Everyone whose shifts in the next `HORIZON` move gets a notice.
    """
    # Serialises edits of one schedule: each plans against the rows the previous one left.
    Schedule.objects.select_for_update().filter(pk=rotation.schedule_id).first()
    if not rotation.participants.exists():  # a new layer: its list applies from its start
        if not users:
            raise DomainError("A rotation needs at least one participant.", field="participants")
        RotationParticipant.objects.bulk_create(
            RotationParticipant(rotation=rotation, user=user, position=position)
            for position, user in enumerate(users)
        )
        _audit_people(rotation=rotation, actor=actor, before=[], after=users, moment=None)
        return rotation_participants_plan(rotation=rotation, users=users, now=now)
    plan = rotation_participants_plan(
        rotation=rotation, users=users, effective_from=effective_from, now=now
    )
    if not plan.changed:
        return plan
    layer = next(
        layer for layer in oncall.load_spec(rotation.schedule).layers if layer.key == rotation.pk
    )
    tz = ZoneInfo(rotation.schedule.time_zone)
    rows = rotation.participants.all()
    if plan.effective_from <= oncall.first_shift_start(layer, tz):
        moment = None  # nobody has had a shift yet: this is the list from the start
    else:
        moment = plan.effective_from
        rows = rows.filter(effective_from__gte=moment)
    rows.delete()
    RotationParticipant.objects.bulk_create(
        RotationParticipant(rotation=rotation, user=user, position=position, effective_from=moment)
        for position, user in enumerate(users)
    )
    _queue_notices(plan=plan, actor=actor)
    _audit_people(
        rotation=rotation,
        actor=actor,
        before=[plan.users[i] for i in plan.before if i in plan.users],
        after=users,
        moment=moment,
    )
    return plan


def _audit_people(*, rotation: Rotation, actor, before, after, moment) -> None:
    when = f"from {moment.isoformat()}" if moment else "from the rotation's start"
    audit_record(
        actor=actor,
        obj=rotation,
        action=ChangeAction.CHANGED,
        before={"participants": [u.get_username() for u in before]},
        after={"participants": [u.get_username() for u in after]},
        note=f"Participants {when}.",
    )


def _queue_notices(*, plan: ParticipantsPlan, actor) -> None:
    schedule = plan.rotation.schedule
    tz = ZoneInfo(schedule.time_zone)
    affected = {m.before for m in plan.moves} | {m.after for m in plan.moves}
    rows = []
    for user_id in sorted(i for i in affected if i is not None):
        user = plan.users.get(user_id)
        if user is None or not user.email:
            continue
        lines = [
            {
                "start": oncall.to_local(m.start, tz),
                "end": oncall.to_local(m.end, tz),
                "gained": m.after == user_id,
                "other": plan.name(m.before if m.after == user_id else m.after),
            }
            for m in plan.moves
            if user_id in (m.before, m.after)
        ]
        context = {
            "schedule": schedule,
            "rotation": plan.rotation,
            "time_zone": schedule.time_zone,
            "effective_local": oncall.to_local(plan.effective_from, tz),
            "order": ", ".join(plan.name(i) for i in plan.after),
            "actor": person_name(actor) if actor else "",
            "moves": lines,
            # Not the calendar link itself: this text is stored with the delivery row.
            "my_paging_url": settings.TOCSIN_BASE_URL + reverse("my-paging"),
        }
        body = render_to_string("messages/shifts_moved.txt", context).strip()
        # An outbox row (incidents/paging/outbox.py), written directly: on-call sits below paging.
        # The delivery sweep sends it within a sweep interval.
        digest = hashlib.sha256(body.encode()).hexdigest()[:16]
        rows.append(
            Notification(
                dedup_key=f"shifts-moved:{plan.rotation.pk}:user:{user.pk}:{digest}",
                reason=NotificationReason.HANDOFF,
                user=user,
                recipient=user.get_username(),
                kind=ContactKind.EMAIL,
                address=user.email,
                subject=f"Your on-call shifts on {schedule.name} changed",
                body=body,
                due_at=timezone.now(),
            )
        )
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
