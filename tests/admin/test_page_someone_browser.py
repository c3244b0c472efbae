"""A responder sees that nobody is paged for an incident and pages the on-call, in Chromium."""

import pytest
from django.contrib.auth.models import Group
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from incidents.core.defaults import ensure_default_severities
from incidents.models import Notification, Responder, Severity
from tests.conftest import save_screenshot
from tests.factories import UserFactory, make_incident, make_schedule

PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_responder_sees_the_red_banner_and_pages_the_oncall(live_server, browser):
    ensure_default_severities(Severity)
    rita = UserFactory(username="rita", first_name="Rita", last_name="Responder")
    rita.groups.add(Group.objects.get(name="Responder"))
    pat = UserFactory(username="pat", first_name="Pat", last_name="Primary")
    schedule = make_schedule(name="Platform primary", participants=[pat])
    incident = make_incident(title="Checkout returns 502 for card payments", severity_key="P1")
    wait = WebDriverWait(browser, 15)

    browser.get(
        f"{live_server.url}/admin/login/?next=/admin/incidents/incident/{incident.pk}/change/"
    )
    browser.find_element(By.NAME, "username").send_keys("rita")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    banner = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".tocsin-nobody")))
    assert f"Nobody is being paged for {incident.reference}." in banner.text
    assert banner.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"
    save_screenshot(browser, "nobody-paged-banner")

    browser.get(f"{live_server.url}/admin/")
    row = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "tr.ops-row--nobody")))
    assert "nobody paged" in row.text.lower() and "on target" not in row.text.lower()
    assert "No default escalation policy." in browser.find_element(By.CSS_SELECTOR, ".ops").text
    save_screenshot(browser, "dashboard-nobody-paged")
    browser.get(f"{live_server.url}/admin/incidents/incident/{incident.pk}/change/")
    banner = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".tocsin-nobody")))

    banner.find_element(By.LINK_TEXT, "Page someone now").click()
    form = wait.until(EC.presence_of_element_located((By.ID, "tocsin-page-form")))
    assert "Platform primary: Pat Primary" in form.text
    form.find_element(By.XPATH, ".//label[contains(., 'Platform primary')]").click()
    form.find_element(By.NAME, "message").send_keys("Card payments fail; please join")
    save_screenshot(browser, "page-someone")
    form.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    message = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li")))
    assert message.text == f"Paged pat for {incident.reference}; they are responders now."
    assert browser.find_elements(By.CSS_SELECTOR, ".tocsin-nobody") == []
    assert Notification.objects.filter(incident=incident, recipient="pat").exists()
    assert Responder.objects.filter(incident=incident, user=pat).exists()
    assert schedule.pk
    save_screenshot(browser, "paged-incident")
