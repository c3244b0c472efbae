"""Writing the append-only incident timeline. Every domain change calls `timeline_record`."""

from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from incidents.core.choices import TimelineKind
from incidents.core.formatting import person_name
from incidents.models import Incident, TimelineEvent

SYSTEM = "Tocsin"


def actor_label(actor: AbstractBaseUser | None, via: str | None = None) -> str:
    """Who did it, as the timeline says: the person's name (and the way in, when there is one:
    "Alice via page link"), else the integration, else Tocsin."""
    if actor is not None:
        return f"{person_name(actor)} via {via}" if via else person_name(actor)
    return via or SYSTEM


def timeline_entry(
    *,
    incident: Incident | int,
    kind: TimelineKind,
    message: str,
    actor: AbstractBaseUser | None = None,
    via: str | None = None,
    before: Any = None,
    after: Any = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """One row, not saved yet: what `timeline_record` writes, and `timeline_record_many`
    writes many of at once. `incident` may be the incident or its id."""
    ref = {"incident_id": incident} if isinstance(incident, int) else {"incident": incident}
    return TimelineEvent(
        **ref,
        kind=kind,
        actor=actor,
        actor_label=actor_label(actor, via),
        message=message,
        before=before,
        after=after,
        at=at or timezone.now(),
    )


def timeline_record_many(entries: list[TimelineEvent]) -> None:
    """Append many rows (built with `timeline_entry`) in a few statements."""
    if entries:
        TimelineEvent.objects.bulk_create(entries, batch_size=500)


def timeline_record(
    *,
    incident: Incident,
    kind: TimelineKind,
    message: str,
    actor: AbstractBaseUser | None = None,
    via: str | None = None,
    before: Any = None,
    after: Any = None,
    at: datetime | None = None,
) -> TimelineEvent:
    """Append one row (at `at`, default now). Callers run inside their own transaction."""
    entry = timeline_entry(
        incident=incident,
        kind=kind,
        actor=actor,
        via=via,
        message=message,
        before=before,
        after=after,
        at=at,
    )
    entry.save(force_insert=True)
    return entry
