"""The public status page in a real headless Chromium: it renders, reads well, runs no script."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from incidents.core import lifecycle
from tests.conftest import save_screenshot
from tests.factories import ServiceFactory, make_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_status_page_in_a_real_browser(live_server, browser):
    checkout = ServiceFactory(
        name="Checkout", slug="checkout", is_public=True, public_description="Cart and payment"
    )
    ServiceFactory(name="API", slug="api", is_public=True)
    incident = make_incident(title="pgbouncer pool at 100%", severity_key="P1", services=[checkout])
    lifecycle.status_update_post(incident=incident, message="internal only: pool size 20")
    lifecycle.status_update_post(
        incident=incident,
        message="Some orders fail at checkout. We are investigating.",
        public=True,
        public_title="Orders failing at checkout",
    )

    browser.get(f"{live_server.url}/status/")

    assert browser.title == "System status"
    assert browser.find_element(By.CSS_SELECTOR, ".banner h1").text == "Partial outage"
    services = {
        row.find_element(By.CSS_SELECTOR, ".service-name").text.split("\n")[0]: row.find_element(
            By.CSS_SELECTOR, ".pill"
        ).text
        for row in browser.find_elements(By.CSS_SELECTOR, "li.service")
    }
    assert services == {"Checkout": "Partial outage", "API": "Operational"}
    incident_card = browser.find_element(By.CSS_SELECTOR, "article.incident")
    assert "Orders failing at checkout" in incident_card.text
    assert "Some orders fail at checkout" in incident_card.text
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "internal only" not in body and "pgbouncer" not in body
    # The stylesheet loaded: the banner is coloured, not the browser's default.
    colour = browser.find_element(By.CSS_SELECTOR, ".banner").value_of_css_property(
        "background-color"
    )
    assert colour not in ("rgba(0, 0, 0, 0)", "transparent")
    assert [e for e in browser.get_log("browser") if e["level"] == "SEVERE"] == []
    save_screenshot(browser, "status-page")

    banner = browser.find_element(By.CSS_SELECTOR, ".banner h1")
    browser.find_element(By.LINK_TEXT, "Orders failing at checkout").click()
    # The incident's own page has loaded once the overview's heading is gone.
    WebDriverWait(browser, 10).until(EC.staleness_of(banner))
    assert browser.find_element(By.TAG_NAME, "h1").text == "Orders failing at checkout"
