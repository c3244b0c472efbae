"""Real processes for the inbox tests: a gunicorn answering ingestion requests that only commit
inbox rows (TOCSIN_INGEST_APPLY=worker), `manage.py ingest_worker` subprocesses applying them,
and optionally a Celery worker delivering the pages, all on the test database and broker.
"""

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.gunicorn_server import GUNICORN, _server_env
from tests.worker_stack import ROOT, _die_with_parent, kill, process_logs, spawn, worker_env

MANAGE = [sys.executable, str(ROOT / "manage.py")]


class IngestStack:
    """gunicorn plus ingest workers (and a Celery worker when asked), each logging to `tmp`."""

    def __init__(self, tmp: Path, *, web_workers: int = 2, poll: float = 0.5):
        self.tmp = tmp
        self.web_workers = web_workers
        self.poll = poll
        # Both ask for the inbox to be left to the ingest workers, whatever the database.
        self.env = worker_env(TOCSIN_INGEST_APPLY="worker")
        self.web: subprocess.Popen | None = None
        self.url = ""
        self.appliers: list[subprocess.Popen] = []
        self.celery: subprocess.Popen | None = None
        self.started = 0

    # --- gunicorn -----------------------------------------------------------------------------
    def start_web(self) -> str:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1024)
        port = listener.getsockname()[1]
        env = {**_server_env(self.env["DATABASE_URL"]), **self.env, "DEBUG": "False"}
        self.web = subprocess.Popen(
            [
                str(GUNICORN),
                "config.wsgi:application",
                "--bind",
                f"fd://{listener.fileno()}",
                "--workers",
                str(self.web_workers),
                "--backlog",
                "1024",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            pass_fds=[listener.fileno()],
            stdout=(self.tmp / "gunicorn.log").open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        listener.close()
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert self.web.poll() is None, f"gunicorn exited.\n{self.logs()}"
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return self.url
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"gunicorn did not answer /health.\n{self.logs()}"
            time.sleep(0.1)

    # --- ingest workers -----------------------------------------------------------------------
    def start_applier(self) -> subprocess.Popen:
        """One `manage.py ingest_worker`, once it says it is applying the inbox."""
        self.started += 1
        log = self.tmp / f"ingest{self.started}.log"
        process = subprocess.Popen(
            [*MANAGE, "ingest_worker", "--poll", str(self.poll)],
            cwd=ROOT,
            env=self.env,
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.appliers.append(process)
        deadline = time.monotonic() + 60
        while "applying the inbox" not in log.read_text():
            assert process.poll() is None, f"ingest worker exited.\n{self.logs()}"
            assert time.monotonic() < deadline, f"ingest worker did not start.\n{self.logs()}"
            time.sleep(0.1)
        return process

    def kill_applier(self, process: subprocess.Popen) -> None:
        """SIGKILL: no chance to finish its batch or close its transaction."""
        process.send_signal(signal.SIGKILL)
        process.wait(10)

    # --- a Celery worker for paging and delivery ---------------------------------------------
    def start_celery(self) -> None:
        log = self.tmp / "celery.log"
        args = ["worker", "-Q", "default,paging,delivery", "-P", "threads", "-c", "3", "-l", "info"]
        self.celery = spawn([*args, "-n", "inbox@%h"], self.env, log)
        deadline = time.monotonic() + 60
        while " ready." not in log.read_text():
            assert self.celery.poll() is None, f"celery worker exited.\n{self.logs()}"
            assert time.monotonic() < deadline, f"celery worker did not start.\n{self.logs()}"
            time.sleep(0.1)

    def stop(self) -> None:
        for process in [*self.appliers, self.celery, self.web]:
            kill(process)

    def logs(self) -> str:
        return process_logs(self.tmp)
