"""Demo runbooks for `seed_demo`, written for the scenarios of the team runbooks."""

from pathlib import Path

from runbooks.services import ImportResult, runbooks_import

DEMO_DIR = Path(__file__).resolve().parent


def seed_runbooks(people: dict | None = None, services: dict | None = None) -> ImportResult:
    """Import the demo files; running it again changes nothing (import is idempotent)."""
    return runbooks_import(paths=[DEMO_DIR])
