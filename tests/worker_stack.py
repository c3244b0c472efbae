"""Real Celery processes for end-to-end tests, on whatever this test run uses.

PostgreSQL or the SQLite test file (a file, see conftest), Redis or this pytest process's own
filesystem broker folder: the subprocesses are pointed at exactly the database and broker the
test process writes to and publishes on, so a task the test queues is one they consume.
"""

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
CELERY = str(Path(sys.executable).with_name("celery"))


# Tasks published by this pytest process go to its own broker folder (filesystem broker), never
# to the one `make run` uses, and never to another pytest process's real worker.
TEST_BROKER_DIR = Path(tempfile.mkdtemp(prefix="tocsin-test-broker-"))


def _own_redis_database(url: str, worker: str) -> str:
    """The Redis URL of pytest-xdist process `gwN`: the configured database for gw0, the N-th
    one below it (wrapping at 0 to 15) for the others, so no process consumes another's tasks."""
    parts = urlsplit(url)
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(base - index) % 16}"))


def use_test_broker() -> None:
    """Give this pytest process a broker of its own (before anything is published): its own
    Redis database, or its own folder TEST_BROKER_DIR for the filesystem broker."""
    from config.celery import app, ensure_broker_dirs

    if uses_redis():
        url = _own_redis_database(
            settings.CELERY_BROKER_URL, os.environ.get("PYTEST_XDIST_WORKER", "")
        )
        settings.CELERY_BROKER_URL = app.conf.broker_url = url
        return
    if not settings.CELERY_BROKER_URL.startswith("filesystem://"):
        return

    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "data_folder_in": str(TEST_BROKER_DIR / "queue"),
        "data_folder_out": str(TEST_BROKER_DIR / "queue"),
        "control_folder": str(TEST_BROKER_DIR / "control"),
    }
    ensure_broker_dirs()


def database_url() -> str:
    """The test database (not the configured one) as a DATABASE_URL for a subprocess."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = db["NAME"]
        if "mode=memory" in str(name) or str(name) == ":memory:":
            pytest.fail("Real-worker tests need a file test database (see tests/conftest.py).")
        return f"sqlite:///{Path(name).resolve()}"
    auth = quote(db["USER"], safe="")
    if db.get("PASSWORD"):
        auth += f":{quote(db['PASSWORD'], safe='')}"
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def uses_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://"))


def flush_broker() -> None:
    """Drop every queued message (the Redis database, or the broker folder's files)."""
    if uses_redis():
        import redis

        redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
        return
    for folder in ("queue", "control"):
        shutil.rmtree(TEST_BROKER_DIR / folder, ignore_errors=True)
        (TEST_BROKER_DIR / folder).mkdir(parents=True)


def worker_env(**extra: str) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "TOCSIN_BROKER_DIR": str(TEST_BROKER_DIR),
        "SECRET_KEY": settings.SECRET_KEY,
        "CONN_MAX_AGE": "0",
        "DEBUG": "False",
        "EMAIL_URL": "consolemail://",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def _die_with_parent() -> None:
    """Linux: the subprocess gets SIGKILL when the process that started it dies, even by
    SIGKILL or a timeout, so no worker outlives its test run."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [CELERY, "-A", "config", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )


def kill(process: subprocess.Popen | None) -> None:
    if process and process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


# However short a caller's deadline, a condition gets at least this long: a loaded CI machine
# (two pytest processes, browsers, worker subprocesses on two cores) can stall a worker for tens
# of seconds. A deadline only bounds a failure's wait; how fast things happen is bench/'s question.
MIN_DEADLINE = 60.0


def wait_for(condition, seconds: float, message) -> float:
    """Poll `condition` until it holds; the wall-clock time it did. `message` may be callable."""
    seconds = max(seconds, MIN_DEADLINE)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(0.1)
    pytest.fail(f"Timed out after {seconds}s: {message() if callable(message) else message}")


def succeeded(log: Path, task: str, event: str = " succeeded in ") -> int:
    """How many runs of `task` the worker log reports as finished (or as another `event`)."""
    text = log.read_text() if log.exists() else ""
    return sum(1 for line in text.splitlines() if f"{task}[" in line and event in line)


# Lines every sweep writes once a second: a failure report keeps the rest of the story.
_SWEEP_NOISE = ("Scheduler: Sending due task", "_sweep[")


def process_logs(folder: Path, *, keep: int = 6000) -> str:
    """The worker and beat logs of a test, for its failure message: each log's last `keep`
    characters once the once-a-second sweep lines are left out, then who holds what in the
    database (a transaction left open in some process is what makes rows look locked)."""
    parts = []
    for path in sorted(folder.glob("*.log")):
        lines = [
            line
            for line in path.read_text().splitlines()
            if not any(n in line for n in _SWEEP_NOISE)
        ]
        parts.append(f"--- {path.name}\n" + "\n".join(lines)[-keep:])
    return "\n".join([*parts, database_sessions()])


def database_sessions() -> str:
    """On PostgreSQL, the other sessions of the test database: state, how long their
    transaction has been open, what they wait for and their last query."""
    if connection.vendor != "postgresql":
        return ""
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pid, state, now() - xact_start, wait_event_type, wait_event, left(query, 300)"
                " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND state IS NOT NULL AND state <> 'idle'"
            )
            rows = cursor.fetchall()
    except Exception as error:  # a report must not hide the failure it reports
        return f"--- database sessions: could not read them ({error})"
    return "--- database sessions (not idle)\n" + "\n".join(
        " | ".join(map(str, row)) for row in rows
    )
