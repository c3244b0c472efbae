"""Who is on call: a pure function of a schedule's rows and an instant.

The core (`layer_shifts`, `final_timeline`, `spec_final_shifts`, `spec_oncall`) takes plain
dataclasses and does no I/O, so it is table-testable and cheap to benchmark. The loaders at the
bottom turn database rows into those dataclasses with a fixed number of queries (one schedule or a
batch), and `oncall_users` / `final_shifts` are what the rest of Tocsin calls.

Rules (docs/oncall.md explains them with examples):
- A layer's shifts start at its handoff time, local wall-clock time in the schedule's zone, so a
  handoff stays at 09:00 across DST changes; a handoff time that does not exist that day (spring
  gap) moves to the first instant after the gap, and one that exists twice (autumn) is the first.
- Weekly layers hand off on `handoff_weekday` (default: the start date's weekday), the first
  handoff being the first such day on or after the start date. N-hour layers step in wall-clock
  hours from the first handoff.
- Restrictions (weekdays, hours window) cut a layer's shifts to the allowed local times.
- Where several layers have someone, the highest priority wins (ties: the first listed).
- Overrides then replace whoever is on call in their window (or only the person they name);
  among overlapping overrides the later one wins.
- Consecutive pieces of the same person are merged; an instant nobody covers is a gap.
- A layer's participants can change at an instant (a `Revision`): shifts starting before it keep
  their people, the shift in progress included; from the first shift starting at or after it the
  new list takes turns, beginning with whoever follows the last person on before it (the new
  list's first person if that one left). A revision replaces any at or after its instant.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from zoneinfo import ZoneInfo

MAX_WINDOW = timedelta(days=400)


@dataclass(frozen=True, slots=True)
class Revision:
    """From `effective_from` on, the layer's shifts are dealt from `participants`."""

    effective_from: datetime
    participants: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class LayerSpec:
    participants: tuple[int, ...]  # the list from the layer's start, before any revision
    handoff_time: time
    start_date: date
    kind: str = "weekly"  # "daily" | "weekly" | "hours"
    hours: int | None = None
    handoff_weekday: int | None = None
    priority: int = 0
    ends_at: datetime | None = None
    restrict_weekdays: frozenset[int] = frozenset()
    restrict_start: time | None = None
    restrict_end: time | None = None
    revisions: tuple[Revision, ...] = ()  # in effective_from order
    key: int | None = None


@dataclass(frozen=True, slots=True)
class OverrideSpec:
    user: int
    start: datetime
    end: datetime
    replaces: int | None = None


@dataclass(frozen=True, slots=True)
class ScheduleSpec:
    tz: tzinfo
    layers: tuple[LayerSpec, ...]
    overrides: tuple[OverrideSpec, ...] = ()
    key: int | None = None


@dataclass(frozen=True, slots=True)
class Shift:
    """`user` is a user id in the pure core; `final_shifts` hands back User objects."""

    user: object
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of the final timeline; `user` None is a gap."""

    user: int | None
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Move:
    """Over [start, end) the final schedule would have `after` on call instead of `before`."""

    start: datetime
    end: datetime
    before: int | None
    after: int | None


# --- time zone helpers ------------------------------------------------------------------------


def localize(naive: datetime, tz: tzinfo) -> datetime:
    """The instant a local wall-clock time denotes: the earlier one when it is ambiguous, the
    first instant after the gap when it does not exist."""
    aware = naive.replace(tzinfo=tz, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(tz).replace(tzinfo=None) == naive:
        return utc
    # In a gap: fold=1 reads it with the later offset, landing before the transition, fold=0
    # after it. The transition is the first second whose wall time is past the gap.
    lo = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    hi = utc
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) > naive:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0) if hi.microsecond else hi


def to_local(instant: datetime, tz: tzinfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def _step(layer: LayerSpec) -> timedelta:
    if layer.kind == "daily":
        return timedelta(days=1)
    if layer.kind == "weekly":
        return timedelta(days=7)
    return timedelta(hours=layer.hours or 24)


def _first_handoff(layer: LayerSpec) -> datetime:
    """Naive local datetime of the layer's first handoff."""
    day = layer.start_date
    if layer.kind == "weekly" and layer.handoff_weekday is not None:
        day += timedelta(days=(layer.handoff_weekday - day.weekday()) % 7)
    return datetime.combine(day, layer.handoff_time)


def _first_index_from(layer: LayerSpec, tz: tzinfo, instant: datetime) -> int:
    """The index of the layer's first shift starting at or after `instant`."""
    step, first = _step(layer), _first_handoff(layer)
    k = max(0, (to_local(instant, tz) - first) // step - 1)
    while localize(first + k * step, tz) < instant:
        k += 1
    return k


# --- participants over time -------------------------------------------------------------------


def _dealer(layer: LayerSpec, tz: tzinfo) -> Callable[[int], int | None]:
    """Who holds the layer's k-th shift, revisions applied."""
    if not layer.revisions:
        people = layer.participants
        return lambda k: people[k % len(people)]
    # Eras: (index of the era's first shift, turn offset, participants), in shift order.
    eras: list[tuple[int, int, tuple[int, ...]]] = []
    if layer.participants:
        eras.append((0, 0, layer.participants))

    def deal(k: int) -> int | None:
        if not eras:
            return None
        i = bisect.bisect_right([era[0] for era in eras], k) - 1
        k0, offset, people = eras[max(i, 0)]
        return people[(k - k0 + offset) % len(people)]

    for revision in layer.revisions:
        if not revision.participants:
            continue
        k0 = _first_index_from(layer, tz, revision.effective_from)
        while eras and eras[-1][0] >= k0:
            eras.pop()
        previous = deal(k0 - 1) if eras and k0 > 0 else None
        people = revision.participants
        offset = people.index(previous) + 1 if previous in people else 0
        eras.append((k0, offset, people))
    return deal


def revise(layer: LayerSpec, participants: Sequence[int], effective_from: datetime) -> LayerSpec:
    """The layer with `participants` taking turns from `effective_from` on; revisions at or
    after that instant are replaced."""
    kept = tuple(r for r in layer.revisions if r.effective_from < effective_from)
    return replace(layer, revisions=(*kept, Revision(effective_from, tuple(participants))))


def participants_at(layer: LayerSpec, at: datetime) -> tuple[int, ...]:
    """The list in force for shifts starting at `at` (the last revision at or before it)."""
    people = layer.participants
    for revision in layer.revisions:
        if revision.effective_from <= at:
            people = revision.participants
    return people


def first_shift_start(layer: LayerSpec, tz: tzinfo) -> datetime:
    return localize(_first_handoff(layer), tz)


# --- one layer --------------------------------------------------------------------------------


def layer_shifts(layer: LayerSpec, tz: tzinfo, start: datetime, end: datetime) -> list[Segment]:
    """The layer's own shifts (restrictions applied) overlapping [start, end), clipped to it."""
    if not (layer.participants or layer.revisions) or end <= start:
        return []
    if layer.ends_at is not None:
        end = min(end, layer.ends_at)
        if end <= start:
            return []
    step = _step(layer)
    first = _first_handoff(layer)
    local_start = to_local(start, tz)
    # Wall-clock index of the shift holding `start`, minus one for DST slack.
    k = max(0, (local_start - first) // step - 1)
    deal = _dealer(layer, tz)
    out: list[Segment] = []
    shift_start = localize(first + k * step, tz)
    while shift_start < end:
        shift_end = localize(first + (k + 1) * step, tz)
        holder = deal(k) if shift_end > start and shift_end > shift_start else None
        if holder is not None:
            out.append(Segment(holder, max(shift_start, start), min(shift_end, end)))
        k += 1
        shift_start = shift_end
    if layer.restrict_weekdays or layer.restrict_start is not None:
        out = _restrict(out, _allowed_windows(layer, tz, start, end))
    return out


def _allowed_windows(
    layer: LayerSpec, tz: tzinfo, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """The instants the restriction allows, as sorted, non-overlapping windows."""
    days = layer.restrict_weekdays or frozenset(range(7))
    t0, t1 = layer.restrict_start, layer.restrict_end
    day = to_local(start, tz).date() - timedelta(days=1)
    last = to_local(end, tz).date()
    windows: list[tuple[datetime, datetime]] = []
    while day <= last:
        if day.weekday() in days:
            if t0 is None or t1 is None:
                w0 = localize(datetime.combine(day, time()), tz)
                w1 = localize(datetime.combine(day + timedelta(days=1), time()), tz)
            else:
                w0 = localize(datetime.combine(day, t0), tz)
                end_day = day if t1 > t0 else day + timedelta(days=1)
                w1 = localize(datetime.combine(end_day, t1), tz)
            if windows and windows[-1][1] >= w0:
                windows[-1] = (windows[-1][0], max(windows[-1][1], w1))
            elif w1 > w0:
                windows.append((w0, w1))
        day += timedelta(days=1)
    return windows


def _restrict(shifts: list[Segment], windows: list[tuple[datetime, datetime]]) -> list[Segment]:
    out: list[Segment] = []
    i = 0
    for seg in shifts:
        while i < len(windows) and windows[i][1] <= seg.start:
            i += 1
        j = i
        while j < len(windows) and windows[j][0] < seg.end:
            s, e = max(seg.start, windows[j][0]), min(seg.end, windows[j][1])
            if e > s:
                out.append(Segment(seg.user, s, e))
            j += 1
    return out


# --- the whole schedule -----------------------------------------------------------------------


def final_timeline(spec: ScheduleSpec, start: datetime, end: datetime) -> list[Segment]:
    """The final schedule over [start, end): consecutive segments covering it, gaps included."""
    if end <= start:
        return []
    # Highest priority first; a stable sort keeps listed order among equals.
    layers = sorted(spec.layers, key=lambda layer: -layer.priority)
    per_layer = [layer_shifts(layer, spec.tz, start, end) for layer in layers]
    overrides = [o for o in spec.overrides if o.end > start and o.start < end]

    points = {start, end}
    for shifts in per_layer:
        for seg in shifts:
            points.add(seg.start)
            points.add(seg.end)
    for o in overrides:
        points.add(max(o.start, start))
        points.add(min(o.end, end))
    bounds = sorted(points)
    starts_per_layer = [[seg.start for seg in shifts] for shifts in per_layer]

    timeline: list[Segment] = []
    for a, b in pairwise(bounds):
        user = None
        for shifts, starts in zip(per_layer, starts_per_layer, strict=True):
            i = bisect.bisect_right(starts, a) - 1
            if i >= 0 and shifts[i].end > a:
                user = shifts[i].user
                break
        for o in overrides:  # later overrides win, so the last match stands
            if o.start <= a < o.end and (o.replaces is None or o.replaces == user):
                user = o.user
        if timeline and timeline[-1].user == user:
            timeline[-1] = Segment(user, timeline[-1].start, b)
        else:
            timeline.append(Segment(user, a, b))
    return timeline


def spec_final_shifts(spec: ScheduleSpec, start: datetime, end: datetime) -> list[Shift]:
    return [Shift(s.user, s.start, s.end) for s in final_timeline(spec, start, end) if s.user]


def spec_oncall(spec: ScheduleSpec, at: datetime) -> list[int]:
    timeline = final_timeline(spec, at, at + timedelta(seconds=1))
    return [s.user for s in timeline if s.user is not None]


def moves(old: ScheduleSpec, new: ScheduleSpec, start: datetime, end: datetime) -> list[Move]:
    """Where the final schedules of `old` and `new` differ over [start, end), in time order."""
    a, b = final_timeline(old, start, end), final_timeline(new, start, end)
    bounds = sorted({s.start for s in a} | {s.start for s in b} | {end})
    a_starts, b_starts = [s.start for s in a], [s.start for s in b]
    out: list[Move] = []
    for lo, hi in pairwise(bounds):
        before = a[bisect.bisect_right(a_starts, lo) - 1].user
        after = b[bisect.bisect_right(b_starts, lo) - 1].user
        if before == after:
            continue
        if out and out[-1].end == lo and (out[-1].before, out[-1].after) == (before, after):
            out[-1] = Move(out[-1].start, hi, before, after)
        else:
            out.append(Move(lo, hi, before, after))
    return out


def changes(
    spec: ScheduleSpec, after: datetime, until: datetime
) -> list[tuple[datetime, int | None, int | None]]:
    """Shift changes at instants in (after, until]: (at, outgoing, incoming), in time order."""
    timeline = final_timeline(spec, after, until + timedelta(seconds=1))
    return [
        (cur.start, prev.user, cur.user) for prev, cur in pairwise(timeline) if cur.start <= until
    ]


# --- loading rows (the only part that touches the database) ----------------------------------


def _spec_from_rows(schedule) -> ScheduleSpec:
    layers = []
    for rotation in schedule.rotations.all():
        by_moment: dict[datetime | None, list[int]] = {}
        for p in rotation.participants.all():  # in turn order
            by_moment.setdefault(p.effective_from, []).append(p.user_id)
        revisions = tuple(
            Revision(moment, tuple(ids))
            for moment, ids in sorted((m, i) for m, i in by_moment.items() if m is not None)
        )
        layers.append(
            LayerSpec(
                participants=tuple(by_moment.get(None, ())),
                revisions=revisions,
                key=rotation.pk,
                handoff_time=rotation.handoff_time,
                start_date=rotation.start_date,
                kind=rotation.shift_kind,
                hours=rotation.shift_hours,
                handoff_weekday=rotation.handoff_weekday,
                priority=rotation.priority,
                ends_at=rotation.ends_at,
                restrict_weekdays=frozenset(rotation.restrict_weekdays or ()),
                restrict_start=rotation.restrict_start,
                restrict_end=rotation.restrict_end,
            )
        )
    overrides = tuple(
        OverrideSpec(o.user_id, o.starts_at, o.ends_at, o.replaces_id)
        for o in sorted(schedule.overrides.all(), key=lambda o: (o.created_at, o.id))
    )
    return ScheduleSpec(ZoneInfo(schedule.time_zone), tuple(layers), overrides, key=schedule.pk)


def load_specs(schedules: Iterable) -> dict[int, ScheduleSpec]:
    """Specs for many schedules in three queries whatever their number (plus one for a queryset)."""
    from django.db.models import Prefetch

    from incidents.models import Override, Rotation, RotationParticipant, Schedule

    ids = [s.pk for s in schedules]
    rows = Schedule.objects.filter(pk__in=ids).prefetch_related(
        Prefetch(
            "rotations",
            queryset=Rotation.objects.order_by("-priority", "id").prefetch_related(
                Prefetch(
                    "participants", queryset=RotationParticipant.objects.order_by("position", "id")
                )
            ),
        ),
        Prefetch("overrides", queryset=Override.objects.all()),
    )
    return {row.pk: _spec_from_rows(row) for row in rows}


def load_spec(schedule) -> ScheduleSpec:
    return load_specs([schedule])[schedule.pk]


def _users(ids: Sequence[int]) -> dict[int, object]:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.in_bulk(set(ids))


def oncall_users(schedule, at: datetime) -> list:
    """The users on call on `schedule` at `at` (an empty list in a gap)."""
    ids = spec_oncall(load_spec(schedule), at)
    users = _users(ids)
    return [users[i] for i in ids if i in users]


def final_shifts(schedule, start: datetime, end: datetime) -> list[Shift]:
    """The final shifts of `schedule` overlapping [start, end), clipped to it, with User objects."""
    shifts = spec_final_shifts(load_spec(schedule), start, end)
    users = _users([s.user for s in shifts])
    return [Shift(users[s.user], s.start, s.end) for s in shifts if s.user in users]


def now_and_next(spec: ScheduleSpec, now: datetime, horizon: timedelta = timedelta(days=35)):
    """(current segment, next segment) around `now`; either may be None or a gap segment."""
    timeline = final_timeline(spec, now, now + horizon)
    current = timeline[0] if timeline else None
    nxt = timeline[1] if len(timeline) > 1 else None
    return current, nxt
