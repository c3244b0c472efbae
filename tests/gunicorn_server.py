"""A real gunicorn serving the project over a file-based database the test shares.

Django's development server does not decode chunked request bodies; gunicorn (what the
Procfile runs) does. On PostgreSQL the server uses the test database itself (the test runs
transactional, so its rows are committed); on SQLite, whose test database lives in memory,
the test's connection is pointed at a migrated SQLite file that the server opens too.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.db import connection

GUNICORN = Path(sys.executable).with_name("gunicorn")
ROOT = Path(__file__).resolve().parent.parent


def _database_url() -> str:
    db = connection.settings_dict
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


def _server_env(database_url: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "DEBUG": "False",
        "SECRET_KEY": "tests-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz",
        "SECURE_SSL_REDIRECT": "False",
        "ALLOWED_HOSTS": "127.0.0.1",
    }


@pytest.fixture(scope="session")
def migrated_sqlite_file(tmp_path_factory) -> Path:
    """A migrated (and seeded) SQLite file, made once; each test works on a copy."""
    path = tmp_path_factory.mktemp("gunicorn-db") / "template.sqlite3"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v0"],
        cwd=ROOT,
        env=_server_env(f"sqlite:///{path}"),
        check=True,
    )
    return path


@pytest.fixture
def file_database(request, django_db_blocker, tmp_path):
    """Yields the DATABASE_URL a server process can open, with the test's rows in it.

    For tests marked `django_db(transaction=True)`, so that their rows are committed.
    """
    if connection.vendor == "postgresql":
        yield _database_url()
        return
    path = tmp_path / "gunicorn.sqlite3"
    shutil.copyfile(request.getfixturevalue("migrated_sqlite_file"), path)
    with django_db_blocker.unblock():
        # Closing an in-memory database would destroy it: set its connection aside instead.
        in_memory, original = connection.connection, connection.settings_dict["NAME"]
        connection.connection = None
        connection.settings_dict["NAME"] = str(path)
        try:
            yield f"sqlite:///{path}"
        finally:
            connection.close()
            connection.settings_dict["NAME"] = original
            connection.connection = in_memory


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
