"""Who works an incident: its commander and responders (part of the incident lifecycle).

Same rules as incidents.core.lifecycle: keyword-only arguments, one transaction, the incident
locked first, a timeline entry for every change. Callers import these from either module.
"""

from django.contrib.auth.models import AbstractBaseUser

from incidents.core import hooks
from incidents.core.choices import ResponderRole, TimelineKind
from incidents.core.locks import lock_existing, retry_on_conflict
from incidents.core.timeline import actor_label, timeline_record
from incidents.models import Incident, Responder

User = AbstractBaseUser


_lock = lock_existing


@retry_on_conflict
def incident_assign_commander(
    *, incident: Incident, commander: User | None, actor: User | None = None, via: str | None = None
) -> Incident:
    """Hand command to `commander` (None to clear it)."""
    incident = _lock(incident)
    if incident.commander_id == (commander.pk if commander else None):
        return incident
    before = incident.commander
    incident.commander = commander
    incident.save(update_fields=["commander", "updated_at"])
    who = actor_label(actor, via)
    if commander is None:
        message = f"{who} cleared the commander."
    elif actor is not None and commander.pk == actor.pk:
        message = f"{who} took command."
    else:
        message = f"{who} made {actor_label(commander)} commander."
    timeline_record(
        incident=incident,
        kind=TimelineKind.COMMANDER,
        actor=actor,
        via=via,
        message=message,
        before={"commander": before.get_username() if before else None},
        after={"commander": commander.get_username() if commander else None},
    )
    return incident


@retry_on_conflict
def incident_add_responder(
    *,
    incident: Incident,
    user: User,
    role: str = ResponderRole.RESPONDER,
    actor: User | None = None,
    via: str | None = None,
    announce: bool = True,
) -> Responder:
    """Add `user` as a responder (or change their role); a newcomer is told (paged) unless
    `announce` is False, for a caller that pages them itself."""
    incident = _lock(incident)
    role = ResponderRole(role)
    responder, created = Responder.objects.get_or_create(
        incident=incident, user=user, defaults={"role": role}
    )
    if not created and responder.role == role:
        return responder
    before = None if created else {"user": user.get_username(), "role": responder.role}
    if not created:
        responder.role = role
        responder.save(update_fields=["role"])
    timeline_record(
        incident=incident,
        kind=TimelineKind.RESPONDER_ADDED,
        actor=actor,
        via=via,
        message=f"{actor_label(actor, via)} added {actor_label(user)} as {role.label.lower()}.",
        before=before,
        after={"user": user.get_username(), "role": role},
    )
    if created and announce:
        hooks.fire(hooks.RESPONDER_ADDED, incident.pk, user.pk, actor.pk if actor else None)
    return responder


@retry_on_conflict
def incident_remove_responder(
    *, incident: Incident, user: User, actor: User | None = None, via: str | None = None
) -> None:
    incident = _lock(incident)
    deleted, _ = Responder.objects.filter(incident=incident, user=user).delete()
    if deleted:
        timeline_record(
            incident=incident,
            kind=TimelineKind.RESPONDER_REMOVED,
            actor=actor,
            via=via,
            message=f"{actor_label(actor, via)} removed {actor_label(user)} from the responders.",
            before={"user": user.get_username()},
        )
