"""Writes to escalation policies: creating one with its steps and targets, routing severities.

The admin forms and the API both go through these; refusals name the field at fault.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction

from incidents.core.audit import (
    audit_added,
    audit_changed,
    audit_record,
    config_save,
    snapshot,
)
from incidents.core.contacts import check_contact_address
from incidents.core.errors import DomainError
from incidents.models import (
    ChangeAction,
    EscalationPolicy,
    EscalationStep,
    EscalationTarget,
    RoundRobinMember,
    Schedule,
    Service,
    Severity,
    SeverityRoute,
    TargetType,
    TeamChannel,
)


@dataclass
class StepInput:
    delay: timedelta
    # Each target is a Schedule, a user, a TeamChannel or a RoundRobin.
    targets: Sequence = field(default_factory=list)


@dataclass(frozen=True)
class RoundRobin:
    """A round-robin target: each new incident pages the next of `users`, in this order."""

    users: Sequence = ()


def round_robin_label(usernames: Sequence[str]) -> str:
    """How a round-robin target reads in the admin and the audit log."""
    return "Round robin: " + " → ".join(usernames)


def target_label(target: EscalationTarget) -> str:
    """A stored target as people read it (round robins name their members in turn order)."""
    if target.type == TargetType.ROUND_ROBIN:
        return round_robin_label([m.user.get_username() for m in target.members.all()])
    return str(target)


def _target_type(target) -> str:
    if isinstance(target, RoundRobin):
        return TargetType.ROUND_ROBIN
    if isinstance(target, Schedule):
        return TargetType.SCHEDULE
    if isinstance(target, TeamChannel):
        return TargetType.CHANNEL
    return TargetType.USER


@transaction.atomic
def escalation_policy_create(
    *,
    name: str,
    steps: Sequence[StepInput],
    repeat: int = 0,
    repeat_delay: timedelta | None = None,
    description: str = "",
    default: bool = False,
    actor=None,
) -> EscalationPolicy:
    name = (name or "").strip()
    if not name:
        raise DomainError("A policy needs a name.", field="name")
    if EscalationPolicy.objects.filter(name=name).exists():
        raise DomainError(f"A policy named {name!r} exists already.", field="name")
    if repeat < 0 or repeat > 100:
        raise DomainError("Repeat is a number of extra rounds from 0 to 100.", field="repeat")
    if not steps:
        raise DomainError("A policy needs at least one step.", field="steps")
    for step in steps:
        if step.delay < timedelta(0):
            raise DomainError("A step's delay cannot be negative.", field="steps")
        if not step.targets:
            raise DomainError("Each step needs at least one target.", field="steps")
    policy = EscalationPolicy.objects.create(
        name=name,
        description=description,
        repeat=repeat,
        **({"repeat_delay": repeat_delay} if repeat_delay is not None else {}),
    )
    audit_added(actor=actor, obj=policy)
    for order, step in enumerate(steps):
        row = EscalationStep(policy=policy, order=order, delay=step.delay)
        escalation_step_save(step=row, targets=step.targets, actor=actor)
    if default:
        policy = escalation_policy_set_default(policy=policy, actor=actor)
    return policy


def _target_key(target) -> tuple[str, int]:
    return _target_type(target), target.pk


def _target_names(step: EscalationStep) -> list[str]:
    targets = step.targets.select_related("schedule", "user", "channel").prefetch_related(
        "members__user"
    )
    return sorted(target_label(t) for t in targets)


def _check_round_robin(target: RoundRobin) -> list:
    users = list(target.users)
    names = [u.get_username() for u in users]
    if len({u.pk for u in users}) != len(users):
        raise DomainError(
            f"A round robin names each person once ({', '.join(names)}).", field="targets"
        )
    inactive = [u.get_username() for u in users if not u.is_active]
    if inactive:
        raise DomainError(
            f"A round robin takes active people only: {', '.join(inactive)} cannot be paged.",
            field="targets",
        )
    if len(users) < 2:
        raise DomainError(
            "A round robin needs at least two different people (for one, add a user target).",
            field="targets",
        )
    return users


def _round_robin_create(step: EscalationStep, users: list) -> None:
    target = EscalationTarget.objects.create(step=step, type=TargetType.ROUND_ROBIN)
    RoundRobinMember.objects.bulk_create(
        RoundRobinMember(target=target, user=user, position=position)
        for position, user in enumerate(users)
    )


def _round_robin_set_members(target: EscalationTarget, users: list) -> None:
    """Give a stored round robin these members, in this order.

    The counter keeps pointing at the person whose turn is next when they stay a member;
    otherwise at the same position (the start of the list if that is past its end). The target
    row is locked first, so an incident picking its person at this moment sees the members and
    counter either before the edit or after it, never half of each.
    """
    target = EscalationTarget.objects.select_for_update(of=("self",)).get(pk=target.pk)
    old = list(
        RoundRobinMember.objects.filter(target=target)
        .order_by("position", "id")
        .values_list("user_id", flat=True)
    )
    position = target.next_index % len(old) if old else 0
    due = old[position] if old else None
    wanted = [u.pk for u in users]
    if due in wanted:
        target.next_index = wanted.index(due)
    else:
        target.next_index = position if position < len(wanted) else 0
    target.save(update_fields=["next_index"])
    RoundRobinMember.objects.filter(target=target).delete()
    RoundRobinMember.objects.bulk_create(
        RoundRobinMember(target=target, user=user, position=index)
        for index, user in enumerate(users)
    )


def _round_robins_save(step: EscalationStep, robins: list[list]) -> None:
    """Keep the step's round robins as `robins` (lists of users): one whose members are
    unchanged keeps its row and counter; the others are edited in place, in order, then
    added or removed."""
    rows = list(
        step.targets.filter(type=TargetType.ROUND_ROBIN).order_by("id").prefetch_related("members")
    )
    members = {
        row.pk: [m.user_id for m in sorted(row.members.all(), key=lambda m: m.position)]
        for row in rows
    }
    unmatched = []
    for users in robins:
        same = next((r for r in rows if members[r.pk] == [u.pk for u in users]), None)
        if same is None:
            unmatched.append(users)
        else:
            rows.remove(same)
    for users in unmatched:
        if rows:
            _round_robin_set_members(rows.pop(0), users)
        else:
            _round_robin_create(step, users)
    for row in rows:
        row.delete()


@transaction.atomic
def escalation_step_save(*, step: EscalationStep, targets: Sequence, actor=None) -> EscalationStep:
    """Add or change a step (its order and delay) with exactly these targets (at least one:
    a step with nobody to page would pass in silence)."""
    if step.delay is None or step.delay < timedelta(0):
        raise DomainError("A step's delay cannot be negative.", field="delay")
    if not targets:
        raise DomainError("Each step needs at least one target.", field="targets")
    adding = step.pk is None
    before = {}
    if not adding:
        stored = EscalationStep.objects.select_for_update().get(pk=step.pk)
        before = {**snapshot(stored), "targets": _target_names(stored)}
    robins = [_check_round_robin(t) for t in targets if isinstance(t, RoundRobin)]
    targets = [t for t in targets if not isinstance(t, RoundRobin)]
    step.save()
    _round_robins_save(step, robins)
    wanted = {_target_key(t): t for t in targets}
    for row in list(step.targets.exclude(type=TargetType.ROUND_ROBIN)):
        key = (row.type, row.schedule_id or row.user_id or row.channel_id)
        if wanted.pop(key, None) is None:
            row.delete()
    for (kind, _), target in wanted.items():
        EscalationTarget.objects.create(step=step, type=kind, **{kind: target})
    audit_record(
        actor=actor,
        obj=step,
        action=ChangeAction.ADDED if adding else ChangeAction.CHANGED,
        before=before,
        after={**snapshot(step), "targets": _target_names(step)},
    )
    return step


@transaction.atomic
def escalation_policy_save(*, policy: EscalationPolicy, actor=None) -> EscalationPolicy:
    """Save a policy's name, description and repeat edited as a whole (the admin's form)."""
    return config_save(obj=policy, actor=actor)


@transaction.atomic
def team_channel_save(*, channel: TeamChannel, actor=None) -> TeamChannel:
    """Add or change a team channel: the address must be one we may send to."""
    channel.address = (channel.address or "").strip()
    check_contact_address(channel.kind, channel.address)
    return config_save(obj=channel, actor=actor)


@transaction.atomic
def severity_route_save(*, route: SeverityRoute, actor=None) -> SeverityRoute:
    """Add or change a severity route edited as a whole (the admin's form)."""
    config_save(obj=route, actor=actor)
    _start_uncovered_on_commit()
    return route


@transaction.atomic
def escalation_policy_set_default(
    *, policy: EscalationPolicy, default: bool = True, actor=None
) -> EscalationPolicy:
    """Make `policy` the default (the old default stops being one), or stop it being one.

    Incidents still triggered that nothing covered start escalating with it once this commits
    (after the admin has saved the policy's steps too).
    """
    policy = EscalationPolicy.objects.select_for_update().get(pk=policy.pk)
    if policy.is_default == default:
        return policy
    if default:
        # Lock the old default too, so two managers setting one at once cannot both win.
        for old in EscalationPolicy.objects.select_for_update().filter(is_default=True):
            before = snapshot(old)
            old.is_default = False
            old.save(update_fields=["is_default", "updated_at"])
            audit_changed(actor=actor, obj=old, before=before)
    before = snapshot(policy)
    policy.is_default = default
    policy.save(update_fields=["is_default", "updated_at"])
    audit_changed(actor=actor, obj=policy, before=before)
    if default:
        _start_uncovered_on_commit()
    return policy


def _start_uncovered_on_commit() -> None:
    from incidents.paging.fallback import escalation_start_uncovered

    transaction.on_commit(lambda: escalation_start_uncovered())


@transaction.atomic
def severity_route_set(
    *, severity: Severity, policy: EscalationPolicy, service: Service | None = None, actor=None
) -> SeverityRoute:
    """Route incidents of `severity` (on `service`, or on any) to `policy` instead."""
    route = SeverityRoute.objects.filter(severity=severity, service=service).first()
    route = route or SeverityRoute(severity=severity, service=service)
    route.policy = policy
    return severity_route_save(route=route, actor=actor)


def seed_demo_escalation(*, people: dict, services: dict) -> None:
    """The team runbooks' escalation paths, once: the on-call, then the engineering lead (carol) after
    15 minutes (also the default policy); P0 pages the on-call and the lead at once, then the
    CTO (dave) after 15 minutes.

    `people` maps usernames to users, `services` slugs to services; needs the demo's
    "Platform primary" schedule.
    """
    schedule = Schedule.objects.filter(name="Platform primary").first()
    seeded = EscalationPolicy.objects.filter(name="Platform on-call").first()
    if seeded is not None and not EscalationPolicy.objects.filter(is_default=True).exists():
        escalation_policy_set_default(policy=seeded)  # seeded before defaults existed
    if schedule is None or seeded is not None:
        return
    platform = escalation_policy_create(
        name="Platform on-call",
        description="The on-call engineer, then the engineering lead after 15 minutes.",
        repeat=1,
        steps=[
            StepInput(delay=timedelta(0), targets=[schedule]),
            StepInput(delay=timedelta(minutes=15), targets=[people["carol"]]),
        ],
    )
    total_outage = escalation_policy_create(
        name="P0: lead at once, then CTO",
        description="Total outage: the on-call and the engineering lead at once, the CTO after 15 minutes.",
        repeat=2,
        steps=[
            StepInput(delay=timedelta(0), targets=[schedule, people["carol"]]),
            StepInput(delay=timedelta(minutes=15), targets=[people["dave"]]),
        ],
    )
    for service in services.values():
        if service.escalation_policy_id is None:
            service.escalation_policy = platform
            service.save(update_fields=["escalation_policy"])
    severity_route_set(severity=Severity.objects.get(key="P0"), policy=total_outage)
    # Alerts from an integration without a service page the on-call too.
    if not EscalationPolicy.objects.filter(is_default=True).exists():
        escalation_policy_set_default(policy=platform)
