"""Acknowledge latency: from the request to the escalation stopped, by page link and by Slack.

Opens `--incidents` paging incidents (step 1 pages one person at once, step 2 an hour later),
fires step 1 in this process so each person's page row carries its signed links, starts its
own gunicorn on the same PostgreSQL database, then acknowledges half of the incidents by
POSTing the page's acknowledge link and the other half by a signed Slack slash command
(`/tocsin ack INC-n`), `--concurrency` clients at a time. Each latency is the whole HTTP round
trip; the acknowledgement and the escalation's stop commit before the answer, and the bench
checks every escalation is stopped (state acknowledged, no step pending) once the answer is in.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tocsin_bench_ack \\
        .venv/bin/python bench/acknowledge.py [--incidents 400] [--concurrency 4] [--port 8031]

Point it at a database you can spare: it migrates it and removes its own rows first.
"""

import argparse
import contextlib
import hashlib
import hmac
import http.client
import os
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--incidents", type=int, default=400)
parser.add_argument("--concurrency", type=int, default=4)
parser.add_argument("--port", type=int, default=8031)
parser.add_argument("--workers", type=int, default=4, help="gunicorn workers")
ARGS = parser.parse_args()

SECRET = "bench-slack-signing-secret"
SERVER_ENV = {
    "DEBUG": "False",
    "SECRET_KEY": "bench-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "127.0.0.1",
    "SECURE_SSL_REDIRECT": "False",
    "TOCSIN_BASE_URL": f"http://127.0.0.1:{ARGS.port}",
    "SLACK_SIGNING_SECRET": SECRET,
    "EMAIL_URL": "dummymail://",
}
if "DATABASE_URL" not in os.environ or not os.environ["DATABASE_URL"].startswith("postgres"):
    sys.exit("Set DATABASE_URL to a PostgreSQL database you can spare.")
os.environ.update(SERVER_ENV)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from incidents.core.lifecycle import incident_create  # noqa: E402
from incidents.models import (  # noqa: E402
    ChatIdentity,
    EscalationPolicy,
    Incident,
    IncidentEscalation,
    Notification,
    Severity,
)
from incidents.paging import steps  # noqa: E402
from incidents.paging.delivery import contact_method_create  # noqa: E402
from incidents.paging.policies import StepInput, escalation_policy_create  # noqa: E402

PREFIX = "[bench-ack]"
SLACK_USER = "UBENCHACK1"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def setup() -> list[tuple[Incident, str]]:
    call_command("migrate", verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)  # as a deployment does
    Incident.objects.filter(title__startswith=PREFIX).delete()
    EscalationPolicy.objects.filter(name=PREFIX).delete()
    get_user_model().objects.filter(username="bench-ack").delete()
    person = get_user_model().objects.create(
        username="bench-ack", first_name="Bench", email="bench-ack@example.com"
    )
    person.groups.add(Group.objects.get(name="Responder"))
    contact_method_create(user=person, kind="email", address="bench-ack@example.com")
    ChatIdentity.objects.create(user=person, provider="slack", external_id=SLACK_USER)
    EscalationPolicy.objects.filter(is_default=True).update(is_default=False)
    escalation_policy_create(
        name=PREFIX,
        default=True,
        steps=[
            StepInput(delay=timedelta(0), targets=[person]),
            StepInput(delay=timedelta(hours=1), targets=[person]),
        ],
    )
    severity = Severity.objects.filter(pages=True).order_by("rank").first()
    opened = [
        incident_create(title=f"{PREFIX} {n}", severity=severity) for n in range(ARGS.incidents)
    ]
    while steps.escalation_fire_due(limit=500, now=timezone.now()):
        pass
    links = dict(
        Notification.objects.filter(incident__in=opened, user=person).values_list(
            "incident_id", "links__acknowledge"
        )
    )
    missing = [i.reference for i in opened if not links.get(i.pk)]
    if missing:
        sys.exit(f"No acknowledge link on the pages of {missing[:5]}…")
    return [(incident, links[incident.pk]) for incident in opened]


def serve() -> subprocess.Popen:
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    server = subprocess.Popen(
        [gunicorn, "config.wsgi", "-w", str(ARGS.workers), "-b", f"127.0.0.1:{ARGS.port}"],
        cwd=ROOT,
        env={**os.environ, **SERVER_ENV},
        stdout=subprocess.DEVNULL,
        stderr=open(ROOT / "var" / "bench-acknowledge-server.log", "w"),  # noqa: SIM115
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", ARGS.port, timeout=2)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return server
        time.sleep(0.2)
    server.kill()
    sys.exit("gunicorn did not answer /health within 60 s")


def by_link(connection, incident, url: str) -> int:
    path = urlsplit(url).path
    body = urlencode({"token": path.rstrip("/").rsplit("/", 1)[-1]})
    connection.request(
        "POST",
        path,
        body=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Sec-Fetch-Site": "none"},
    )
    response = connection.getresponse()
    response.read()
    return response.status


def by_slack(connection, incident, url: str) -> int:
    body = urlencode(
        {
            "command": "/tocsin",
            "text": f"ack {incident.reference}",
            "user_id": SLACK_USER,
            "team_id": "TBENCH",
            "channel_id": "CBENCH",
        }
    )
    stamp = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256)
    connection.request(
        "POST",
        "/chat/slack/commands",
        body=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": "v0=" + digest.hexdigest(),
        },
    )
    response = connection.getresponse()
    response.read()
    return response.status


def run(way, jobs: list) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    queue = list(jobs)

    def client():
        connection = http.client.HTTPConnection("127.0.0.1", ARGS.port, timeout=30)
        while True:
            with lock:
                if not queue:
                    return
                incident, url = queue.pop()
            started = time.perf_counter()
            try:
                status = way(connection, incident, url)
            except (OSError, http.client.HTTPException) as error:
                status = repr(error)
                connection = http.client.HTTPConnection("127.0.0.1", ARGS.port, timeout=30)
            took = time.perf_counter() - started
            with lock:
                if status == 200:
                    latencies.append(took)
                else:
                    errors.append(f"{incident.reference}: {status}")

    threads = [threading.Thread(target=client) for _ in range(ARGS.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def report(name: str, latencies: list[float], errors: list[str], incidents) -> None:
    stopped = IncidentEscalation.objects.filter(
        incident__in=[i for i, _ in incidents], state="acknowledged", next_at__isnull=True
    ).count()
    ms = [1000 * x for x in latencies] or [float("nan")]
    print(
        f"{name}: {len(ms)} acknowledged, {len(errors)} errors, {stopped}/{len(incidents)} "
        f"escalations stopped; latency ms p50 {statistics.median(ms):.1f}, "
        f"p95 {percentile(ms, 0.95):.1f}, p99 {percentile(ms, 0.99):.1f}, max {max(ms):.1f}"
    )
    for error in errors[:5]:
        print("  ", error)


def main() -> None:
    jobs = setup()
    half = len(jobs) // 2
    server = serve()
    try:
        # One request each way first, so neither way pays for the workers' first imports.
        report("warm-up link", *run(by_link, jobs[:1]), jobs[:1])
        report("warm-up slack", *run(by_slack, jobs[1:2]), jobs[1:2])
        link_jobs, slack_jobs = jobs[2 : half + 1], jobs[half + 1 :]
        print(
            f"{len(jobs)} incidents, gunicorn -w {ARGS.workers}, {ARGS.concurrency} clients, "
            f"PostgreSQL {os.environ['DATABASE_URL'].rsplit('/', 1)[-1]}"
        )
        report("page link (POST /act/<signed>)", *run(by_link, link_jobs), link_jobs)
        report("Slack (/tocsin ack INC-n)", *run(by_slack, slack_jobs), slack_jobs)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
