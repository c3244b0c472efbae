"""The operations dashboard in a real headless Chromium: it renders, its charts draw, and the
page logs no JavaScript error."""

import pytest
from selenium.webdriver.common.by import By

from incidents.core import lifecycle
from incidents.core.defaults import ensure_default_severities
from incidents.models import Severity
from postmortems.services import postmortem_draft
from tests.conftest import save_screenshot
from tests.factories import UserFactory, make_incident

PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_dashboard_renders_with_charts_and_no_javascript_errors(live_server, browser):
    ensure_default_severities(Severity)  # a transactional test may follow a flush
    UserFactory(username="boss", is_superuser=True)
    make_incident(title="Checkout returns 502", severity_key="P0")
    resolved = make_incident(title="Worker stuck", severity_key="P1")
    lifecycle.incident_resolve(incident=resolved)
    postmortem_draft(incident=resolved)

    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("boss")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    open_card = browser.find_element(By.CSS_SELECTOR, ".ops-open")
    assert "Checkout returns 502" in open_card.text
    charts = browser.find_elements(By.CSS_SELECTOR, "svg.tocsin-chart")
    assert len(charts) == 2
    # Drawn at a readable size, not collapsed.
    assert all(chart.size["width"] > 300 and chart.size["height"] > 100 for chart in charts)
    assert browser.find_elements(By.CSS_SELECTOR, "svg.tocsin-chart rect[fill]")
    save_screenshot(browser, "dashboard")
    errors = [
        entry
        for entry in browser.get_log("browser")
        if entry["level"] == "SEVERE" and "favicon.ico" not in entry["message"]
    ]
    assert errors == []
