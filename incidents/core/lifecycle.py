"""Incident lifecycle: every write to an incident goes through one of these functions.

Each takes keyword-only arguments, runs in one transaction, locks the incident row, is a
no-op when the incident is already where it was asked to go, refuses illegal moves with
`IllegalTransition`, stamps the times, writes the timeline and schedules side effects on
commit. `actor` is the acting user; `via` names a non-user actor (an integration, a timer).
"""

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.utils import timezone
from django.utils.text import get_text_list

from incidents.core import hooks
from incidents.core.choices import (
    ALLOWED_TRANSITIONS,
    OPEN_STATUSES,
    WORKING_STATUSES,
    IncidentStatus,
    TimelineKind,
    UpdateStatus,
)
from incidents.core.errors import DomainError, IllegalTransition
from incidents.core.formatting import update_phase
from incidents.core.locks import lock_existing, retry_on_conflict
from incidents.core.responders import (  # noqa: F401  (callers import them from here)
    incident_add_responder,
    incident_assign_commander,
    incident_remove_responder,
)
from incidents.core.timeline import (
    actor_label,
    timeline_entry,
    timeline_record,
    timeline_record_many,
)
from incidents.core.validators import SINGLE_LINE_MESSAGE, has_line_break
from incidents.models import (
    Incident,
    IncidentCounter,
    Service,
    Severity,
    StatusUpdate,
)
from incidents.models.incident import start_refusal

User = AbstractBaseUser
logger = logging.getLogger(__name__)

# Each public function runs in one transaction (`retry_on_conflict`: rerun whole when the
# database reports a deadlock) and locks the incident first; responders and the commander are
# in incidents.core.responders, importable from here too.
#
# Side effects other parts of Tocsin attach to incident events (escalation, post-mortems, the
# status page) are hooks (incidents.core.hooks), fired INSIDE the transaction that makes the
# change, so their rows (an escalation state, a post-mortem draft) commit with it or not at all:
# a process that dies right after the commit cannot leave an incident that never pages. A
# required hook that fails fails the change; an optional one is undone alone and logged. Hooks
# only write rows; anything that leaves the database (a Celery publish) goes on commit.


def _next_numbers(count: int) -> list[int]:
    """The next `count` incident numbers, in one step: a sequence on PostgreSQL (no lock held
    until commit; a rolled back incident leaves a gap), else a counter row locked for the
    transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT nextval('incidents_incident_number_seq') FROM generate_series(1, %s)",
                [count],
            )
            return sorted(row[0] for row in cursor.fetchall())
    counter, _ = IncidentCounter.objects.select_for_update().get_or_create(name="incident")
    first = counter.value + 1
    counter.value += count
    counter.save(update_fields=["value"])
    return list(range(first, counter.value + 1))


@dataclass
class NewIncident:
    """What opening one incident needs (the arguments of `incident_create`)."""

    title: str
    severity: Severity
    services: Iterable[Service] = ()
    summary: str = ""
    impact: str = ""
    commander: User | None = None
    started_at: datetime | None = None
    detected_at: datetime | None = None


@retry_on_conflict
def incident_create(
    *,
    title: str,
    severity: Severity,
    actor: User | None = None,
    via: str | None = None,
    services: Iterable[Service] = (),
    summary: str = "",
    impact: str = "",
    commander: User | None = None,
    started_at: datetime | None = None,
    detected_at: datetime | None = None,
) -> Incident:
    """Open an incident. Every new incident starts `triggered`: it pages until acknowledged."""
    wanted = NewIncident(
        title=title,
        severity=severity,
        services=services,
        summary=summary,
        impact=impact,
        commander=commander,
        started_at=started_at,
        detected_at=detected_at,
    )
    return _create_many([wanted], actor=actor, via=via)[0]


@retry_on_conflict
def incident_create_many(
    *, incidents: list[NewIncident], actor: User | None = None, via: str | None = None
) -> list[Incident]:
    """Open many incidents at once (an ingest batch): numbers in one step, the incidents, their
    services and timeline rows in a few inserts, and the `incident_opened` hooks fired for
    all of them together (paging starts their escalations at once). All or nothing: a
    required hook that fails raises HookFailed and none of them opens."""
    return _create_many(incidents, actor=actor, via=via)


def _create_many(
    incidents: list[NewIncident], *, actor: User | None, via: str | None
) -> list[Incident]:
    if not incidents:
        return []
    now = timezone.now()
    for wanted in incidents:
        wanted.title = (wanted.title or "").strip()
        if not wanted.title:
            raise DomainError("An incident needs a title.", field="title")
        _check_single_line(title=wanted.title)
    numbers = _next_numbers(len(incidents))
    created = []
    for number, wanted in zip(numbers, incidents, strict=True):
        detected_at = wanted.detected_at or now
        created.append(
            Incident(
                number=number,
                title=wanted.title[:255],
                summary=wanted.summary,
                impact=wanted.impact,
                severity=wanted.severity,
                status=IncidentStatus.TRIGGERED,
                commander=wanted.commander,
                created_by=actor,
                detected_at=detected_at,
                started_at=min(wanted.started_at or detected_at, detected_at),
            )
        )
    Incident.objects.bulk_create(created, batch_size=500)
    links, entries = [], []
    through = Incident.services.through
    who = actor_label(actor, via)
    for incident, wanted in zip(created, incidents, strict=True):
        services = list(dict.fromkeys(wanted.services))
        links += [through(incident_id=incident.pk, service_id=s.pk) for s in services]
        names = ", ".join(s.name for s in services)
        entries.append(
            timeline_entry(
                incident=incident,
                kind=TimelineKind.CREATED,
                actor=actor,
                via=via,
                message=f"Opened {incident.reference} as {wanted.severity.key}"
                + (f" on {names}" if names else "")
                + f" by {who}.",
                after={
                    "status": incident.status,
                    "severity": wanted.severity.key,
                    "title": incident.title,
                },
            )
        )
    if links:
        through.objects.bulk_create(links, batch_size=500)
    timeline_record_many(entries)
    hooks.fire_many(hooks.INCIDENT_OPENED, [(incident.pk,) for incident in created])
    return created


_lock = lock_existing


def _move(
    incident: Incident,
    *,
    to: str,
    actor: User | None,
    via: str | None,
    reason: str = "",
) -> Incident:
    """Apply one allowed status change to a locked incident and record it."""
    before = incident.status
    now = timezone.now()
    incident.status = to
    fields = ["status", "updated_at"]
    # Whoever moves an incident on from triggered has answered the page: resolving an
    # unacknowledged incident stamps its acknowledgement too, so MTTA and the breach mark see it.
    if incident.acknowledged_at is None and to != IncidentStatus.TRIGGERED:
        incident.acknowledged_at = now
        fields.append("acknowledged_at")
    if to == IncidentStatus.MONITORING and incident.mitigated_at is None:
        incident.mitigated_at = now
        fields.append("mitigated_at")
    if to == IncidentStatus.RESOLVED:
        incident.resolved_at = now
        incident.mitigated_at = incident.mitigated_at or now
        fields += ["resolved_at", "mitigated_at"]
    if before == IncidentStatus.RESOLVED:
        incident.resolved_at = None
        fields.append("resolved_at")
    incident.save(update_fields=fields)

    who = actor_label(actor, via)
    if before == IncidentStatus.RESOLVED:
        kind, message = TimelineKind.REOPENED, f"{who} reopened the incident: {reason}"
    else:
        kind = TimelineKind.STATUS
        message = f"{who} changed status from {IncidentStatus(before).label} to {IncidentStatus(to).label}."
        if reason:
            message += f" {reason}"
    timeline_record(
        incident=incident,
        kind=kind,
        actor=actor,
        via=via,
        message=message,
        before={"status": before},
        after={"status": to},
    )
    hooks.fire(hooks.INCIDENT_STATUS_CHANGED, incident.pk, before, to)
    return incident


def _refuse(incident: Incident, to: str) -> IllegalTransition:
    current = IncidentStatus(incident.status).label.lower()
    target = IncidentStatus(to).label.lower()
    if incident.status == IncidentStatus.RESOLVED:
        hint = " Reopen it first."
    elif to == IncidentStatus.ACKNOWLEDGED:
        hint = " It has been acknowledged already."
    else:
        hint = ""
    return IllegalTransition(
        f"{incident.reference} is {current} and cannot move to {target}.{hint}"
    )


@retry_on_conflict
def incident_transition(
    *,
    incident: Incident,
    to: str,
    actor: User | None = None,
    via: str | None = None,
    reason: str = "",
) -> Incident:
    """Move an incident to `to` along the allowed flow.

    Moving a triggered incident to investigating/identified/monitoring acknowledges it first
    (two timeline rows). Reopening a resolved incident needs a reason: use `incident_reopen`.
    """
    to = IncidentStatus(to)
    incident = _lock(incident)
    if incident.status == to:
        return incident
    if incident.status == IncidentStatus.RESOLVED:
        if to == IncidentStatus.INVESTIGATING:
            return incident_reopen(incident=incident, actor=actor, via=via, reason=reason)
        raise _refuse(incident, to)
    if to not in ALLOWED_TRANSITIONS[incident.status]:
        raise _refuse(incident, to)
    if incident.status == IncidentStatus.TRIGGERED and to in WORKING_STATUSES:
        incident = _move(incident, to=IncidentStatus.ACKNOWLEDGED, actor=actor, via=via)
    return _move(incident, to=to, actor=actor, via=via, reason=reason)


@retry_on_conflict
def incident_acknowledge(
    *, incident: Incident, actor: User | None = None, via: str | None = None
) -> Incident:
    """Acknowledge a triggered incident; a no-op once it is acknowledged or further along."""
    locked = _lock(incident)
    if locked.status != IncidentStatus.TRIGGERED and locked.status in OPEN_STATUSES:
        return locked
    return incident_transition(
        incident=locked, to=IncidentStatus.ACKNOWLEDGED, actor=actor, via=via
    )


@retry_on_conflict
def incident_resolve(
    *, incident: Incident, actor: User | None = None, via: str | None = None, reason: str = ""
) -> Incident:
    return incident_transition(
        incident=incident, to=IncidentStatus.RESOLVED, actor=actor, via=via, reason=reason
    )


@retry_on_conflict
def incident_reopen(
    *, incident: Incident, reason: str, actor: User | None = None, via: str | None = None
) -> Incident:
    """Return a resolved incident to investigating; the reason goes in the timeline."""
    reason = (reason or "").strip()
    incident = _lock(incident)
    if incident.status != IncidentStatus.RESOLVED:
        raise IllegalTransition(f"{incident.reference} is not resolved, so it cannot be reopened.")
    if not reason:
        raise DomainError("Say why the incident is being reopened.", field="reason")
    return _move(incident, to=IncidentStatus.INVESTIGATING, actor=actor, via=via, reason=reason)


@retry_on_conflict
def incident_set_severity(
    *, incident: Incident, severity: Severity, actor: User | None = None, via: str | None = None
) -> Incident:
    incident = _lock(incident)
    if incident.severity_id == severity.pk:
        return incident
    before = incident.severity
    incident.severity = severity
    incident.save(update_fields=["severity", "updated_at"])
    timeline_record(
        incident=incident,
        kind=TimelineKind.SEVERITY,
        actor=actor,
        via=via,
        message=f"{actor_label(actor, via)} changed severity from {before.key} to {severity.key}.",
        before={"severity": before.key},
        after={"severity": severity.key},
    )
    hooks.fire(hooks.INCIDENT_ROUTING_CHANGED, incident.pk)
    return incident


@retry_on_conflict
def incident_set_services(
    *,
    incident: Incident,
    services: Iterable[Service],
    actor: User | None = None,
    via: str | None = None,
) -> Incident:
    """Replace the services an incident affects; the timeline keeps both lists."""
    incident = _lock(incident)
    services = list(services)
    before = sorted(incident.services.values_list("slug", flat=True))
    after = sorted(s.slug for s in services)
    if before == after:
        return incident
    incident.services.set(services)
    incident.save(update_fields=["updated_at"])
    names = ", ".join(sorted(s.name for s in services)) or "none"
    timeline_record(
        incident=incident,
        kind=TimelineKind.FIELD,
        actor=actor,
        via=via,
        message=f"{actor_label(actor, via)} set the affected services to {names}.",
        before={"services": before},
        after={"services": after},
    )
    hooks.fire(hooks.INCIDENT_ROUTING_CHANGED, incident.pk)
    return incident


# Fields staff may edit freely on an incident; status, severity and people have their own moves.
EDITABLE_FIELDS = ("title", "public_title", "summary", "impact", "started_at")


@retry_on_conflict
def incident_update_details(
    *, incident: Incident, actor: User | None = None, via: str | None = None, **changes
) -> Incident:
    """Edit descriptive fields and record before/after for the ones that changed."""
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise DomainError(f"Cannot edit {', '.join(sorted(unknown))} here.")
    incident = _lock(incident)
    before, after = {}, {}
    for field, value in changes.items():
        old = getattr(incident, field)
        if old != value:
            before[field], after[field] = _jsonable(old), _jsonable(value)
            setattr(incident, field, value)
    if "title" in after and not str(after["title"]).strip():
        raise DomainError("An incident needs a title.", field="title")
    _check_single_line(**{k: v for k, v in after.items() if k in ("title", "public_title")})
    if refusal := start_refusal(incident.started_at, incident.detected_at):
        raise DomainError(refusal, field="started_at")  # also a database constraint
    if not after:
        return incident
    incident.save(update_fields=[*after, "updated_at"])
    timeline_record(
        incident=incident,
        kind=TimelineKind.FIELD,
        actor=actor,
        via=via,
        message=f"{actor_label(actor, via)} edited {_field_names(after)}.",
        before=before,
        after=after,
    )
    return incident


def _field_names(fields) -> str:
    """ "title and public title": the names staff see on the form, not the attribute names."""
    return get_text_list([str(Incident._meta.get_field(f).verbose_name) for f in fields], "and")


def _check_single_line(**titles: str) -> None:
    # Titles become mail subjects (subscriber mail, pages): a line break there fails every send.
    for field, value in titles.items():
        if has_line_break(value):
            raise DomainError(f"The {field.replace('_', ' ')}: {SINGLE_LINE_MESSAGE}", field=field)


def _jsonable(value):
    return value.isoformat() if isinstance(value, datetime) else value


@retry_on_conflict
def status_update_post(
    *,
    incident: Incident,
    message: str,
    actor: User | None = None,
    via: str | None = None,
    public: bool = False,
    status: str | None = None,
    public_title: str | None = None,
) -> StatusUpdate:
    """Post an update. Giving a `status` also moves the incident there (resolved resolves it).

    Without one, the update speaks of the incident's current phase. A public update may set
    the title customers see (`public_title`); the internal title never reaches the status page
    unless no public title was ever given.
    """
    message = (message or "").strip()
    if not message:
        raise DomainError("A status update needs a message.", field="message")
    incident = _lock(incident)
    public_title = (public_title or "").strip()
    if public_title and not public:
        raise DomainError("Only a public update can set the public title.", field="public_title")
    if public_title and public_title != incident.public_title:
        incident_update_details(incident=incident, actor=actor, via=via, public_title=public_title)
        incident.public_title = public_title
    if status:
        status = UpdateStatus(status)
        incident = incident_transition(incident=incident, to=status, actor=actor, via=via)
    else:
        status = update_phase(incident.status)
    update = StatusUpdate.objects.create(
        incident=incident, status=status, message=message, public=public, author=actor
    )
    visibility = "a public" if public else "an internal"
    timeline_record(
        incident=incident,
        kind=TimelineKind.UPDATE,
        actor=actor,
        via=via,
        message=f"{actor_label(actor, via)} posted {visibility} update ({status.label}): {message}",
        after={"update": update.pk, "public": public, "status": status},
    )
    hooks.fire(hooks.STATUS_UPDATE_POSTED, update.pk)
    return update
