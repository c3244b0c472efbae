"""Readiness and ingestion probes for load balancers, orchestrators and monitoring.

`/health/ready` answers 503 only when the database or the broker does not answer; it reports
the ingest inbox's backlog but is never unready for one (a backlog is work to do, and taking
the web process out of rotation would only refuse more alerts). `/health/ingest` is the probe
for that backlog: 503 once the oldest pending inbox row is older than
`TOCSIN_INGEST_BACKLOG_SECONDS`.
"""

from django.conf import settings
from django.db import DatabaseError
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from incidents.alerts.inbox import Backlog, inbox_backlog, inbox_backlogged
from incidents.core.health import check_broker, check_database


def _figures(backlog: Backlog) -> dict:
    return {"depth": backlog.depth, "oldest_age_seconds": round(backlog.age_seconds, 1)}


@never_cache
@require_GET
def ready(request):
    """200 when the database and the broker answer, with the inbox's backlog; 503 naming each
    that does not."""
    problems = {"database": check_database(), "broker": check_broker()}
    checks = {name: ("ok" if error is None else error) for name, error in problems.items()}
    down = sorted(name for name, error in problems.items() if error)
    inbox = _figures(inbox_backlog()) if problems["database"] is None else None
    if down:
        body = {"status": "unavailable", "down": down, "checks": checks, "inbox": inbox}
        return JsonResponse(body, status=503)
    return JsonResponse({"status": "ok", "checks": checks, "inbox": inbox})


@never_cache
@require_GET
def ingest(request):
    """200 while the inbox keeps up; 503 once its oldest pending row waited too long."""
    try:
        backlog = inbox_backlog()
    except DatabaseError as exc:
        detail = f"The database does not answer: {type(exc).__name__}: {exc}".strip()
        return JsonResponse({"status": "unavailable", "detail": detail}, status=503)
    figures = _figures(backlog)
    if not inbox_backlogged(backlog):
        return JsonResponse({"status": "ok", **figures})
    limit = settings.TOCSIN_INGEST_BACKLOG_SECONDS
    detail = (
        f"{backlog.depth} request{'s' if backlog.depth != 1 else ''} wait in the inbox; the oldest for "
        f"{figures['oldest_age_seconds']:g} s (limit TOCSIN_INGEST_BACKLOG_SECONDS = {limit:g} s). "
        "Are the ingest workers running (manage.py ingest_worker), and keeping up?"
    )
    return JsonResponse({"status": "backlogged", "detail": detail, **figures}, status=503)
