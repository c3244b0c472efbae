import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group

from tests.factories import ServiceFactory, UserFactory, make_incident
from tests.programs import require_program
from tests.worker_stack import TEST_BROKER_DIR, use_test_broker


@pytest.fixture
def user(db):
    return UserFactory(username="alice")


@pytest.fixture
def service(db):
    return ServiceFactory(name="Checkout", slug="checkout")


@pytest.fixture
def incident(db, service):
    return make_incident(services=[service])


def _member_of(group_name: str, username: str):
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get(name=group_name))
    return user


@pytest.fixture
def viewer(db):
    return _member_of("Viewer", "vera-viewer")


@pytest.fixture
def responder(db):
    return _member_of("Responder", "rita-responder")


@pytest.fixture
def manager(db):
    return _member_of("Incident manager", "max-manager")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, a test database in a file rather than Django's shared-cache memory database.

    The live-server, ingestion-race and real-worker tests reach the database from other
    threads and processes; in shared-cache memory, concurrent writers fail at once with
    "database table is locked", while a file in WAL mode makes them wait their turn (the
    settings' busy timeout and IMMEDIATE transactions). Each pytest process has its own file.
    """
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(
            tmp_path_factory.getbasetemp() / "tocsin-test.sqlite3"
        )


use_test_broker()


def pytest_unconfigure(config):
    shutil.rmtree(TEST_BROKER_DIR, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With TOCSIN_TEST_NO_SKIPS=1 (CI, which installs everything) a skip is a failure."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and not hasattr(report, "wasxfail") and _no_skips():
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"Skipped, and TOCSIN_TEST_NO_SKIPS forbids skips: {reason}"


def _no_skips() -> bool:
    return os.environ.get("TOCSIN_TEST_NO_SKIPS", "").lower() in ("1", "true", "yes")


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    """Production uses whitenoise's manifest storage, which needs `collectstatic` first."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def pytest_collection_modifyitems(items):
    """Give every transactional test a serialized rollback.

    A transactional test ends by flushing every table, which would also wipe the rows that
    data migrations seed (severities, staff groups, root-cause categories) for the tests
    after it. With a serialized rollback Django reloads them at the start of each such test.
    """
    for item in items:
        marker = item.get_closest_marker("django_db")
        fixtures = set(getattr(item, "fixturenames", ()))
        if marker is not None:
            if marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
                item.add_marker(
                    pytest.mark.django_db(*marker.args, **marker.kwargs, serialized_rollback=True),
                    append=False,
                )
        elif fixtures & {"transactional_db", "live_server"}:
            item.fixturenames.append("django_db_serialized_rollback")


ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def browser(tmp_path, request):
    """Real headless Chromium (Debian's chromium + chromium-driver) driven by Selenium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service as ChromeService

    chromium = require_program("chromium", request.node.name)
    chromedriver = require_program("chromedriver", request.node.name)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=ChromeService(chromedriver))
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


def save_screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


# Real HTTP servers for the ingestion tests (see the modules): a threaded one over the test
# database, and gunicorn over a file-based one (chunked bodies need a server that decodes them).
from tests.gunicorn_server import (  # noqa: E402, F401
    file_database,
    gunicorn_url,
)
from tests.ingest_server import server_url  # noqa: E402, F401


@pytest.fixture(autouse=True)
def _fresh_ingest_caches():
    """Each test starts as a fresh web process would: no cached token lookups, full rate-limit
    buckets, no remembered server-guard reading."""
    from incidents.alerts import limits
    from incidents.api.ingest import auth_cache

    auth_cache.clear()
    limits.reset()
    yield
