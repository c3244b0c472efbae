"""Ingestion limits that protect the server without a database write per request.

Two refusals, both answered 429 with Retry-After and both decided before anything is stored:

- **An integration's rate limit**: a token bucket per web process (`rate_limit_per_second`
  tokens a second, at most `rate_limit_burst` saved up). A process cannot see the other
  processes' buckets, so about once a second (`TOCSIN_INGEST_LIMIT_REFRESH_SECONDS`) it counts
  the integration's inbox rows received since its last look (`InboxEvent.received_at` is
  indexed) and takes the ones it did not admit itself out of its own bucket. The limit is
  therefore global to within about one refresh interval of other processes' traffic.
- **The server guard**: every ingestion request is refused while the inbox is genuinely backed
  up (its oldest pending row older than `TOCSIN_INGEST_GUARD_SECONDS`, or more than
  `TOCSIN_INGEST_GUARD_DEPTH` pending rows), read at most once a refresh interval per process.

Nothing here writes to the database; the state is this process's memory and is lost, harmlessly,
when it restarts (a new process starts with full buckets).
"""

import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from incidents.alerts.inbox import inbox_backlog
from incidents.models import InboxEvent, InboxState, Integration

# How long a sender is asked to wait while the server guard is on.
GUARD_RETRY_AFTER = 30


@dataclass(frozen=True)
class Refusal:
    """Why a request is refused: the message names the limit; Retry-After in seconds (>= 1)."""

    message: str
    retry_after: int


def has_limit(integration: Integration) -> bool:
    """A limit applies only when both the rate and the burst are above 0 (0 = no limit)."""
    return integration.rate_limit_per_second > 0 and integration.rate_limit_burst > 0


def describe_limit(integration: Integration) -> str:
    if not has_limit(integration):
        return "no limit"
    return (
        f"{integration.rate_limit_per_second} requests a second "
        f"(bursts of up to {integration.rate_limit_burst})"
    )


# --- the per-integration token bucket -------------------------------------------------------
class _Bucket:
    def __init__(self, rate: int, burst: int, now: float, wall: datetime):
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.stamp = now  # monotonic time of the last refill
        self.synced_at = wall  # inbox rows received after this are not counted yet
        self.synced_mono = now
        self.mine = 0  # requests this process admitted since synced_at
        self.syncing = False

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_seconds(self) -> int:
        return max(1, math.ceil((1 - self.tokens) / self.rate))


_buckets: dict[int, _Bucket] = {}
_lock = threading.Lock()


def _refresh_seconds() -> float:
    return settings.TOCSIN_INGEST_LIMIT_REFRESH_SECONDS


def rate_admit(integration: Integration) -> Refusal | None:
    """Take one token from the integration's bucket; a Refusal when it is empty (nothing is
    counted for a refused request)."""
    if not has_limit(integration):
        return None
    rate, burst = integration.rate_limit_per_second, integration.rate_limit_burst
    now = time.monotonic()
    with _lock:
        bucket = _buckets.get(integration.pk)
        if bucket is None:
            bucket = _buckets[integration.pk] = _Bucket(rate, burst, now, timezone.now())
        elif (bucket.rate, bucket.burst) != (rate, burst):
            # The limit was changed (seen once the authentication cache reloads the row).
            bucket.rate, bucket.burst = rate, burst
            bucket.tokens = min(bucket.tokens, burst)
        sync = not bucket.syncing and now - bucket.synced_mono >= _refresh_seconds()
        if sync:
            bucket.syncing = True
            since, until, mine = bucket.synced_at, timezone.now(), bucket.mine
            bucket.synced_at, bucket.synced_mono, bucket.mine = until, now, 0
    if sync:
        _sync(integration.pk, bucket, since, until, mine)
    with _lock:
        bucket.refill(time.monotonic())
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.mine += 1
            return None
        wait = bucket.wait_seconds()
    return Refusal(
        f"Over this integration's limit of {describe_limit(integration)}; "
        f"retry in {wait} s. Nothing was stored.",
        wait,
    )


def _sync(integration_id: int, bucket: _Bucket, since: datetime, until: datetime, mine: int):
    """Take the requests other processes admitted (inbox rows this one did not write) out of
    this process's bucket."""
    try:
        seen = InboxEvent.objects.filter(
            integration_id=integration_id, received_at__gt=since, received_at__lte=until
        ).count()
    finally:
        with _lock:
            bucket.syncing = False
    others = max(0, seen - mine)
    if others:
        with _lock:
            bucket.refill(time.monotonic())
            bucket.tokens = max(0.0, bucket.tokens - others)


def requests_last_minute(integration: Integration) -> int:
    """How many requests of the integration were accepted in the last 60 s (from the inbox)."""
    since = timezone.now() - timezone.timedelta(seconds=60)
    return InboxEvent.objects.filter(integration=integration, received_at__gte=since).count()


# --- the server guard -----------------------------------------------------------------------
@dataclass(frozen=True)
class GuardState:
    on: bool
    depth: int
    age_seconds: float

    def describe(self) -> str:
        return (
            f"{self.depth} pending inbox rows, the oldest waiting for a worker "
            f"{self.age_seconds:.0f} s (the guard turns on past "
            f"{settings.TOCSIN_INGEST_GUARD_SECONDS:g} s or "
            f"{settings.TOCSIN_INGEST_GUARD_DEPTH} rows)"
        )


def guard_state() -> GuardState:
    """Read the inbox now: is it genuinely backed up?

    The age that counts is that of the oldest pending row not yet tried: a row that failed and
    waits for its retry (a broken hook) is no sign of a backlog, and must not make the server
    refuse every sender until it is fixed.
    """
    backlog = inbox_backlog()
    depth_over = backlog.depth > settings.TOCSIN_INGEST_GUARD_DEPTH
    age = backlog.age_seconds
    if age > settings.TOCSIN_INGEST_GUARD_SECONDS:
        # Only when the cheap reading says "old": look past the rows waiting for a retry.
        oldest = InboxEvent.objects.filter(state=InboxState.PENDING, attempts=0).aggregate(
            oldest=Min("received_at")
        )["oldest"]
        age = 0.0 if oldest is None else max(0.0, (timezone.now() - oldest).total_seconds())
    age_over = age > settings.TOCSIN_INGEST_GUARD_SECONDS
    return GuardState(on=depth_over or age_over, depth=backlog.depth, age_seconds=age)


_guard: tuple[float, GuardState] | None = None


def guard_admit() -> Refusal | None:
    """A Refusal while the server guard is on (the inbox read at most once a refresh interval
    per process)."""
    global _guard
    now = time.monotonic()
    cached = _guard
    if cached is None or now - cached[0] >= _refresh_seconds():
        # Set before reading, so concurrent threads keep the old answer instead of piling on.
        if cached is not None:
            _guard = (now, cached[1])
        state = guard_state()
        _guard = (time.monotonic(), state)
    else:
        state = cached[1]
    if not state.on:
        return None
    return Refusal(
        f"Tocsin is behind on applying alerts ({state.describe()}); retry in "
        f"{GUARD_RETRY_AFTER} s. Nothing was stored.",
        GUARD_RETRY_AFTER,
    )


def ingest_admit(integration: Integration) -> Refusal | None:
    """The server guard first, then the integration's limit (a request the guard refuses
    takes no token)."""
    return guard_admit() or rate_admit(integration)


def reset() -> None:
    """Forget every bucket and the guard's last reading (tests; a fresh process)."""
    global _guard
    with _lock:
        _buckets.clear()
    _guard = None
