"""Hooks and providers: how the parts above `core` plug into what `core` does.

`core` knows nothing of paging, the status page, runbooks or post-mortems; they register here,
from their `AppConfig.ready()`, and nowhere else.

- A **hook** runs inside the transaction that makes a change (an incident opened, a status move).
  A *required* hook (starting an incident's escalation) is part of the change: if it raises, the
  exception leaves the transaction and nothing of the change commits. An *optional* hook (drafting
  a post-mortem) runs in a savepoint of its own; if it raises, its writes are undone, the error is
  logged, and the change commits without it.
  A required hook's failure reaches the caller as `HookFailed` (a `DomainError` with status
  503: the admin shows it as a message, the API and the ingestion endpoints answer 503); a
  deadlock or serialization failure in any hook is let through as it is, so the whole change
  is retried (incidents.core.locks.retry_on_conflict), never the change without its hook.
- A **provider** answers a question `core` asks without knowing who answers it (the runbooks for a
  page, the demo data of another app). Every registered provider is asked, in registration order.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

from incidents.core.errors import DomainError
from incidents.core.locks import is_retryable

logger = logging.getLogger(__name__)

# The events core fires, each with the arguments its hooks receive.
INCIDENT_OPENED = "incident_opened"  # (incident_id)
INCIDENT_STATUS_CHANGED = "incident_status_changed"  # (incident_id, before, after)
STATUS_UPDATE_POSTED = "status_update_posted"  # (status_update_id)
INCIDENT_ROUTING_CHANGED = "incident_routing_changed"  # (incident_id): services or severity
RESPONDER_ADDED = "responder_added"  # (incident_id, user_id, actor_id | None)
SERVICE_POLICY_CHANGED = "service_policy_changed"  # (service_id)
EVENTS = frozenset(
    {
        INCIDENT_OPENED,
        INCIDENT_STATUS_CHANGED,
        STATUS_UPDATE_POSTED,
        INCIDENT_ROUTING_CHANGED,
        RESPONDER_ADDED,
        SERVICE_POLICY_CHANGED,
    }
)

# The questions providers answer.
PAGE_RUNBOOKS = "page_runbooks"  # (incident) -> list of {"title", "url"}
DEMO_DATA = "demo_data"  # (people: dict, services: dict) -> None


@dataclass(frozen=True)
class Hook:
    event: str
    function: Callable
    required: bool
    what: str  # what the hook does, for people: "start the incident's escalation"
    # Optional: the same work for many events at once, called with a list of argument tuples
    # (`fire_many`); without it, `fire_many` calls `function` once per event.
    many: Callable | None = None


class HookFailed(DomainError):
    """A required hook raised: the change it belongs to is undone. Try again later."""

    status_code = 503

    def __init__(self, hook: Hook, error: Exception):
        detail = str(error) or error.__class__.__name__
        super().__init__(
            f"Could not {hook.what} ({error.__class__.__name__}: {detail[:200]}), so nothing "
            "was saved. Try again in a moment."
        )
        self.hook = hook
        self.error = error


_hooks: dict[str, list[Hook]] = defaultdict(list)
_providers: dict[str, list[Callable]] = defaultdict(list)


def register(
    event: str,
    function: Callable,
    *,
    required: bool = False,
    what: str = "",
    many: Callable | None = None,
) -> Callable:
    """Run `function(*args)` inside the transaction of every `event`. Registering the same
    function twice for one event is a no-op (ready() can run more than once in tests).
    `what` says what it does ("start the incident's escalation") for the error people see.
    `many`, if given, does the same for a list of argument tuples in one call (`fire_many`)."""
    if event not in EVENTS:
        raise ValueError(f"Unknown event {event!r}")
    if not any(hook.function is function for hook in _hooks[event]):
        what = what or f"run {function.__name__.strip('_').replace('_', ' ')}"
        _hooks[event].append(Hook(event, function, required, what, many))
    return function


def unregister(event: str, function: Callable) -> None:
    _hooks[event] = [hook for hook in _hooks[event] if hook.function is not function]


def fire(event: str, *args) -> None:
    """Run the hooks of `event`, required ones first. Call inside the change's transaction.

    Raises HookFailed when a required hook fails; lets a deadlock or serialization failure
    through from any hook, so the caller reruns the whole change."""
    fire_many(event, [args])


def fire_many(event: str, calls: list[tuple]) -> None:
    """`fire` for many events of one kind at once (each item: one event's arguments), in one
    transaction: each hook runs once with them all when it has a `many` variant, else once per
    event. The same rules as `fire`: a required hook's failure fails them all (HookFailed); an
    optional hook is undone alone (for all the events) and logged."""
    if not calls:
        return
    args = calls[0] if len(calls) == 1 else calls  # for the log
    hooks = sorted(_hooks[event], key=lambda hook: not hook.required)
    for hook in hooks:
        if hook.required:
            try:
                _run(hook, calls)
            except HookFailed:
                raise
            except Exception as error:
                if is_retryable(error):
                    raise
                logger.exception("Required hook %s failed for %s %s", hook.what, event, args)
                raise HookFailed(hook, error) from error
            continue
        try:
            with transaction.atomic():
                _run(hook, calls)
        except Exception as error:
            if is_retryable(error):
                raise
            logger.exception(
                "Optional hook %s failed for %s %s; the change itself stands",
                hook.function.__qualname__,
                event,
                args,
            )


def _run(hook: Hook, calls: list[tuple]) -> None:
    if hook.many is not None and len(calls) > 1:
        hook.many(calls)
        return
    for args in calls:
        hook.function(*args)


def provide(question: str, function: Callable) -> Callable:
    """Register `function` as an answer to `question` (once)."""
    if function not in _providers[question]:
        _providers[question].append(function)
    return function


def providers(question: str) -> list[Callable]:
    return list(_providers[question])
