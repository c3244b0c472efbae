"""Hooks and providers: how the parts above `core` plug into what `core` does.

`core` knows nothing of paging, the status page, runbooks or post-mortems; they register here,
from their `AppConfig.ready()`, and nowhere else.

- A **hook** runs inside the transaction that makes a change (an incident opened, a status move).
  A *required* hook (starting an incident's escalation) is part of the change: if it raises, the
  exception leaves the transaction and nothing of the change commits. An *optional* hook (drafting
  a post-mortem) runs in a savepoint of its own; if it raises, its writes are undone, the error is
  logged, and the change commits without it.
- A **provider** answers a question `core` asks without knowing who answers it (the runbooks for a
  page, the demo data of another app). Every registered provider is asked, in registration order.
"""

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from django.db import transaction

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


_hooks: dict[str, list[Hook]] = defaultdict(list)
_providers: dict[str, list[Callable]] = defaultdict(list)


def register(event: str, function: Callable, *, required: bool = False) -> Callable:
    """Run `function(*args)` inside the transaction of every `event`. Registering the same
    function twice for one event is a no-op (ready() can run more than once in tests)."""
    if event not in EVENTS:
        raise ValueError(f"Unknown event {event!r}")
    if not any(hook.function is function for hook in _hooks[event]):
        _hooks[event].append(Hook(event, function, required))
    return function


def unregister(event: str, function: Callable) -> None:
    _hooks[event] = [hook for hook in _hooks[event] if hook.function is not function]


def fire(event: str, *args) -> None:
    """Run the hooks of `event`, required ones first. Call inside the change's transaction."""
    hooks = sorted(_hooks[event], key=lambda hook: not hook.required)
    for hook in hooks:
        if hook.required:
            hook.function(*args)
            continue
        try:
            with transaction.atomic():
                hook.function(*args)
        except Exception:
            logger.exception(
                "Optional hook %s failed for %s %s; the change itself stands",
                hook.function.__qualname__,
                event,
                args,
            )


def provide(question: str, function: Callable) -> Callable:
    """Register `function` as an answer to `question` (once)."""
    if function not in _providers[question]:
        _providers[question].append(function)
    return function


def providers(question: str) -> list[Callable]:
    return list(_providers[question])
