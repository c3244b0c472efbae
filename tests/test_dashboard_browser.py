"""The operations dashboard in a real headless Chromium: it renders, its charts draw, and the
page logs no JavaScript error."""

import os
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By

from incidents import lifecycle
from incidents.defaults import ensure_default_severities
from incidents.models import Severity
from postmortems.services import postmortem_draft
from tests.factories import UserFactory, make_incident

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def chromium(tmp_path, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
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
        "--window-size=1400,1600",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=ChromeService(CHROMEDRIVER))
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


def test_dashboard_renders_with_charts_and_no_javascript_errors(live_server, chromium):
    ensure_default_severities(Severity)  # a transactional test may follow a flush
    UserFactory(username="boss", is_superuser=True)
    make_incident(title="Checkout returns 502", severity_key="P0")
    resolved = make_incident(title="Worker stuck", severity_key="P1")
    lifecycle.incident_resolve(incident=resolved)
    postmortem_draft(incident=resolved)

    chromium.get(f"{live_server.url}/admin/login/?next=/admin/")
    chromium.find_element(By.NAME, "username").send_keys("boss")
    chromium.find_element(By.NAME, "password").send_keys(PASSWORD)
    chromium.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    open_card = chromium.find_element(By.CSS_SELECTOR, ".ops-open")
    assert "Checkout returns 502" in open_card.text
    charts = chromium.find_elements(By.CSS_SELECTOR, "svg.tocsin-chart")
    assert len(charts) == 2
    # Drawn at a readable size, not collapsed.
    assert all(chart.size["width"] > 300 and chart.size["height"] > 100 for chart in charts)
    assert chromium.find_elements(By.CSS_SELECTOR, "svg.tocsin-chart rect[fill]")
    ARTIFACTS.mkdir(exist_ok=True)
    chromium.save_screenshot(str(ARTIFACTS / "dashboard.png"))
    errors = [
        entry
        for entry in chromium.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]
    ]
    assert errors == []
