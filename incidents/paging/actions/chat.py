"""Chat commands and buttons, whichever chat they come from (Slack or Mattermost).

`run_command` parses and runs one slash command's text as the Tocsin user the chat account is
linked to; `click` runs one button. Both answer an `Answer`: ephemeral when it concerns only the
person who asked (help, oncall, incidents, every refusal and error), in the channel when the team
should see it (ack, resolve, escalate, page). ack / resolve / escalate act through
`perform.perform` only, so the person's permissions apply and the timeline says
"<Name> via Slack". An unlinked chat account is told how to link it, and nothing happens.

`page` opens an incident of severity PAGE_SEVERITY (P1, High: a page wakes someone, so it is
a paging severity, and the escalation policy backs the paged person up if they do not answer)
titled with the message, and pages the schedule's on-call or the person at once.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from incidents.core import lifecycle, policy
from incidents.core.choices import ChatProvider, IncidentStatus
from incidents.core.errors import DomainError
from incidents.core.formatting import person_name
from incidents.models import Incident, Schedule, Severity
from incidents.oncall import compute as oncall
from incidents.paging import fallback
from incidents.paging.actions import perform as acting
from incidents.paging.actions.identities import user_for

PAGE_SEVERITY = "P1"
MAX_LISTED = 10
MAX_TEXT = 2000

VIA = {ChatProvider.SLACK: acting.VIA_SLACK, ChatProvider.MATTERMOST: acting.VIA_MATTERMOST}
VERBS = {
    "ack": acting.Verb.ACKNOWLEDGE,
    "acknowledge": acting.Verb.ACKNOWLEDGE,
    "resolve": acting.Verb.RESOLVE,
    "escalate": acting.Verb.ESCALATE,
}
REFERENCE = re.compile(r"^(?:inc-?|#)?(\d{1,18})$", re.IGNORECASE)

HELP = """Tocsin commands:
  {c} ack INC-42          acknowledge an incident (also: acknowledge, or just the number)
  {c} resolve INC-42      resolve it
  {c} escalate INC-42     page its next escalation step now
  {c} oncall [schedule]   who is on call now, and the next handoff
  {c} page <schedule name|@username> <message>
                          open an incident (P1) with the message and page them now
  {c} incidents           the open incidents, newest first
  {c} help                this text"""


@dataclass(frozen=True)
class Answer:
    """What the chat shows: `text`, to everyone in the channel or to the asker alone."""

    text: str
    in_channel: bool = False
    blocks: list | None = None
    incident: Incident | None = field(default=None, compare=False)
    changed: bool = False


def _private(text: str) -> Answer:
    return Answer(text=text[:MAX_TEXT], in_channel=False)


def link_instructions(provider: str, external_id: str) -> str:
    label = ChatProvider(provider).label
    page = settings.TOCSIN_BASE_URL + reverse("my-paging")
    return (
        f"This {label} account ({external_id}) is not linked to a Tocsin user, so Tocsin did "
        f'nothing. Link it on your My paging page ({page}, "Chat identities"), or with the API:\n'
        f"curl -X POST -H 'Authorization: Token <your API token>' "
        f"-H 'Content-Type: application/json' "
        f'-d \'{{"provider": "{provider}", "external_id": "{external_id}"}}\' '
        f"{settings.TOCSIN_BASE_URL}/api/v1/users/<your username>/chat-identities/"
    )


def find_incident(reference: str) -> Incident | None:
    match = REFERENCE.match((reference or "").strip())
    if match is None:
        return None
    return Incident.objects.select_related("severity").filter(number=int(match[1])).first()


# --- the commands ------------------------------------------------------------------------------


def _act(user, verb: acting.Verb, args: list[str], via: str) -> Answer:
    if len(args) != 1:
        return _private(f"Say which incident: {verb.value} INC-42.")
    incident = find_incident(args[0])
    if incident is None or not policy.may(user, policy.Action.VIEW):
        return _private(f"No incident {args[0]!r}: give its reference, e.g. INC-42.")
    return act(user=user, incident=incident, verb=verb, via=via)


def act(*, user, incident: Incident, verb, via: str) -> Answer:
    """Acknowledge, resolve or escalate through `perform`: in the channel when it acted."""
    verb = acting.Verb(verb)
    try:
        outcome = acting.perform(user=user, incident=incident, verb=verb, via=via)
    except policy.NotAllowed as refused:
        return Answer(
            text=f"You may not {verb.value} {incident.reference}: {refused.message}",
            incident=incident,
        )
    except DomainError as error:
        return Answer(text=error.message, incident=incident)
    if not outcome.changed:
        return Answer(text=outcome.message, incident=outcome.incident)
    text = (
        f"{outcome.message[:-1]} via {via}." if outcome.message.endswith(".") else outcome.message
    )
    return Answer(text=text, in_channel=True, incident=outcome.incident, changed=True)


def _when(instant) -> str:
    return timezone.localtime(instant, UTC).strftime("%a %d %b %H:%M UTC")


def _oncall(user, args: list[str]) -> Answer:
    if not policy.may(user, policy.Action.VIEW):
        return _private(f"You may not see schedules: {policy.refusal(policy.Action.VIEW)}")
    schedules = Schedule.objects.order_by("name")
    wanted = " ".join(args).strip()
    if wanted:
        schedules = schedules.filter(name__iexact=wanted)
    schedules = list(schedules[:50])
    if not schedules:
        return _private(f"No schedule named {wanted!r}." if wanted else "There are no schedules.")
    now = timezone.now()
    specs = oncall.load_specs(schedules)
    pairs = {pk: oncall.now_and_next(spec, now) for pk, spec in specs.items()}
    ids = {seg.user for pair in pairs.values() for seg in pair if seg and seg.user}
    people = get_user_model().objects.in_bulk(ids)

    def who(segment) -> str:
        if segment is None or segment.user is None or segment.user not in people:
            return "nobody"
        person = people[segment.user]
        return f"{person_name(person)} (@{person.get_username()})"

    lines = []
    for schedule in schedules:
        current, nxt = pairs.get(schedule.pk, (None, None))
        line = f"{schedule.name}: {who(current)}"
        if nxt is not None:
            line += f"; next: {who(nxt)} from {_when(nxt.start)}"
        lines.append(line)
    return _private("On call now:\n" + "\n".join(lines))


def _incidents(user) -> Answer:
    if not policy.may(user, policy.Action.VIEW):
        return _private(f"You may not see incidents: {policy.refusal(policy.Action.VIEW)}")
    rows = list(
        Incident.objects.exclude(status=IncidentStatus.RESOLVED)
        .select_related("severity")
        .order_by("-detected_at", "-number")[:MAX_LISTED]
    )
    if not rows:
        return _private("No open incidents.")
    lines = [f"{i.reference} [{i.severity.key}] {i.get_status_display()}: {i.title}" for i in rows]
    more = Incident.objects.exclude(status=IncidentStatus.RESOLVED).count() - len(rows)
    if more > 0:
        lines.append(f"… and {more} more in Tocsin.")
    return _private("Open incidents, newest first:\n" + "\n".join(lines))


def page_severity() -> Severity:
    found = Severity.objects.filter(key=PAGE_SEVERITY).first()
    if found is None:
        found = Severity.objects.filter(pages=True).order_by("-rank").first()
    return found or Severity.objects.order_by("rank").first()


def _page_target(args: list[str]):
    """(users, schedules, message words) from `@username ...` or `<schedule name> ...`."""
    if args[0].startswith("@"):
        username = args[0][1:]
        person = get_user_model().objects.filter(username=username, is_active=True).first()
        if person is None:
            raise DomainError(f"No active Tocsin user @{username}.", field="target")
        return [person], [], args[1:]
    names = {s.name.casefold(): s for s in Schedule.objects.all()[:500]}
    for cut in range(len(args), 0, -1):
        schedule = names.get(" ".join(args[:cut]).casefold())
        if schedule is not None:
            return [], [schedule], args[cut:]
    raise DomainError(
        f"No schedule or person {args[0]!r}: give a schedule's name or @username.",
        field="target",
    )


def _page(user, args: list[str], via: str) -> Answer:
    usage = "Say whom and why: page <schedule name|@username> <message>."
    if not args:
        return _private(usage)
    for action in (policy.Action.CREATE, policy.Action.PAGE):
        if not policy.may(user, action):
            return _private(f"You may not page: {policy.refusal(action, user=user)}")
    try:
        users, schedules, words = _page_target(args)
    except DomainError as error:
        return _private(error.message)
    message = " ".join(words).strip()
    if not message:
        return _private(usage)
    title = message if len(message) <= 200 else message[:199] + "…"
    try:
        incident = lifecycle.incident_create(
            title=title, severity=page_severity(), actor=user, via=via, summary=message
        )
        queued = fallback.incident_page(
            incident=incident,
            users=users,
            schedules=schedules,
            message=message,
            actor=user,
            via=via,
        )
    except DomainError as error:
        return _private(error.message)
    target = schedules[0].name if schedules else f"@{users[0].get_username()}"
    names = sorted({n.recipient for n in queued})
    paged = ", ".join(names) if names else "nobody (no one on call or no way to reach them)"
    return Answer(
        text=f"{person_name(user)} opened {incident.reference} ({incident.severity.key}) "
        f"and paged {target}: {paged}. {message}",
        in_channel=True,
        incident=incident,
        changed=True,
    )


def run_command(*, provider: str, external_id: str, text: str, command: str = "/tocsin") -> Answer:
    """Run one slash command's text as the Tocsin user linked to the chat account."""
    words = (text or "").split()
    name = words[0].casefold() if words else "help"
    args = words[1:]
    if name == "help":
        return _private(HELP.format(c=command or "/tocsin"))
    user = user_for(provider=provider, external_id=external_id)
    if user is None:
        return _private(link_instructions(provider, external_id))
    via = VIA[ChatProvider(provider)]
    if name in VERBS:
        return _act(user, VERBS[name], args, via)
    if name == "oncall":
        return _oncall(user, args)
    if name == "incidents":
        return _incidents(user)
    if name == "page":
        return _page(user, args, via)
    return _private(f"Unknown command {words[0]!r}. " + HELP.format(c=command or "/tocsin"))


def click(*, provider: str, external_id: str, incident_id, action: str) -> Answer:
    """A button on a page message, clicked by the chat account `external_id`."""
    if action not in {verb.value for verb in acting.Verb}:
        return _private(f"Unknown action {action!r}.")
    user = user_for(provider=provider, external_id=external_id)
    if user is None:
        return _private(link_instructions(provider, external_id))
    try:
        pk = int(incident_id)
    except (TypeError, ValueError):
        return _private("This button names no incident.")
    incident = Incident.objects.select_related("severity").filter(pk=pk).first()
    if incident is None:
        return _private("This incident does not exist any more.")
    return act(user=user, incident=incident, verb=action, via=VIA[ChatProvider(provider)])
