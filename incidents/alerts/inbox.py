"""The ingest inbox: accept a request's events with one insert, apply them in batches.

Accepting (the request's part) writes one InboxEvent row holding the request's normalized
events and commits it before the sender hears 202; on PostgreSQL the same transaction sends a
NOTIFY, which wakes an ingest worker at the commit. Applying (an ingest worker's part, or the
request's own when `TOCSIN_INGEST_APPLY` is "request", the SQLite default) takes the oldest
pending rows of one integration and runs them through the alert pipeline in one transaction:

- one applier per integration at a time (a transaction-scoped advisory lock on PostgreSQL,
  SQLite's single writer on SQLite), so an integration's rows apply in arrival order, and the
  alerts of one group, however many requests raced to send them, find one open incident;
- each row in a savepoint: a row whose application fails (a required hook that starts paging,
  a bug) is undone whole, kept pending and retried with backoff (shown in the admin), while
  the others of the batch commit;
- a row is marked applied in the transaction that applies it, so a worker killed mid-batch
  leaves its rows pending for the next one: applied exactly once, never lost, never doubled.
"""

import logging
import select
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from incidents.alerts.events import AlertEvent, event_from_json, event_to_json
from incidents.alerts.pipeline import IngestOutcome, _Ingest, _storable
from incidents.core.bulk import bulk_set
from incidents.core.hooks import HookFailed
from incidents.core.locks import is_retryable
from incidents.models import InboxEvent, InboxState, Integration

logger = logging.getLogger(__name__)

NOTIFY_CHANNEL = "tocsin_inbox"
# The advisory lock class of "applying an integration's inbox" (the second key is its id).
LOCK_CLASS = 74_120
MAX_BACKOFF_SECONDS = 300


@dataclass
class Accepted:
    """An accepted request: its inbox row, and what applying it did when that happened
    within the request (None when it waits for an ingest worker)."""

    row: InboxEvent
    outcome: IngestOutcome | None = None

    @property
    def applied(self) -> bool:
        return self.outcome is not None


def applies_in_request() -> bool:
    return settings.TOCSIN_INGEST_APPLY == "request"


# --- accepting ------------------------------------------------------------------------------
def inbox_accept(
    *,
    integration: Integration,
    events: list[AlertEvent],
    action: str = "ingest",
    alias: str = "",
) -> Accepted:
    """Commit the request's events to the inbox (durably: the 202 promises them), wake the
    ingest workers, and, where ingestion applies in the request, apply them now."""
    now = timezone.now()
    stored = [event_to_json(_storable(event)) for event in events]
    with transaction.atomic():
        row = InboxEvent.objects.create(
            integration=integration,
            action=action,
            alias=alias[:512],
            events=stored,
            event_count=len(stored),
            received_at=now,
            not_before=now,
        )
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_notify(%s, %s)", [NOTIFY_CHANNEL, str(integration.pk)])
    if not applies_in_request():
        return Accepted(row)
    outcomes = inbox_apply(integration_id=integration.pk, up_to=row.pk, wait=True)
    row.refresh_from_db()
    return Accepted(row, outcomes.get(row.pk) if outcomes else None)


# --- applying -------------------------------------------------------------------------------
def inbox_apply(
    *,
    integration_id: int,
    up_to: int | None = None,
    wait: bool = False,
    max_rows: int | None = None,
    max_events: int | None = None,
) -> dict[int, IngestOutcome] | None:
    """Apply one batch: the oldest due pending rows of one integration (up to row `up_to`).

    Returns each applied row's outcome by row id ({} when nothing was due), or None when
    another applier holds the integration and `wait` is false. A deadlock with another writer
    (an acknowledgement in the admin) reruns the batch; a row that fails otherwise stays
    pending with its error and a backoff.
    """
    for attempt in range(1, 5):
        try:
            return _apply_batch(
                integration_id,
                up_to=up_to,
                wait=wait,
                max_rows=max_rows or settings.TOCSIN_INBOX_BATCH_ROWS,
                max_events=max_events or settings.TOCSIN_INBOX_BATCH_EVENTS,
            )
        except OperationalError as error:
            if not is_retryable(error) or attempt == 4:
                raise
            time.sleep(0.02 * attempt)
    raise AssertionError("unreachable")


def _lock_integration(integration_id: int, *, wait: bool) -> bool:
    if connection.vendor != "postgresql":
        return True  # SQLite: this IMMEDIATE transaction is the only writer
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_CLASS, integration_id])
            return True
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_CLASS, integration_id])
        return bool(cursor.fetchone()[0])


def _apply_batch(
    integration_id: int, *, up_to: int | None, wait: bool, max_rows: int, max_events: int
) -> dict[int, IngestOutcome] | None:
    with transaction.atomic():
        if not _lock_integration(integration_id, wait=wait):
            return None
        now = timezone.now()
        pending = InboxEvent.objects.filter(
            state=InboxState.PENDING, integration_id=integration_id, not_before__lte=now
        )
        if up_to is not None:
            pending = pending.filter(id__lte=up_to)
        rows = _within(list(pending.order_by("id")[:max_rows]), max_events)
        if not rows:
            return {}
        integration = Integration.objects.select_related("service", "severity").get(
            pk=integration_id
        )
        batches = [_events_of(row) for row in rows]
        outcomes: dict[int, IngestOutcome] = {}
        try:
            # The whole batch in one savepoint, set-based (a few statements for thousands of
            # alerts) ...
            with transaction.atomic():
                results = _Ingest(integration).run_many(batches)
        except Exception as error:
            results = None
            if len(rows) > 1:
                logger.info(
                    "Inbox batch of %d rows failed together (%s); applying them one by one",
                    len(rows),
                    type(error).__name__,
                )
            else:
                _postpone(rows[0], error, now)
        if results is not None:
            for row, outcome in zip(rows, results, strict=True):
                outcomes[row.pk] = outcome
            _mark_applied_many(rows, results, now)
        elif len(rows) > 1:
            # ... and when that fails, each row in a savepoint of its own: a failed row is
            # undone whole and retried later, the others commit.
            ingest = _Ingest(integration)
            for row, events in zip(rows, batches, strict=True):
                try:
                    with transaction.atomic():
                        outcome = ingest.run(events)
                except Exception as error:
                    _postpone(row, error, now)
                    continue
                _mark_applied_many([row], [outcome], now)
                outcomes[row.pk] = outcome
        applied = sum(row.event_count for row in rows if row.pk in outcomes)
        if applied:
            # Counters move only for what this transaction commits.
            Integration.objects.filter(pk=integration_id).update(
                alert_count=F("alert_count") + applied, last_alert_at=now
            )
        return outcomes


def _within(rows: list[InboxEvent], max_events: int) -> list[InboxEvent]:
    """The first rows holding at most `max_events` events (always the first row)."""
    kept, total = [], 0
    for row in rows:
        if kept and total + row.event_count > max_events:
            break
        kept.append(row)
        total += row.event_count
    return kept


def _events_of(row: InboxEvent) -> list[AlertEvent]:
    return sorted(map(event_from_json, row.events), key=lambda e: (e.dedup_key, e.alert_id or 0))


def _mark_applied_many(
    rows: list[InboxEvent], outcomes: list[IngestOutcome], now: datetime
) -> None:
    for row, outcome in zip(rows, outcomes, strict=True):
        alert_ids = outcome.opened + outcome.repeated + outcome.resolved + outcome.acknowledged
        row.state = InboxState.APPLIED
        row.applied_at = now
        row.success = bool(alert_ids) or not outcome.ignored
        row.alert_id = alert_ids[0] if alert_ids else None
        row.incident_ids = sorted(outcome.incidents)
        row.result = _describe(outcome)
        row.last_error = ""
    fields = ["state", "applied_at", "success", "alert_id", "incident_ids", "result", "last_error"]
    bulk_set(InboxEvent, fields, [(row.pk, *(getattr(row, f) for f in fields)) for row in rows])


def _describe(outcome: IngestOutcome) -> str:
    parts = [
        (len(outcome.opened), "new"),
        (len(outcome.repeated), "repeated"),
        (len(outcome.resolved), "resolved"),
        (len(outcome.acknowledged), "acknowledged"),
        (outcome.ignored, "about no firing alert (ignored)"),
    ]
    text = ", ".join(f"{count} {what}" for count, what in parts if count)
    return text or "Nothing to do."


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, MAX_BACKOFF_SECONDS))


def _postpone(row: InboxEvent, error: Exception, now: datetime) -> None:
    if isinstance(error, HookFailed):
        message = error.message
        logger.warning("Inbox row %s not applied, retrying: %s", row.pk, message)
    else:
        message = f"{type(error).__name__}: {error}"
        logger.exception("Inbox row %s not applied, retrying", row.pk)
    attempts = row.attempts + 1
    # A conflict with another writer is retried at once; anything else waits a little longer
    # each time (2, 4, 8 … 300 s).
    wait = timedelta(0) if is_retryable(error) else backoff(attempts)
    InboxEvent.objects.filter(pk=row.pk).update(
        attempts=attempts, last_error=message[:2000], not_before=now + wait
    )


def _due_integrations(limit: int = 50) -> list[int]:
    """Integrations with due pending rows, the one with the oldest row first."""
    ids = (
        InboxEvent.objects.filter(state=InboxState.PENDING, not_before__lte=timezone.now())
        .order_by("id")
        .values_list("integration_id", flat=True)[: limit * 20]
    )
    return list(dict.fromkeys(ids))[:limit]


def inbox_apply_next() -> int:
    """Apply one batch of whichever due integration no other applier holds; how many rows."""
    for integration_id in _due_integrations():
        outcomes = inbox_apply(integration_id=integration_id)
        if outcomes is not None and outcomes:
            return len(outcomes)
    return 0


def inbox_drain(*, budget_seconds: float | None = None) -> int:
    """Apply batches until nothing is due (or the budget is spent); how many rows."""
    stop_at = time.monotonic() + budget_seconds if budget_seconds else None
    total = 0
    while stop_at is None or time.monotonic() < stop_at:
        done = inbox_apply_next()
        if not done:
            break
        total += done
    return total


# --- the ingest worker ----------------------------------------------------------------------
def inbox_work(*, stop: threading.Event, poll_seconds: float | None = None) -> None:
    """An ingest worker's loop: drain, then sleep until a NOTIFY (PostgreSQL) or the poll
    interval, until `stop` is set."""
    poll = poll_seconds if poll_seconds is not None else settings.TOCSIN_INBOX_POLL_SECONDS
    listener = _Listener() if connection.vendor == "postgresql" else None
    try:
        while not stop.is_set():
            if inbox_apply_next():
                continue
            if listener is not None:
                listener.wait(poll)
            else:
                stop.wait(poll)
    finally:
        if listener is not None:
            listener.close()
        connection.close()


class _Listener:
    """A connection of its own that LISTENs on the inbox channel."""

    def __init__(self):
        import psycopg

        params = connection.get_connection_params()
        self.conn = psycopg.connect(**params, autocommit=True)
        self.conn.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def wait(self, seconds: float) -> None:
        # Woken by the first notification; the others queued meanwhile are read and dropped.
        ready, _, _ = select.select([self.conn.fileno()], [], [], seconds)
        if ready:
            for _ in self.conn.notifies(timeout=0, stop_after=10_000):
                pass

    def close(self) -> None:
        self.conn.close()


# --- what the admin and the health checks show ---------------------------------------------
@dataclass
class Backlog:
    depth: int
    oldest: datetime | None

    @property
    def age_seconds(self) -> float:
        if self.oldest is None:
            return 0.0
        return max(0.0, (timezone.now() - self.oldest).total_seconds())


def inbox_backlog() -> Backlog:
    """Pending rows and the time the oldest was received (one index scan)."""
    from django.db.models import Count, Min

    found = InboxEvent.objects.filter(state=InboxState.PENDING).aggregate(
        depth=Count("id"), oldest=Min("received_at")
    )
    return Backlog(found["depth"], found["oldest"])


def inbox_retry_now(*, ids: list[int]) -> int:
    """Make pending rows due at once (the admin's "Retry now"); how many."""
    return InboxEvent.objects.filter(pk__in=ids, state=InboxState.PENDING).update(
        not_before=timezone.now()
    )


def inbox_backlogged(backlog: Backlog) -> bool:
    """Whether the backlog is past what the health check tolerates: its oldest pending row was
    received more than `TOCSIN_INGEST_BACKLOG_SECONDS` ago (the one rule the health check and
    the admin home share)."""
    return backlog.depth > 0 and backlog.age_seconds > settings.TOCSIN_INGEST_BACKLOG_SECONDS


def inbox_request(*, integration_id: int, request_id: str) -> InboxEvent | None:
    """The inbox row of one request of one integration (None for another integration's, an
    unknown or a malformed id): what Opsgenie's request status answers from."""
    import uuid

    try:
        wanted = uuid.UUID(str(request_id))
    except ValueError:
        return None
    return InboxEvent.objects.filter(integration_id=integration_id, request_id=wanted).first()


# --- retention ------------------------------------------------------------------------------
PURGE_BATCH = 5000


def inbox_purge(*, now: datetime | None = None, batch: int = PURGE_BATCH) -> int:
    """Delete applied rows older than `TOCSIN_INBOX_KEEP_HOURS` (by when they were applied);
    how many. Pending rows are never purged, however old. Deletes in batches, each its own
    short transaction, so a purge after a storm holds no lock for long."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.TOCSIN_INBOX_KEEP_HOURS)
    # received_at (indexed) narrows the scan to old rows; applied_at keeps a row that waited
    # long and was applied lately for the full keeping time after it was applied.
    old = InboxEvent.objects.filter(
        state=InboxState.APPLIED, received_at__lt=cutoff, applied_at__lt=cutoff
    )
    total = 0
    while True:
        ids = list(old.order_by("id").values_list("id", flat=True)[:batch])
        if not ids:
            return total
        deleted, _ = InboxEvent.objects.filter(pk__in=ids).delete()
        total += deleted
        if len(ids) < batch:
            return total
