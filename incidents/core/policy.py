"""Who may do what to an incident: the one answer the admin and the API both ask.

`may(user, action, incident=None, to=None)` answers yes or no; `check(...)` raises
`NotAllowed` (a 403) instead of answering no. The answer rests only on the Django permissions
the user holds, through their groups (incidents.core.permissions defines the staff groups) or
directly, so a custom group gets exactly what its permissions say. Whether the incident's state
allows the operation (acknowledging a resolved incident, say) is the domain's question, asked by
the domain function itself; this module never looks at more than the permission and, for a
status change, where the incident is coming from.

The table in docs/permissions.md lists every action and what it needs.
"""

from enum import StrEnum

from incidents.core.choices import WORKING_STATUSES, IncidentStatus
from incidents.core.errors import DomainError


class Action(StrEnum):
    VIEW = "view"
    CREATE = "create"
    EDIT = "edit"  # title, summary, impact, times, severity, services
    DELETE = "delete"
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    MOVE = "move"  # change status; give `to`
    COMMAND = "command"  # take command, name the commander
    POST_INTERNAL_UPDATE = "post_internal_update"
    POST_PUBLIC_UPDATE = "post_public_update"
    ADD_RESPONDER = "add_responder"
    CHANGE_RESPONDER = "change_responder"
    REMOVE_RESPONDER = "remove_responder"
    ESCALATE_NOW = "escalate_now"
    PAGE = "page"  # page people or a schedule's on-call now
    VIEW_POSTMORTEM = "view_postmortem"
    START_POSTMORTEM = "start_postmortem"
    EDIT_POSTMORTEM = "edit_postmortem"
    PUBLISH_POSTMORTEM = "publish_postmortem"
    ADD_ACTION_ITEM = "add_action_item"


# What each action needs: every permission of one of the alternatives (any-of all-of).
NEEDS: dict[Action, tuple[tuple[str, ...], ...]] = {
    # Django's own rule, as its admin applies it: whoever may change a row may see it.
    Action.VIEW: (("incidents.view_incident",), ("incidents.change_incident",)),
    Action.CREATE: (("incidents.add_incident",),),
    Action.EDIT: (("incidents.change_incident",),),
    Action.DELETE: (("incidents.delete_incident",),),
    Action.ACKNOWLEDGE: (("incidents.acknowledge_incident",),),
    Action.RESOLVE: (("incidents.resolve_incident",),),
    Action.COMMAND: (("incidents.command_incident",),),
    Action.POST_INTERNAL_UPDATE: (("incidents.add_statusupdate",),),
    Action.POST_PUBLIC_UPDATE: (("incidents.add_statusupdate",),),
    Action.ADD_RESPONDER: (("incidents.add_responder",),),
    Action.CHANGE_RESPONDER: (("incidents.change_responder",),),
    Action.REMOVE_RESPONDER: (("incidents.delete_responder",),),
    Action.ESCALATE_NOW: (("incidents.escalate_incident",),),
    Action.PAGE: (("incidents.escalate_incident",),),
    Action.VIEW_POSTMORTEM: (("postmortems.view_postmortem",),),
    Action.START_POSTMORTEM: (("postmortems.add_postmortem",),),
    Action.EDIT_POSTMORTEM: (("postmortems.change_postmortem",),),
    Action.PUBLISH_POSTMORTEM: (("postmortems.publish_postmortem",),),
    Action.ADD_ACTION_ITEM: (("postmortems.add_actionitem",),),
}


# Acting on an incident means seeing it first: these actions also need VIEW. (Creating one does
# not; post-mortem actions need their own view permission, as the post-mortem says.)
SEEING_FIRST = frozenset(
    {
        Action.EDIT,
        Action.DELETE,
        Action.ACKNOWLEDGE,
        Action.RESOLVE,
        Action.MOVE,
        Action.COMMAND,
        Action.POST_INTERNAL_UPDATE,
        Action.POST_PUBLIC_UPDATE,
        Action.ADD_RESPONDER,
        Action.CHANGE_RESPONDER,
        Action.REMOVE_RESPONDER,
        Action.ESCALATE_NOW,
        Action.PAGE,
    }
)


class NotAllowed(DomainError):
    """The user lacks the permission the action needs."""

    status_code = 403


def move_needs(from_status: str | None, to: str) -> tuple[str, ...]:
    """The permissions a status change from `from_status` to `to` needs, all of them.

    Resolving needs resolve; acknowledging needs acknowledge; leaving `triggered` for a working
    status acknowledges on the way, so it needs acknowledge as well as change; reopening and
    every other move between working statuses need change.
    """
    to = IncidentStatus(to)
    if to == IncidentStatus.RESOLVED:
        return ("incidents.resolve_incident",)
    if to == IncidentStatus.ACKNOWLEDGED:
        return ("incidents.acknowledge_incident",)
    if from_status == IncidentStatus.TRIGGERED and to in WORKING_STATUSES:
        return ("incidents.change_incident", "incidents.acknowledge_incident")
    return ("incidents.change_incident",)


def needs(action: Action, *, incident=None, to: str | None = None) -> tuple[tuple[str, ...], ...]:
    """The alternatives of permissions `action` needs (see NEEDS and move_needs)."""
    action = Action(action)
    if action == Action.MOVE:
        if to is None:
            raise ValueError("policy: a status change needs `to`.")
        return (move_needs(incident.status if incident is not None else None, to),)
    return NEEDS[action]


def may(user, action: Action | str, *, incident=None, to: str | None = None) -> bool:
    """May `user` do `action` (to `incident`; for MOVE, to status `to`)?

    An inactive or anonymous user may do nothing; a superuser may do everything (Django's
    has_perm answers both).
    """
    if user is None or not user.is_authenticated:
        return False
    action = Action(action)
    if action in SEEING_FIRST and not may(user, Action.VIEW):
        return False
    return any(user.has_perms(perms) for perms in needs(action, incident=incident, to=to))


def may_update(user, *, incident, public: bool, status: str | None) -> bool:
    """May `user` post a status update that also moves the incident to `status`?

    An update whose status is a move (it differs from the incident's status) needs the move's
    permissions as well as the update's: resolving through an update needs resolve.
    """
    action = Action.POST_PUBLIC_UPDATE if public else Action.POST_INTERNAL_UPDATE
    if not may(user, action, incident=incident):
        return False
    if status and incident is not None and status != incident.status:
        return may(user, Action.MOVE, incident=incident, to=status)
    return True


def refusal(action: Action | str, *, incident=None, to: str | None = None, user=None) -> str:
    """The sentence a refused user reads: which permission they need.

    Given the user, a refusal for not seeing incidents at all names the view permission.
    """
    action = Action(action)
    if user is not None and action in SEEING_FIRST and not may(user, Action.VIEW):
        action, incident, to = Action.VIEW, None, None
    alternatives = needs(action, incident=incident, to=to)
    named = " or ".join(" and ".join(perms) for perms in alternatives)
    noun = "permission" if len(alternatives) == 1 and len(alternatives[0]) == 1 else "permissions"
    return f"You need the {named} {noun}."


def check(user, action: Action | str, *, incident=None, to: str | None = None) -> None:
    """Raise NotAllowed unless `may(user, action, ...)`."""
    if not may(user, action, incident=incident, to=to):
        raise NotAllowed(refusal(action, incident=incident, to=to, user=user))


def check_update(user, *, incident, public: bool, status: str | None) -> None:
    """Raise NotAllowed unless `may_update(...)`, naming the permission that is missing."""
    if may_update(user, incident=incident, public=public, status=status):
        return
    action = Action.POST_PUBLIC_UPDATE if public else Action.POST_INTERNAL_UPDATE
    if not may(user, action, incident=incident):
        raise NotAllowed(refusal(action, incident=incident, user=user))
    raise NotAllowed(refusal(Action.MOVE, incident=incident, to=status, user=user))
