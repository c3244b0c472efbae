"""Programs some tests drive (a browser, Alertmanager): where they are, and how to get them.

A test that needs a program the machine lacks is skipped, naming the path it looked at and the
install command, so the summary of `pytest -ra` says what to install. Each path comes from an
environment variable, so "this machine has no browser" can be tried anywhere:
`TOCSIN_TEST_CHROMIUM=/nowhere make test`. CI (TOCSIN_TEST_NO_SKIPS=1) turns every skip into
a failure, so nothing is skipped there unnoticed.
"""

import os
import shutil
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Program:
    variable: str
    default: str
    install: str

    @property
    def path(self) -> str:
        return os.environ.get(self.variable) or self.default


def _found(name: str, fallback: str) -> str:
    return shutil.which(name) or fallback


PROGRAMS = {
    "chromium": Program(
        "TOCSIN_TEST_CHROMIUM", "/usr/bin/chromium", "apt-get install chromium chromium-driver"
    ),
    "chromedriver": Program(
        "TOCSIN_TEST_CHROMEDRIVER", "/usr/bin/chromedriver", "apt-get install chromium-driver"
    ),
    "alertmanager": Program(
        "TOCSIN_TEST_ALERTMANAGER",
        _found("prometheus-alertmanager", "/usr/bin/prometheus-alertmanager"),
        "apt-get install prometheus-alertmanager",
    ),
    "amtool": Program(
        "TOCSIN_TEST_AMTOOL",
        _found("amtool", "/usr/bin/amtool"),
        "apt-get install prometheus-alertmanager",
    ),
}


def require_program(name: str, test: str = "") -> str:
    """The program's path, or skip the calling test saying what is missing and how to install it."""
    program = PROGRAMS[name]
    path = program.path
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        who = f"{test} needs {name}" if test else name
        pytest.skip(f"{who}: not found at {path} ({program.variable}): {program.install}")
    return path
