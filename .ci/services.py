"""`make test`: pick the database and broker, say which on the first line, then run the command.

PostgreSQL and Redis are used when they answer at their default local addresses (and
PostgreSQL lets the `postgres` user in without a password); otherwise SQLite and the filesystem
broker. DATABASE_URL / REDIS_URL already set are kept as given. TOCSIN_TEST_SQLITE=1 forces
SQLite and the filesystem broker. Standard library only: it runs before the virtualenv exists.

    python3 .ci/services.py -- COMMAND ARGS...
"""

import os
import socket
import struct
import sys
from urllib.parse import urlsplit, urlunsplit

HOST = "127.0.0.1"
POSTGRES_URL = f"postgres://postgres@{HOST}:5432/tocsin"
# A database number of its own: the real-worker tests flush it.
REDIS_URL = f"redis://{HOST}:6379/15"


def answers(probe, tries: int = 3) -> bool:
    """A busy machine can miss one probe's second: ask a few times before falling back."""
    return any(probe() for _ in range(tries))


def postgres_answers(host: str = HOST, port: int = 5432) -> bool:
    """A PostgreSQL server that lets `postgres` in without a password (trust, as in CI)."""
    startup = b"user\0postgres\0database\0postgres\0\0"
    message = struct.pack("!ii", 8 + len(startup), 196608) + startup
    try:
        with socket.create_connection((host, port), timeout=3) as sock:
            sock.sendall(message)
            reply = sock.recv(9)
            sock.sendall(b"X\0\0\0\4")  # Terminate
    except OSError:
        return False
    # 'R', length 8, authentication code 0: AuthenticationOk.
    return len(reply) == 9 and reply[:1] == b"R" and struct.unpack("!ii", reply[1:]) == (8, 0)


def redis_answers(host: str = HOST, port: int = 6379) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(7).startswith(b"+PONG")
    except OSError:
        return False


def masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def choose(environ: dict) -> tuple[dict, str]:
    """The variables to set and the line that says what the tests run on."""
    if environ.get("TOCSIN_TEST_SQLITE", "").lower() in ("1", "true", "yes"):
        forced = {
            # The tests make their own SQLite file; this only says "SQLite".
            "DATABASE_URL": f"sqlite:///{os.path.abspath('db.sqlite3')}",
            "REDIS_URL": "",  # settings then default to the filesystem broker
            "CELERY_BROKER_URL": None,  # unset: Celery lets it override the app's own setting
        }
        return forced, "make test: SQLite + filesystem broker (TOCSIN_TEST_SQLITE is set)"
    chosen, said = {}, []
    if environ.get("DATABASE_URL"):
        said.append(f"DATABASE_URL={masked(environ['DATABASE_URL'])} (from the environment)")
    elif answers(postgres_answers):
        chosen["DATABASE_URL"] = POSTGRES_URL
        said.append(f"PostgreSQL at {HOST}:5432")
    else:
        said.append("SQLite")
    if environ.get("REDIS_URL") or environ.get("CELERY_BROKER_URL"):
        url = environ.get("CELERY_BROKER_URL") or environ["REDIS_URL"]
        said.append(f"broker {masked(url)} (from the environment)")
    elif answers(redis_answers):
        chosen["REDIS_URL"] = REDIS_URL
        said.append(f"Redis at {HOST}:6379 (database 15)")
    else:
        said.append("filesystem broker")
    line = "make test: " + " + ".join(said)
    missing = [
        name
        for name, found in (
            ("PostgreSQL", "DATABASE_URL" in chosen or environ.get("DATABASE_URL")),
            ("Redis", "REDIS_URL" in chosen or environ.get("REDIS_URL")),
        )
        if not found
    ]
    if missing:
        line += f" ({'/'.join(missing)} not found at the default local address)"
    return chosen, line


def dotenv(path: str = ".env") -> dict:
    """The variables `.env` sets (settings read it too): those count as set."""
    found = {}
    try:
        with open(path) as file:
            for line in file:
                key, sep, value = line.strip().removeprefix("export ").partition("=")
                if sep and not key.startswith("#"):
                    found[key.strip()] = value.strip().strip("\"'")
    except OSError:
        pass
    return found


def main(argv: list[str]) -> int:
    if "--" in argv:
        argv = argv[argv.index("--") + 1 :]
    chosen, line = choose({**dotenv(), **os.environ})
    print(line, flush=True)
    if not argv:
        return 0
    for name, value in chosen.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
