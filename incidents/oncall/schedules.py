"""Writes to on-call schedules: creating schedules with their layers, overrides, calendar tokens.

Each function takes keyword-only arguments, runs in one transaction and raises `DomainError`
naming the field at fault; the admin forms and the API both call these checks.
"""

import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time

from django.db import IntegrityError, transaction

from incidents.core.audit import audit_added, audit_changed, config_save, snapshot
from incidents.core.choices import ContactKind
from incidents.core.contacts import check_contact_address
from incidents.core.errors import DomainError
from incidents.core.timezones import check_time_zone
from incidents.models import (
    HandoffChannel,
    Override,
    Rotation,
    RotationParticipant,
    Schedule,
    UserCalendar,
)
from incidents.models.oncall import ShiftKind, new_ical_token

SHIFT_HOURS = re.compile(r"^([1-9][0-9]{0,2})h$")


def parse_shift(spec: str) -> tuple[str, int | None]:
    """'daily' / 'weekly' / '<n>h' (1 to 168 hours) -> (shift kind, hours)."""
    if spec in (ShiftKind.DAILY, ShiftKind.WEEKLY):
        return spec, None
    match = SHIFT_HOURS.match(spec or "")
    if match and int(match.group(1)) <= 168:
        return ShiftKind.HOURS, int(match.group(1))
    raise DomainError(
        f"Unknown shift {spec!r}: use 'daily', 'weekly' or a number of hours such as '12h'.",
        field="shift",
    )


@dataclass
class RotationInput:
    name: str
    participants: Sequence  # users, in turn order
    handoff_time: time
    start_date: date
    shift_kind: str = ShiftKind.WEEKLY
    shift_hours: int | None = None
    handoff_weekday: int | None = None
    ends_at: datetime | None = None
    restrict_weekdays: list[int] = field(default_factory=list)
    restrict_start: time | None = None
    restrict_end: time | None = None
    priority: int | None = None  # None: by its place in the list (the first is the highest)


def check_rotation(rotation: RotationInput) -> None:
    if not rotation.participants:
        raise DomainError("A rotation needs at least one participant.", field="participants")
    if rotation.shift_kind == ShiftKind.HOURS and not (rotation.shift_hours or 0) >= 1:
        raise DomainError("An 'every N hours' rotation needs a shift length.", field="shift_hours")
    if rotation.handoff_weekday is not None and not 0 <= rotation.handoff_weekday <= 6:
        raise DomainError(
            "The handoff weekday is 0 (Monday) to 6 (Sunday).", field="handoff_weekday"
        )
    if any(not isinstance(d, int) or not 0 <= d <= 6 for d in rotation.restrict_weekdays):
        raise DomainError(
            "Restriction weekdays are 0 (Monday) to 6 (Sunday).", field="restrict_weekdays"
        )
    check_restriction_hours(rotation.restrict_start, rotation.restrict_end)


def check_restriction_hours(start: time | None, end: time | None) -> None:
    """The one rule of a rotation's restriction hours: both ends or neither (an end before the
    start spans midnight). The admin form, the API and `check_rotation` all call it."""
    if (start is None) != (end is None):
        raise DomainError(
            "Give both ends of the restriction hours, or neither.", field="restrict_end"
        )


@transaction.atomic
def schedule_create(
    *,
    name: str,
    time_zone: str,
    rotations: Sequence[RotationInput],
    handoff_notify: Sequence[tuple[str, str]] = (),
    description: str = "",
    backup_schedule: Schedule | None = None,
    actor=None,
) -> Schedule:
    """A schedule and its layers; `rotations` are listed highest priority first."""
    check_time_zone(time_zone)
    if Schedule.objects.filter(name=name).exists():
        raise DomainError(f"A schedule named {name!r} already exists.", field="name")
    if not rotations:
        raise DomainError("A schedule needs at least one rotation.", field="rotations")
    for rotation in rotations:
        check_rotation(rotation)
    for kind, address in handoff_notify:
        check_contact_address(kind, address)

    try:
        with transaction.atomic():
            schedule = Schedule.objects.create(
                name=name,
                time_zone=time_zone,
                description=description,
                backup_schedule=backup_schedule,
            )
    except IntegrityError as error:  # a concurrent request took the name after the check
        raise DomainError(f"A schedule named {name!r} already exists.", field="name") from error
    audit_added(actor=actor, obj=schedule)
    for index, spec in enumerate(rotations):
        rotation = Rotation.objects.create(
            schedule=schedule,
            name=spec.name,
            priority=len(rotations) - index if spec.priority is None else spec.priority,
            shift_kind=spec.shift_kind,
            shift_hours=spec.shift_hours,
            handoff_time=spec.handoff_time,
            handoff_weekday=spec.handoff_weekday,
            start_date=spec.start_date,
            ends_at=spec.ends_at,
            restrict_weekdays=sorted(set(spec.restrict_weekdays)),
            restrict_start=spec.restrict_start,
            restrict_end=spec.restrict_end,
        )
        RotationParticipant.objects.bulk_create(
            RotationParticipant(rotation=rotation, user=user, position=position)
            for position, user in enumerate(spec.participants)
        )
        audit_added(
            actor=actor,
            obj=rotation,
            note="Participants: " + ", ".join(u.get_username() for u in spec.participants),
        )
    for kind, address in dict.fromkeys(handoff_notify):
        channel = HandoffChannel.objects.create(schedule=schedule, kind=kind, address=address)
        audit_added(actor=actor, obj=channel)
    return schedule


@transaction.atomic
def handoff_channel_save(*, channel: HandoffChannel, actor=None) -> HandoffChannel:
    """Add or change a schedule's handoff channel: the address must be one we may send to."""
    check_contact_address(channel.kind, channel.address)
    return config_save(obj=channel, actor=actor)


def check_override(
    *, schedule: Schedule, user, start: datetime, end: datetime, exclude_pk: int | None = None
) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise DomainError(
            "Give times with their UTC offset.", field="start" if start.tzinfo is None else "end"
        )
    if end <= start:
        raise DomainError("The override must end after it starts.", field="end")
    clash = (
        Override.objects.filter(schedule=schedule, user=user, starts_at__lt=end, ends_at__gt=start)
        .exclude(pk=exclude_pk)
        .first()
    )
    if clash is not None:
        tz = zoneinfo.ZoneInfo(schedule.time_zone)
        raise DomainError(
            f"{user} already covers {schedule} from {clash.starts_at.astimezone(tz):%Y-%m-%d %H:%M}"
            f" to {clash.ends_at.astimezone(tz):%Y-%m-%d %H:%M} ({schedule.time_zone}); "
            "this override would overlap it.",
            field="start",
        )


@transaction.atomic
def override_create(
    *,
    schedule: Schedule,
    user,
    start: datetime,
    end: datetime,
    replaces=None,
    reason: str = "",
    actor=None,
) -> Override:
    """`user` covers `schedule` over [start, end), replacing `replaces` only, or whoever is on."""
    # Serialises overrides of one schedule so two overlapping requests cannot both pass the check.
    Schedule.objects.select_for_update().filter(pk=schedule.pk).first()
    check_override(schedule=schedule, user=user, start=start, end=end)
    override = Override.objects.create(
        schedule=schedule,
        user=user,
        starts_at=start,
        ends_at=end,
        replaces=replaces,
        reason=reason,
        created_by=actor,
    )
    audit_added(actor=actor, obj=override)
    return override


@transaction.atomic
def override_update(*, override: Override, actor=None) -> Override:
    """Save an edited override (its form's values), checked against the schedule's others."""
    Schedule.objects.select_for_update().filter(pk=override.schedule_id).first()
    check_override(
        schedule=override.schedule,
        user=override.user,
        start=override.starts_at,
        end=override.ends_at,
        exclude_pk=override.pk,
    )
    return config_save(obj=override, actor=actor)


def user_calendar(*, user) -> UserCalendar:
    """The person's iCal feed token, created on first use."""
    calendar, _ = UserCalendar.objects.get_or_create(user=user)
    return calendar


@transaction.atomic
def schedule_rotate_ical(*, schedule: Schedule, actor=None) -> Schedule:
    """A new secret for the schedule's feed: the old URL answers 404 from now on."""
    locked = Schedule.objects.select_for_update().get(pk=schedule.pk)
    before = snapshot(locked)
    locked.ical_token = new_ical_token()
    locked.save(update_fields=["ical_token"])
    audit_changed(actor=actor, obj=locked, before=before, note="Rotated the calendar link.")
    return locked


@transaction.atomic
def user_calendar_rotate(*, user, actor=None) -> UserCalendar:
    """A new secret for the person's own feed (only they may ask): the old URL answers 404."""
    if actor is not None and actor.pk != user.pk:
        raise DomainError("Only its owner can rotate a personal calendar link.", field="user")
    calendar = user_calendar(user=user)
    calendar = UserCalendar.objects.select_for_update().get(pk=calendar.pk)
    calendar.token = new_ical_token()
    calendar.save(update_fields=["token"])
    return calendar


def seed_demo_schedules(*, people: dict) -> list[Schedule]:
    """The team runbook's rotation as demo rows: weekly primary and secondary handing off Monday
    09:00, a weekday business-hours layer on the primary. Idempotent (skips existing names).

    `people` maps usernames to users; it needs alice, bob, carol and dave.
    """
    monday = date(2026, 1, 5)
    primary_people = [people["alice"], people["bob"]]
    secondary_people = [people["carol"], people["dave"]]
    made = []
    if not Schedule.objects.filter(name="Platform secondary").exists():
        made.append(
            schedule_create(
                name="Platform secondary",
                time_zone="Europe/Berlin",
                description="Backup for the primary: answers when the primary does not.",
                rotations=[
                    RotationInput(
                        name="Weekly secondary",
                        participants=secondary_people,
                        handoff_time=time(9),
                        handoff_weekday=0,
                        start_date=monday,
                    )
                ],
            )
        )
    if not Schedule.objects.filter(name="Platform primary").exists():
        made.append(
            schedule_create(
                name="Platform primary",
                time_zone="Europe/Berlin",
                description="Responds to P0/P1 alerts within the severity targets.",
                backup_schedule=Schedule.objects.get(name="Platform secondary"),
                rotations=[
                    RotationInput(
                        name="Business hours",
                        participants=primary_people[::-1],
                        handoff_time=time(9),
                        start_date=monday,
                        shift_kind=ShiftKind.DAILY,
                        restrict_weekdays=[0, 1, 2, 3, 4],
                        restrict_start=time(9),
                        restrict_end=time(17),
                    ),
                    RotationInput(
                        name="Weekly primary",
                        participants=primary_people,
                        handoff_time=time(9),
                        handoff_weekday=0,
                        start_date=monday,
                    ),
                ],
                handoff_notify=[(ContactKind.EMAIL, "platform-oncall@example.com")],
            )
        )
    return made
