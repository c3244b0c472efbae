#!/usr/bin/env python3
"""Time the ingest worker's side: applying inbox rows (no HTTP, no accepting cost measured).

Needs a migrated database (DATABASE_URL) and Redis (REDIS_URL; timers are published after
each commit). Sets up a service whose escalation policy has one step paging one user, then:

- distinct: N single-alert rows, each alert in its own group (each opens an incident);
- repeats:  the same N alerts again (each row a repeat of a firing alert);
- same:     N copies of one notification (one alert, its count climbing);
- group:    one row holding a G-alert notification of one group (one incident, G alerts).

    DATABASE_URL=... REDIS_URL=... python bench/apply_batch.py -n 2000 -g 5000 [--rows 2000]
    # The same against other code (an older checkout): its copy of this script, its code
    # imported first (run as a script, the venv's editable install wins; the line prints
    # which checkout ran):
    python -c "import sys; sys.path.insert(0, '/tmp/old'); sys.argv = ['b', '-n', '200'];
      import incidents, runpy; runpy.run_path('/tmp/old/bench/apply_batch.py', run_name='__main__')"

--rows sets TOCSIN_INBOX_BATCH_ROWS (rows per batch; the default is the setting's, 200) and
--events TOCSIN_INBOX_BATCH_EVENTS.
"""

import argparse
import json
import os
import sys
import time
import uuid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000, help="distinct alerts (rows)")
    parser.add_argument("-g", type=int, default=5000, help="alerts in the one-group notification")
    parser.add_argument("--rows", type=int, help="rows per batch")
    parser.add_argument("--events", type=int, help="events per batch")
    parser.add_argument("--root", help="the Tocsin checkout to import (default: this one's)")
    args = parser.parse_args()
    root = args.root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [root, os.path.dirname(os.path.abspath(__file__))]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    settings.TOCSIN_INGEST_APPLY = "worker"
    if args.rows:
        settings.TOCSIN_INBOX_BATCH_ROWS = args.rows
    if args.events:
        settings.TOCSIN_INBOX_BATCH_EVENTS = args.events
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from ingest import notification

    from incidents.alerts.inbox import inbox_accept, inbox_drain
    from incidents.alerts.parsers import alertmanager
    from incidents.models import (
        EscalationPolicy,
        EscalationStep,
        EscalationTarget,
        Incident,
        Integration,
        Service,
        TargetType,
    )
    from incidents.models.alert import generate_token

    run = uuid.uuid4().hex[:8]
    user, _ = get_user_model().objects.get_or_create(username="bench-oncall")
    policy = EscalationPolicy.objects.create(name=f"bench-{run}")
    step = EscalationStep.objects.create(policy=policy, order=0)
    EscalationTarget.objects.create(step=step, type=TargetType.USER, user=user)
    service = Service.objects.create(slug=f"bench-{run}", name=f"Bench {run}")
    service.escalation_policy = policy
    service.save(update_fields=["escalation_policy"])
    integration = Integration(
        name=f"bench-{run}", kind="alertmanager", service=service, rate_limit_per_second=0
    )
    integration.set_token(generate_token("alertmanager"))
    integration.save()

    def accept(payloads: list[bytes]) -> None:
        for payload in payloads:
            inbox_accept(integration=integration, events=alertmanager.parse(json.loads(payload)))

    def drain(what: str, count: int, unit: str) -> None:
        incidents = Incident.objects.count()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            rows = inbox_drain()
            took = time.perf_counter() - started
        opened = Incident.objects.count() - incidents
        print(
            f"{what}: {rows} rows, {count} {unit} in {took * 1000:.0f} ms "
            f"({took * 1000 / count:.3f} ms each, {count / took:,.0f}/s); "
            f"{opened} incidents opened; {len(queries)} queries"
        )

    import incidents

    print(f"code: {os.path.dirname(os.path.dirname(incidents.__file__))}")
    n = args.n
    accept([notification(run, i, 0) for i in range(n)])
    drain("distinct", n, "new incidents")
    accept([notification(run, i, 0) for i in range(n)])
    drain("repeats", n, "repeats")
    same = notification(run + "-same", 0, 0)
    accept([same] * n)
    drain("same", n, "repeats of one alert")
    body = json.loads(notification(run + "-group", 0, 1))
    alert = body["alerts"][0]
    body["alerts"] = [
        {
            **alert,
            "labels": {**alert["labels"], "instance": f"host-{i}:9100"},
            "fingerprint": f"{i:016x}",
        }
        for i in range(args.g)
    ]
    accept([json.dumps(body).encode()])
    drain("group", args.g, "alerts of one group")


if __name__ == "__main__":
    main()
