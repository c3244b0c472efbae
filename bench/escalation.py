"""Escalation timer benchmark: 5,000 incidents whose next step falls due within a minute, fired by
two real Celery workers (and beat) on Redis and PostgreSQL. Prints the lateness of each step
(fired at - due at: p50, p99, max) and the duplicates (steps fired more than once; must be 0).

    DATABASE_URL=postgres://… REDIS_URL=redis://…/N .venv/bin/python bench/escalation.py \
        [--incidents 5000] [--window 60] [--mode eta|sweep]

`--mode eta` (default) publishes an ETA task per step, as opening an incident does; `--mode sweep`
publishes none, as after a flushed Redis: only the beat sweep fires the steps. The Redis
database is flushed at the start and the bench's own rows are removed first, so point it at a
database you can spare. Setup writes rows in bulk (the bench measures firing, not opening).
"""

import argparse
import contextlib
import ctypes
import os
import random
import signal
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "True")
os.environ["TOCSIN_TIMER_SWEEP_SECONDS"] = os.environ.get("TOCSIN_TIMER_SWEEP_SECONDS", "1")

import django  # noqa: E402

django.setup()

from django.db import transaction  # noqa: E402
from django.db.models import Count  # noqa: E402
from django.utils import timezone  # noqa: E402

from incidents.core.choices import IncidentStatus  # noqa: E402
from incidents.models import (  # noqa: E402
    Incident,
    IncidentCounter,
    IncidentEscalation,
    Schedule,
    Severity,
    TimelineEvent,
)
from incidents.paging import deadlines as timers  # noqa: E402
from incidents.paging import engine as escalation  # noqa: E402
from incidents.paging.delivery import contact_method_create  # noqa: E402
from incidents.paging.policies import StepInput, escalation_policy_create  # noqa: E402

PREFIX = "[bench-escalation]"
CELERY = str(Path(sys.executable).with_name("celery"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def clean() -> None:
    from django.contrib.auth import get_user_model

    Incident.objects.filter(title__startswith=PREFIX).delete()
    from incidents.models import EscalationPolicy

    EscalationPolicy.objects.filter(name=PREFIX).delete()
    Schedule.objects.filter(name=PREFIX).delete()
    get_user_model().objects.filter(username="bench-oncall").delete()


def setup_policy():
    from django.contrib.auth import get_user_model

    from incidents.oncall.schedules import RotationInput, schedule_create

    user = get_user_model().objects.create(username="bench-oncall", email="oncall@example.com")
    contact_method_create(user=user, kind="email", address="bench-oncall@example.com")
    schedule = schedule_create(
        name=PREFIX,
        time_zone="UTC",
        rotations=[
            RotationInput(
                name="Layer 1",
                participants=[user],
                handoff_time=timezone.now().time().replace(microsecond=0),
                start_date=(timezone.now() - timedelta(days=30)).date(),
            )
        ],
    )
    return escalation_policy_create(
        name=PREFIX,
        steps=[
            StepInput(delay=timedelta(0), targets=[schedule]),
            StepInput(delay=timedelta(hours=1), targets=[user]),
        ],
    )


@transaction.atomic
def create_incidents(policy, count: int, start: float, window: float) -> dict[int, object]:
    """Bulk rows: `count` triggered incidents, each with its first step due in the window."""
    severity = Severity.objects.get(key="P1")
    counter, _ = IncidentCounter.objects.select_for_update().get_or_create(name="incident")
    now = timezone.now()
    incidents = Incident.objects.bulk_create(
        Incident(
            number=counter.value + n + 1,
            title=f"{PREFIX} {n}",
            severity=severity,
            status=IncidentStatus.TRIGGERED,
            started_at=now,
            detected_at=now,
        )
        for n in range(count)
    )
    counter.value += count
    counter.save(update_fields=["value"])
    snapshot = escalation.policy_snapshot(policy)
    rows = IncidentEscalation.objects.bulk_create(
        IncidentEscalation(
            incident=incident,
            policy=policy,
            policy_name=policy.name,
            snapshot=snapshot,
            next_at=now + timedelta(seconds=start + random.uniform(0, window)),
            started_at=now,
        )
        for incident in incidents
    )
    return {row.pk: row.next_at for row in rows}


def _die_with_parent() -> None:
    """Linux: the subprocess gets SIGKILL when the process that started it dies, even by
    SIGKILL or a timeout, so no worker outlives its test run."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "EMAIL_URL": "dummymail://", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [CELERY, "-A", "config", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=5000)
    parser.add_argument(
        "--window", type=float, default=60.0, help="seconds over which steps fall due"
    )
    parser.add_argument("--lead", type=float, default=15.0, help="seconds before the first is due")
    parser.add_argument("--mode", choices=["eta", "sweep"], default="eta")
    parser.add_argument("--concurrency", type=int, default=2, help="processes/threads per worker")
    parser.add_argument("--pool", choices=["prefork", "threads"], default="prefork")
    parser.add_argument("--logs", default="/tmp/bench-escalation")
    options = parser.parse_args()

    import redis

    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()
    logs = Path(options.logs)
    logs.mkdir(parents=True, exist_ok=True)
    clean()
    policy = setup_policy()

    processes = [
        spawn(["beat", "-l", "warning", "-s", str(logs / "beat-schedule")], logs / "beat.log")
    ]
    for n in (1, 2):
        processes.append(
            spawn(
                [
                    "worker",
                    "-Q",
                    "default,paging",
                    "-P",
                    options.pool,
                    "-c",
                    str(options.concurrency),
                    "-l",
                    "info",
                    "--without-gossip",
                    "--without-mingle",
                    "-n",
                    f"bench{n}@%h",
                ],
                logs / f"worker{n}.log",
            )
        )
    try:
        ready_by = time.monotonic() + 60
        while time.monotonic() < ready_by and not all(
            " ready." in (logs / f"worker{n}.log").read_text() for n in (1, 2)
        ):
            if any(p.poll() is not None for p in processes):
                break
            time.sleep(0.2)
        if any(p.poll() is not None for p in processes) or time.monotonic() >= ready_by:
            raise SystemExit(f"A worker or beat did not start; see the logs in {logs}.")
        began = time.monotonic()
        due = create_incidents(policy, options.incidents, options.lead, options.window)
        created = time.monotonic() - began
        if options.mode == "eta":
            for pk, at in due.items():
                timers.publish(escalation.FIRE_TASK, [pk, 0], at)
            timers._background().shutdown(wait=True)
        published = time.monotonic() - began
        print(
            f"{len(due)} incidents created in {created:.1f}s, "
            f"{'ETA tasks published' if options.mode == 'eta' else 'no ETA tasks'} at {published:.1f}s; "
            f"steps due {options.lead:.0f}-{options.lead + options.window:.0f}s after start"
        )
        deadline = time.monotonic() + options.lead + options.window + 120
        ids = list(due)
        while time.monotonic() < deadline:
            pending = IncidentEscalation.objects.filter(
                pk__in=ids, last_fired_at__isnull=True
            ).count()
            if not pending:
                break
            time.sleep(1)
        time.sleep(3)  # let any duplicate show itself
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)

    rows = IncidentEscalation.objects.filter(pk__in=due).values_list("pk", "last_fired_at")
    lateness = [(fired - due[pk]).total_seconds() for pk, fired in rows if fired is not None]
    unfired = sum(1 for _, fired in rows if fired is None)
    fired_per_incident = (
        TimelineEvent.objects.filter(
            incident__title__startswith=PREFIX, kind="escalation", message__startswith="Step 1 of 2"
        )
        .values("incident")
        .annotate(n=Count("id"))
    )
    duplicates = sum(row["n"] - 1 for row in fired_per_incident if row["n"] > 1)
    load = os.getloadavg()[0]
    print(
        f"mode={options.mode} workers=2x{options.concurrency} {options.pool} "
        f"cpus={os.cpu_count()} load average at the end={load:.1f}"
    )
    print(f"steps fired: {len(lateness)} / {len(due)} (never fired: {unfired})")
    if lateness:
        print(
            f"lateness (s): p50 {percentile(lateness, 0.50):.3f}  p99 {percentile(lateness, 0.99):.3f}  max {max(lateness):.3f}  mean {statistics.fmean(lateness):.3f}"
        )
    print(f"duplicates: {duplicates}")
    clean()


if __name__ == "__main__":
    main()
