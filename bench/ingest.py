#!/usr/bin/env python3
"""Post Alertmanager notifications to Tocsin and print throughput and latency.

Either against a running Tocsin (--url and --token, and --api-token for the visibility
latency), or on a PostgreSQL database it sets up itself (--database): it migrates it, creates
an integration, a user and an API token, and starts gunicorn (--web-workers, 4) and
--ingest-workers N `manage.py ingest_worker` processes, which it stops at the end.

    python bench/ingest.py --database postgres://postgres@127.0.0.1:5432/tocsin_bench \
        --ingest-workers 2 -n 20000 --modes distinct,duplicates,groups --concurrency 8,16 --big
    python bench/ingest.py --url http://127.0.0.1:8012 --token TOKEN --api-token KEY -n 5000
    python bench/ingest.py --database ... --wrk --wrk-seconds 20      # wrk's own client
    python bench/ingest.py --database ... --alerta -n 2000            # Alerta side by side

Modes: `distinct` (each notification one new alert in a group of its own: each opens an
incident, the worst case), `duplicates` (the same notification N times: one alert, its count
climbing), `groups` (N new alerts spread over 10 groups: 10 incidents). For each mode and
concurrency it reports accepted/s, p50/p99 of the 202, p50/p99 from a POST to its incident
being listed by /api/v1/incidents/ (a poller thread reads the list while the load runs), and
errors. --big posts one notification of 5,000 alerts (time to its 202, time to all applied).
The client is the standard library's (threads on kept-alive connections); its own CPU time
is printed so a saturated client is not mistaken for a slow server.
"""

import argparse
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PATH = "/api/v1/integrations/alertmanager/"
GROUPS = 10


# --- payloads -------------------------------------------------------------------------------
def notification(run: str, index: int, group: str) -> bytes:
    body = {
        "version": "4",
        "groupKey": f'{{}}:{{alertname="BenchAlert", group="{run}-{group}"}}',
        "truncatedAlerts": 0,
        "status": "firing",
        "receiver": "tocsin",
        "groupLabels": {"alertname": "BenchAlert", "group": group},
        "commonLabels": {"alertname": "BenchAlert"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "BenchAlert",
                    "group": group,
                    "instance": f"host-{index}:9100",
                    "severity": "warning",
                },
                "annotations": {"summary": f"Bench {run} {group}"},
                "startsAt": "2026-11-23T01:54:28.414119936Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example:9090/graph",
                "fingerprint": f"{run}{index:08x}",
            }
        ],
    }
    return json.dumps(body).encode()


def bodies_for(mode: str, run: str, n: int) -> tuple[list[bytes], list[str]]:
    """The N bodies of a mode, and the incident title each one's incident will carry."""
    if mode == "duplicates":
        groups = ["g0"] * n
        same = notification(run, 0, "g0")
        return [same] * n, [f"Bench {run} g0"] * n
    groups = [f"g{i % GROUPS}" if mode == "groups" else f"g{i}" for i in range(n)]
    return (
        [notification(run, i, g) for i, g in enumerate(groups)],
        [f"Bench {run} {g}" for g in groups],
    )


def big_notification(run: str, count: int = 5000) -> bytes:
    """One group of `count` alerts, each as small as Alertmanager's schema allows, so 5,000 fit
    the 512 KiB body limit."""
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "Big", "instance": f"h{i}"},
            "fingerprint": f"{run}{i:08x}",
        }
        for i in range(count)
    ]
    body = {"version": "4", "groupKey": f'{{}}:{{big="{run}"}}', "status": "firing"}
    return json.dumps({**body, "alerts": alerts}, separators=(",", ":")).encode()


# --- the client -----------------------------------------------------------------------------
def post_all(url: str, path: str, headers: dict, bodies: list[bytes], concurrency: int):
    """POST each body from `concurrency` threads; (start time, latency, status) per body."""
    target = urlsplit(url)
    results: list = [None] * len(bodies)
    indexes = iter(range(len(bodies)))
    lock = threading.Lock()

    def sender() -> None:
        conn = None
        while True:
            with lock:
                index = next(indexes, None)
            if index is None:
                break
            started = time.time()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
                conn.request("POST", path, body=bodies[index], headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except OSError as exc:
                status = type(exc).__name__
                conn = None
            results[index] = (started, time.time() - started, status)

    threads = [threading.Thread(target=sender) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class IncidentPoller(threading.Thread):
    """Reads /api/v1/incidents/ (newest first) page by page until a known incident, over and
    over; the time each title was first listed."""

    def __init__(self, url: str, api_token: str, prefix: str):
        super().__init__(daemon=True)
        self.target = urlsplit(url)
        self.headers = {"Authorization": f"Token {api_token}"}
        self.prefix = prefix
        self.seen_refs: set[str] = set()
        self.first_seen: dict[str, float] = {}
        self.stop = threading.Event()
        self.errors = 0

    def run(self) -> None:
        conn = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=60)
        while not self.stop.is_set():
            page = 1
            while True:
                try:
                    conn.request("GET", f"/api/v1/incidents/?page={page}", headers=self.headers)
                    response = conn.getresponse()
                    data = json.loads(response.read() or b"{}")
                except (OSError, ValueError):
                    self.errors += 1
                    conn = http.client.HTTPConnection(
                        self.target.hostname, self.target.port, timeout=60
                    )
                    break
                now = time.time()
                fresh = False
                for incident in data.get("results", []):
                    if incident["reference"] in self.seen_refs:
                        continue
                    fresh = True
                    self.seen_refs.add(incident["reference"])
                    if incident["title"].startswith(self.prefix):
                        self.first_seen.setdefault(incident["title"], now)
                if not fresh or not data.get("next"):
                    break
                page += 1
            self.stop.wait(0.2)

    def wait_for(self, titles: set[str], seconds: float) -> bool:
        deadline = time.time() + seconds
        while time.time() < deadline:
            if titles <= self.first_seen.keys():
                return True
            time.sleep(0.2)
        return False


def quantile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_load(args, target, mode: str, concurrency: int) -> float:
    """One load; prints its figures and returns its accepted/s."""
    run = uuid.uuid4().hex[:8]
    bodies, titles = bodies_for(mode, run, args.n)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {target.token}"}
    poller = None
    if target.api_token:
        poller = IncidentPoller(target.url, target.api_token, f"Bench {run} ")
        poller.start()
    cpu = cpu_seconds()
    started = time.time()
    results = post_all(target.url, PATH, headers, bodies, concurrency)
    wall = time.time() - started
    cpu = cpu_seconds() - cpu
    statuses = Counter(status for _, _, status in results)
    ok = [latency for _, latency, status in results if status == 202]
    print(f"\n== {mode}, {args.n} notifications at concurrency {concurrency}")
    print(f"accepted/s       {len(ok) / wall:.0f}  ({len(ok)} in {wall:.2f} s)")
    print(f"202 p50 / p99    {quantile(ok, 50) * 1000:.1f} / {quantile(ok, 99) * 1000:.1f} ms")
    errors = {str(k): v for k, v in statuses.items() if k != 202}
    print(f"errors           {sum(errors.values())} {errors or ''}")
    print(f"client CPU       {cpu:.1f} s ({100 * cpu / wall:.0f}% of one core)")
    if poller is None:
        print("visible          (no --api-token: not measured)")
        return len(ok) / wall
    wanted = set(titles)
    complete = poller.wait_for(wanted, args.visible_timeout)
    poller.stop.set()
    # From each title's first POST to its incident being listed.
    first_post: dict[str, float] = {}
    for (posted, _, _), title in zip(results, titles, strict=True):
        first_post[title] = min(first_post.get(title, posted), posted)
    visible = [poller.first_seen[t] - first_post[t] for t in wanted if t in poller.first_seen]
    print(
        f"visible p50/p99  {quantile(visible, 50):.2f} / {quantile(visible, 99):.2f} s"
        f" ({len(visible)} of {len(wanted)} incidents"
        f"{'' if complete else f', gave up after {args.visible_timeout:.0f} s'})"
    )
    return len(ok) / wall


def run_big(args, target) -> None:
    run = uuid.uuid4().hex[:8]
    body = big_notification(run)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {target.token}"}
    started = time.time()
    [(_, latency, status)] = post_all(target.url, PATH, headers, [body], 1)
    print(f"\n== one notification of 5,000 alerts ({len(body)} bytes)")
    print(f"answer           {status} in {latency * 1000:.0f} ms")
    if status != 202:
        return
    # Applied: the incident of the group lists 5,000 alerts (its alert count in the API).
    if target.database is None:
        print("applied          (needs --database: counted in the database)")
        return
    deadline = time.time() + args.visible_timeout
    while time.time() < deadline:
        count = manage_count(target, run)
        if count >= 5000:
            print(f"applied          {time.time() - started:.1f} s after the POST")
            return
        time.sleep(0.25)
    print(f"applied          not within {args.visible_timeout:.0f} s ({count} alerts)")


def manage_count(target, run: str) -> int:
    """The alerts of run `run` in the database (psycopg: the project's own driver)."""
    import psycopg

    with psycopg.connect(target.database, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM incidents_alert WHERE dedup_key LIKE %s", [f"{run}%"]
        ).fetchone()
    return row[0]


# --- wrk ------------------------------------------------------------------------------------
def run_wrk(args, target, concurrency: int, mode: str) -> None:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is not installed (apt-get install -y wrk)")
    script = ROOT / "bench" / "ingest_wrk.lua"
    env = {**os.environ, "WRK_TOKEN": target.token, "WRK_MODE": mode, "WRK_PATH": PATH}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [
            wrk,
            "-t",
            str(min(concurrency, 4)),
            "-c",
            str(concurrency),
            "-d",
            f"{args.wrk_seconds}s",
            "--latency",
            "-s",
            str(script),
            target.url,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(f"\n== wrk, {mode}, concurrency {concurrency}, {args.wrk_seconds} s")
    print(out.stdout.strip() or out.stderr.strip())
    print(f"wrk CPU          {cpu:.1f} s ({100 * cpu / args.wrk_seconds:.0f}% of one core)")


# --- a Tocsin of our own --------------------------------------------------------------------
class Target:
    def __init__(self, url: str, token: str, api_token: str = "", database: str | None = None):
        self.url, self.token, self.api_token, self.database = url, token, api_token, database
        self.env = dict(os.environ)
        self.processes: list[subprocess.Popen] = []


def manage(env: dict, *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    if out.returncode:
        sys.exit(f"manage.py {' '.join(args)} failed:\n{out.stderr}")
    return out.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    target = urlsplit(url)
    deadline = time.time() + seconds
    while time.time() < deadline:
        if process.poll() is not None:
            sys.exit(f"{process.args[0]} exited ({process.returncode})")
        try:
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=2)
            conn.request("GET", target.path or "/")
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} did not answer within {seconds:.0f} s")


def start_tocsin(args, logs: Path) -> Target:
    env = {
        **os.environ,
        "DATABASE_URL": args.database,
        "TOCSIN_INGEST_APPLY": "worker",
        "DEBUG": "False",
        "SECURE_SSL_REDIRECT": "False",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-" + "x" * 50),
        "PYTHONUNBUFFERED": "1",
    }
    manage(env, "migrate", "--no-input")
    name = f"bench-{uuid.uuid4().hex[:6]}"
    token = manage(env, "create_integration", name, "--kind", "alertmanager", "--rate-limit", "0")
    code = (
        "from django.contrib.auth import get_user_model; U = get_user_model();"
        "U.objects.filter(username='bench').exists() or "
        "U.objects.create_superuser('bench', 'bench@localhost', None)"
    )
    manage(env, "shell", "-c", code)
    api_token = manage(env, "create_api_token", "bench")
    port = free_port()
    target = Target(f"http://127.0.0.1:{port}", token, api_token, args.database)
    target.env = env
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    web = [gunicorn, "config.wsgi:application", "-b", f"127.0.0.1:{port}"]
    web += ["--workers", str(args.web_workers), "--backlog", "2048", "--log-level", "warning"]
    target.processes.append(
        subprocess.Popen(
            web,
            cwd=ROOT,
            env=env,
            stdout=(logs / "gunicorn.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    )
    for i in range(args.ingest_workers):
        log = (logs / f"ingest{i}.log").open("w")
        target.processes.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "ingest_worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
    wait_http(f"{target.url}/health", target.processes[0])
    print(
        f"Tocsin on {target.url}: gunicorn ({args.web_workers} workers), "
        f"{args.ingest_workers} ingest workers, logs in {logs}"
    )
    return target


def stop_all(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    for process in processes:
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


# --- Alerta, side by side -------------------------------------------------------------------
ALERTA_VENV = Path("/tmp/tocsin-bench-alerta")


def alerta_body(run: str, index: int, mode: str) -> bytes:
    resource_name = "host-0" if mode == "duplicates" else f"host-{index}"
    group = f"g{index % GROUPS}" if mode == "groups" else resource_name
    return json.dumps(
        {
            "resource": f"{run}-{resource_name}",
            "event": "BenchAlert",
            "environment": "Production",
            "severity": "warning",
            "service": ["bench"],
            "group": group,
            "text": f"Bench {run} {group}",
        }
    ).encode()


def start_alerta(args, logs: Path) -> tuple[str, subprocess.Popen]:
    if not (ALERTA_VENV / "bin" / "alertad").exists():
        subprocess.run([sys.executable, "-m", "venv", str(ALERTA_VENV)], check=True)
        subprocess.run(
            [
                str(ALERTA_VENV / "bin" / "pip"),
                "install",
                "-q",
                "alerta-server",
                "psycopg2-binary",
                "gunicorn",
            ],
            check=True,
        )
    port = free_port()
    env = {**os.environ, "DATABASE_URL": args.alerta_database, "AUTH_REQUIRED": "False"}
    app = [str(ALERTA_VENV / "bin" / "gunicorn"), "alerta:create_app()", "-b", f"127.0.0.1:{port}"]
    app += ["--workers", str(args.web_workers), "--log-level", "warning"]
    process = subprocess.Popen(
        app,
        env=env,
        stdout=(logs / "alerta.log").open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_http(f"{url}/", process, 120)
    return url, process


def run_alerta(args, url: str, mode: str, concurrency: int, tocsin_rate: float | None) -> None:
    run = uuid.uuid4().hex[:8]
    bodies = [alerta_body(run, i, mode) for i in range(args.n)]
    headers = {"Content-Type": "application/json"}
    started = time.time()
    results = post_all(url, "/alert", headers, bodies, concurrency)
    wall = time.time() - started
    ok = [latency for _, latency, status in results if status in (200, 201, 202)]
    statuses = Counter(status for _, _, status in results)
    rate = len(ok) / wall
    print(f"\n== Alerta /alert, {mode}, {args.n} at concurrency {concurrency}")
    print(f"accepted/s       {rate:.0f}  ({len(ok)} in {wall:.2f} s) {dict(statuses)}")
    print(f"answer p50 / p99 {quantile(ok, 50) * 1000:.1f} / {quantile(ok, 99) * 1000:.1f} ms")
    if tocsin_rate:
        print(f"Tocsin / Alerta  {tocsin_rate / rate:.2f}x accepted/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="a running Tocsin's base URL (with --token)")
    where.add_argument("--database", help="a PostgreSQL DATABASE_URL to set up and serve")
    parser.add_argument("--token", help="with --url: an alertmanager integration's token")
    parser.add_argument("--api-token", default="", help="with --url: a REST API token")
    parser.add_argument("-n", type=int, default=2000, help="notifications per run")
    parser.add_argument("--modes", default="distinct,duplicates,groups")
    parser.add_argument("--concurrency", default="8,16", help="comma-separated")
    parser.add_argument("--web-workers", type=int, default=4)
    parser.add_argument("--ingest-workers", type=int, default=2)
    parser.add_argument("--big", action="store_true", help="also one 5,000-alert notification")
    parser.add_argument("--wrk", action="store_true", help="use wrk (bench/ingest_wrk.lua)")
    parser.add_argument("--wrk-seconds", type=int, default=15)
    parser.add_argument("--alerta", action="store_true", help="the same load on Alerta too")
    parser.add_argument("--alerta-database", default="postgres://postgres@127.0.0.1:5432/alerta")
    parser.add_argument("--visible-timeout", type=float, default=300)
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)
    if args.url and not args.token:
        parser.error("--url needs --token")

    logs = Path(tempfile.mkdtemp(prefix="tocsin-bench-"))
    processes: list[subprocess.Popen] = []
    try:
        if args.database:
            target = start_tocsin(args, logs)
            processes += target.processes
        else:
            target = Target(args.url.rstrip("/"), args.token, args.api_token)
        alerta_url = None
        if args.alerta:
            alerta_url, alerta = start_alerta(args, logs)
            processes.append(alerta)
        for mode in args.modes.split(","):
            for concurrency in map(int, args.concurrency.split(",")):
                if args.wrk:
                    run_wrk(args, target, concurrency, mode)
                    continue
                rate = run_load(args, target, mode, concurrency)
                if alerta_url:
                    run_alerta(args, alerta_url, mode, concurrency, rate)
        if args.big:
            run_big(args, target)
    finally:
        stop_all(processes)


if __name__ == "__main__":
    main()
