"""Row locks on an incident and its paging, taken in one order, and retrying a whole operation.

The order (docs/architecture.md, "Locks") is: the incident row, then its escalation, then its
severity timers, then its notifications; never the reverse. Every function that changes an
incident, its escalation or its notifications takes the incident first with `lock_incident`
(or `lock_incidents` for a batch), so two of them on one incident queue on that row and never
hold each other's second lock.

The incident lock is PostgreSQL's `FOR NO KEY UPDATE`: it excludes every other writer of the
incident, but not the `FOR KEY SHARE` lock that inserting a row that points at the incident
(a timeline entry, a notification) takes on it. So a delivery that records its result on the
timeline never waits for an acknowledgement in progress, nor the other way round.

Where the database still reports a deadlock or a serialization failure, `retry_on_conflict`
runs the whole operation again, in a fresh transaction, from its first line.
"""

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection, transaction
from django.db.models import QuerySet

from incidents.models import Incident

logger = logging.getLogger(__name__)

# deadlock_detected, serialization_failure: the transaction was rolled back and is safe to rerun.
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})
ATTEMPTS = 4

T = TypeVar("T")


def retryable_state(error: BaseException | None) -> str | None:
    """The SQLSTATE of a deadlock or serialization failure behind `error`, else None."""
    while error is not None:
        state = getattr(error, "sqlstate", None)
        if state in RETRYABLE_SQLSTATES:
            return state
        error = error.__cause__
    return None


def is_retryable(error: BaseException) -> bool:
    """Whether `error` is a deadlock or a serialization failure reported by the database."""
    return retryable_state(error) is not None


def retry_on_conflict(function: Callable[..., T]) -> Callable[..., T]:
    """Run `function` in a transaction of its own, again (up to ATTEMPTS times) when the
    database rolls it back for a deadlock or a serialization failure.

    Inside a caller's transaction it runs once, in a savepoint, and lets the error go: only the
    outermost operation can be rerun whole (rerunning its second half alone would commit half a
    change). It replaces `@transaction.atomic` on the functions it decorates.
    """

    @functools.wraps(function)
    def retrying(*args, **kwargs):
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a failure undoes this operation alone
                return function(*args, **kwargs)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with transaction.atomic():
                    return function(*args, **kwargs)
            except OperationalError as error:
                if not is_retryable(error) or attempt == ATTEMPTS:
                    raise
                logger.info(
                    "%s rolled back (SQLSTATE %s), running it again (attempt %d of %d)",
                    function.__qualname__,
                    retryable_state(error),
                    attempt + 1,
                    ATTEMPTS,
                )
                # A short, random pause lets the other transaction finish first.
                time.sleep(random.uniform(0.01, 0.05) * attempt)
        raise AssertionError("unreachable")

    return retrying


def lock_incident(pk: int, *, skip_locked: bool = False) -> Incident | None:
    """Lock incident `pk` (first of the order) and return it with its severity, or None when it
    does not exist (or, with `skip_locked`, when another transaction holds it)."""
    return (
        Incident.objects.select_for_update(no_key=True, of=("self",), skip_locked=skip_locked)
        .select_related("severity")
        .filter(pk=pk)
        .first()
    )


def lock_incident_of(model, pk: int) -> int | None:
    """Lock the incident that row `pk` of `model` (an escalation, a timer) belongs to, before
    that row is locked in its turn. Returns the incident's id, or None when there is none."""
    incident_id = model.objects.filter(pk=pk).values_list("incident_id", flat=True).first()
    if incident_id is None or lock_incident(incident_id) is None:
        return None
    return incident_id


def lock_existing(incident: Incident) -> Incident:
    """`lock_incident` for a change to an incident that must exist (DoesNotExist if not)."""
    locked = lock_incident(incident.pk)
    if locked is None:
        raise Incident.DoesNotExist(f"Incident {incident.pk} no longer exists.")
    return locked


def lock_incidents(incidents: QuerySet, *, limit: int) -> list[int]:
    """Lock up to `limit` incidents of `incidents` that no other transaction holds (SKIP
    LOCKED): the first lock of a batch. Returns their ids, in the queryset's order."""
    locked = incidents.select_for_update(no_key=True, of=("self",), skip_locked=True)
    return list(locked.values_list("pk", flat=True)[:limit])
