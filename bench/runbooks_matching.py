"""Runbook matching benchmark: how long `runbooks_for_incident` takes as the catalogue grows.

    DATABASE_URL=postgres://… .venv/bin/python bench/runbooks_matching.py [--runbooks 100 1000]

For each size, creates that many runbooks (3 services, 2 label rules, 1 regex, 2 keywords each)
and an incident with 5 alerts, times 50 calls (p50, p99) and counts the queries per call. Runs
inside a transaction that is rolled back, so the database is left as it was.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "True")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from incidents.core.lifecycle import incident_create  # noqa: E402
from incidents.models import Alert, Integration, Service, Severity  # noqa: E402
from runbooks.matching import runbooks_for_incident  # noqa: E402
from runbooks.models import MatchRule, Runbook  # noqa: E402


class Rollback(Exception):
    pass


def measure(size: int) -> None:
    now = timezone.now()
    services = [
        Service.objects.create(name=f"bench-svc-{size}-{n}", slug=f"bench-svc-{size}-{n}")
        for n in range(20)
    ]
    runbooks = Runbook.objects.bulk_create(
        Runbook(title=f"bench runbook {size} {n:05}", slug=f"bench-{size}-{n}") for n in range(size)
    )
    through = Runbook.services.through
    through.objects.bulk_create(
        through(runbook=rb, service=services[(i + k) % 20])
        for i, rb in enumerate(runbooks)
        for k in range(3)
    )
    rules = []
    for i, rb in enumerate(runbooks):
        rules += [
            MatchRule(
                runbook=rb, kind="label_equals", key="alertname", value=f"Alert{i}", weight=10
            ),
            MatchRule(runbook=rb, kind="label_equals", key="team", value=f"team{i % 7}", weight=10),
            MatchRule(
                runbook=rb, kind="label_matches", key="job", value=f"job-{i % 11}.*", weight=8
            ),
            MatchRule(runbook=rb, kind="title_keyword", value=f"word{i % 13}", weight=3),
            MatchRule(runbook=rb, kind="title_keyword", value="pool", weight=3),
        ]
    MatchRule.objects.bulk_create(rules)
    incident = incident_create(
        title="Connection pool exhausted word3",
        severity=Severity.objects.order_by("rank").first(),
        services=services[:2],
    )
    integration = Integration(name=f"bench-{size}", kind="generic")
    integration.set_token(f"bench-token-{size}")
    integration.save()
    Alert.objects.bulk_create(
        Alert(
            integration=integration,
            dedup_key=f"k{n}",
            summary="bench",
            labels={"alertname": f"Alert{n}", "team": "team3", "job": f"job-{n}-api"},
            first_seen_at=now,
            last_seen_at=now,
            incident=incident,
        )
        for n in range(5)
    )
    runbooks_for_incident(incident)  # warm the regex cache
    timings = []
    for _ in range(50):
        start = time.perf_counter()
        runbooks_for_incident(incident)
        timings.append((time.perf_counter() - start) * 1000)
    with CaptureQueriesContext(connection) as queries:
        best = runbooks_for_incident(incident)
    timings.sort()
    print(
        f"{size:>6} runbooks: p50 {statistics.median(timings):7.1f} ms, "
        f"p99 {timings[int(len(timings) * 0.99) - 1]:7.1f} ms, {len(queries)} queries, "
        f"best: {[r.title for r in best]}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runbooks", type=int, nargs="+", default=[100, 1000])
    args = parser.parse_args()
    for size in args.runbooks:
        try:
            with transaction.atomic():
                measure(size)
                raise Rollback
        except Rollback:
            pass


if __name__ == "__main__":
    main()
