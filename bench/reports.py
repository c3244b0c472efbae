#!/usr/bin/env python3
"""Time the incident reports (postmortems/reports.py) over 100,000 incidents on PostgreSQL.

Uses its own database (created if missing, migrated, filled once; `--refill` starts over):

    .venv/bin/python bench/reports.py
    .venv/bin/python bench/reports.py --db postgres://postgres@127.0.0.1:5432/tocsin_bench_reports -n 100000

The incidents spread over two years, 20 services and the four severities; 30% have a
post-mortem with a root-cause category (so "repeat incidents" has work to do). Prints the best
and median time of each report over several runs, and the dashboard selector's.
"""

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/tocsin_bench_reports"


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
            print(f"created database {name}")


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-0123456789abcdefghijklmnop")
    os.environ.setdefault("DEBUG", "False")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def fill(n: int, seed: int = 7) -> None:
    from django.db import transaction

    from incidents.models import Incident, IncidentCounter, Service, Severity
    from postmortems.models import Postmortem, RootCauseCategory

    rng = random.Random(seed)
    severities = list(Severity.objects.order_by("rank"))
    categories = list(RootCauseCategory.objects.all())
    services = [
        Service.objects.get_or_create(slug=f"bench-{i}", defaults={"name": f"Bench {i}"})[0]
        for i in range(20)
    ]
    end = datetime.now(UTC)
    span = timedelta(days=730).total_seconds()
    started = time.perf_counter()
    with transaction.atomic():
        Postmortem.objects.all().delete()
        Incident.objects.all().delete()
        rows = []
        for i in range(n):
            detected = end - timedelta(seconds=rng.random() * span)
            severity = severities[min(int(rng.expovariate(1.0)), 3)]
            acknowledged = detected + timedelta(seconds=rng.randint(30, 7200))
            resolved = (
                acknowledged + timedelta(seconds=rng.randint(300, 86400))
                if rng.random() < 0.98
                else None
            )
            rows.append(
                Incident(
                    number=i + 1,
                    title=f"Bench incident {i}",
                    severity=severity,
                    status="resolved" if resolved else "investigating",
                    started_at=detected - timedelta(seconds=rng.randint(0, 900)),
                    detected_at=detected,
                    acknowledged_at=acknowledged,
                    mitigated_at=resolved,
                    resolved_at=resolved,
                )
            )
        incidents = Incident.objects.bulk_create(rows, batch_size=5000)
        Through = Incident.services.through
        Through.objects.bulk_create(
            [Through(incident_id=inc.pk, service_id=rng.choice(services).pk) for inc in incidents],
            batch_size=10000,
        )
        Postmortem.objects.bulk_create(
            [
                Postmortem(
                    incident_id=inc.pk,
                    required=True,
                    root_cause_category=rng.choice(categories),
                    status="draft",
                )
                for inc in incidents
                if rng.random() < 0.3
            ],
            batch_size=5000,
        )
        IncidentCounter.objects.update_or_create(name="incident", defaults={"value": n})
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"filled {n:,} incidents in {time.perf_counter() - started:.1f} s")


def timed(label: str, fn, runs: int) -> None:
    fn()  # warm caches, as a page load after the first would be
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    print(f"{label:<44} best {min(times):.3f} s   median {statistics.median(times):.3f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=os.environ.get("BENCH_REPORTS_DATABASE_URL", DEFAULT_DB))
    parser.add_argument("-n", type=int, default=100_000, help="incidents")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--refill", action="store_true", help="delete and recreate the rows")
    args = parser.parse_args()

    ensure_database(args.db)
    setup_django(args.db)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from incidents.models import Incident

    if args.refill or Incident.objects.count() != args.n:
        fill(args.n)

    from postmortems import reports
    from postmortems.dashboard import operations_dashboard

    now = datetime.now(UTC)
    year = {"since": now - timedelta(days=365), "until": now}
    print(f"{Incident.objects.count():,} incidents; reports over all of them unless noted")
    timed("by_severity (all time)", lambda: reports.by_severity(), args.runs)
    timed("by_severity (last 365 days, the API)", lambda: reports.by_severity(**year), args.runs)
    timed("by_month_and_severity (all time)", lambda: reports.by_month_and_severity(), args.runs)
    timed("by_month (all time)", lambda: reports.by_month(), args.runs)
    timed("operations_dashboard (6 months)", lambda: operations_dashboard(), args.runs)


if __name__ == "__main__":
    main()
