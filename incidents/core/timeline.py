"""Writing the append-only incident timeline. Every domain change calls `timeline_record`."""

from typing import Any

from django.contrib.auth.models import AbstractBaseUser

from incidents.core.choices import TimelineKind
from incidents.models import Incident, TimelineEvent

SYSTEM = "Tocsin"


def actor_label(actor: AbstractBaseUser | None, via: str | None = None) -> str:
    if actor is not None:
        full = actor.get_full_name() if hasattr(actor, "get_full_name") else ""
        return full or actor.get_username()
    return via or SYSTEM


def timeline_record(
    *,
    incident: Incident,
    kind: TimelineKind,
    message: str,
    actor: AbstractBaseUser | None = None,
    via: str | None = None,
    before: Any = None,
    after: Any = None,
) -> TimelineEvent:
    """Append one row. Callers run inside their own transaction."""
    return TimelineEvent.objects.create(
        incident=incident,
        kind=kind,
        actor=actor,
        actor_label=actor_label(actor, via),
        message=message,
        before=before,
        after=after,
    )
