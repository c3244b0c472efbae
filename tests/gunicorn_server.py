"""A real gunicorn serving the project over a file-based database the test shares.

Django's development server does not decode chunked request bodies; gunicorn does. The
server uses the test database itself, PostgreSQL or the SQLite test file (the test runs
transactional, so its rows are committed).
"""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.worker_stack import database_url

GUNICORN = Path(sys.executable).with_name("gunicorn")
ROOT = Path(__file__).resolve().parent.parent


def _server_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "False",
        "SECRET_KEY": "tests-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        "SECURE_SSL_REDIRECT": "False",
        "ALLOWED_HOSTS": "127.0.0.1",
    }


@pytest.fixture
def file_database(transactional_db):
    """The DATABASE_URL of the test database, for a server process (tests run transactional)."""
    return database_url()


@pytest.fixture
def gunicorn_url(file_database):
    """The base URL of a gunicorn (one worker) on a free loopback port, once it answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    env = _server_env(file_database)
    # The listening socket is handed over, so no other process can take the port meanwhile.
    process = subprocess.Popen(
        [
            str(GUNICORN),
            "config.wsgi:application",
            "--bind",
            f"fd://{listener.fileno()}",
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        pass_fds=[listener.fileno()],
    )
    listener.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, "gunicorn exited"
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "gunicorn did not answer /health within 60 s"
        time.sleep(0.1)
    yield url
    process.terminate()
    process.wait(timeout=30)
