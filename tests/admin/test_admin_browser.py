"""A responder acknowledges an incident in the admin, in a real headless Chromium."""

import pytest
from django.contrib.auth.models import Group
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from incidents.core.defaults import ensure_default_severities
from incidents.models import Incident, Severity
from tests.conftest import save_screenshot
from tests.factories import UserFactory, make_incident

PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_responder_acknowledges_an_incident_from_the_list(live_server, browser):
    # A transactional test may follow another that flushed the seeded severities.
    ensure_default_severities(Severity)
    rita = UserFactory(username="rita", first_name="Rita", last_name="Responder")
    rita.groups.add(Group.objects.get(name="Responder"))
    incident = make_incident(title="Checkout returns 502 for card payments", severity_key="P0")
    make_incident(title="Search is slow", severity_key="P3")
    wait = WebDriverWait(browser, 10)

    browser.get(f"{live_server.url}/admin/login/?next=/admin/incidents/incident/")
    browser.find_element(By.NAME, "username").send_keys("rita")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    search = wait.until(EC.presence_of_element_located((By.ID, "searchbar")))

    search.send_keys(incident.reference)
    browser.find_element(By.CSS_SELECTOR, "#changelist-search input[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "p.paginator")))
    rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
    assert len(rows) == 1
    assert "Checkout returns 502" in rows[0].text

    rows[0].find_element(By.CSS_SELECTOR, "input[name=_selected_action]").click()
    Select(browser.find_element(By.NAME, "action")).select_by_visible_text(
        "Acknowledge selected incidents"
    )
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()

    message = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li")))
    assert message.text == "Acknowledged 1 incident."
    row = browser.find_element(By.XPATH, f"//tr[.//a[normalize-space()='{incident.reference}']]")
    assert row.find_element(By.CSS_SELECTOR, ".tocsin-status").text == "Acknowledged"
    incident.refresh_from_db()
    assert incident.status == "acknowledged"

    row.find_element(By.LINK_TEXT, incident.reference).click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".tocsin-panel")))
    assert browser.find_element(By.CSS_SELECTOR, ".tocsin-panel .tocsin-status").text == (
        "Acknowledged"
    )
    timeline = browser.find_elements(
        By.CSS_SELECTOR, "fieldset.tocsin-timeline tbody tr.has_original"
    )
    entries = [
        (
            entry.find_element(By.CSS_SELECTOR, "td.field-who").text,
            entry.find_element(By.CSS_SELECTOR, "td.field-message").text,
        )
        for entry in timeline
    ]
    assert (
        "Rita Responder",
        "Rita Responder changed status from Triggered to Acknowledged.",
    ) in entries

    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, min(height, 3000))
    save_screenshot(browser, "admin-acknowledged-incident")
    assert Incident.objects.get(pk=incident.pk).acknowledged_at is not None
