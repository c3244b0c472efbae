"""A responder takes someone's shift from the schedule page, in a real headless Chromium."""

import pytest
from django.contrib.auth.models import Group
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from incidents.models import Override
from tests.conftest import save_screenshot
from tests.factories import UserFactory, make_schedule

PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_responder_takes_a_shift_from_the_14_day_schedule(live_server, browser):
    alice = UserFactory(username="alice", first_name="Alice", last_name="Archer")
    bob = UserFactory(username="bob", first_name="Bob", last_name="Baker")
    rita = UserFactory(username="rita", first_name="Rita", last_name="Responder")
    rita.groups.add(Group.objects.get(name="Responder"))
    schedule = make_schedule(participants=[alice, bob], shift="daily", start="2020-01-01")

    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("rita")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # Let the login finish before navigating: its redirect must not land after our next page.
    wait = WebDriverWait(browser, 10)
    wait.until(EC.presence_of_element_located((By.ID, "user-tools")))
    browser.get(f"{live_server.url}/admin/incidents/schedule/{schedule.pk}/change/")
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".oncall-table")))
    assert "Next 14 days" in browser.page_source
    save_screenshot(browser, "oncall-schedule")

    rows = browser.find_elements(By.CSS_SELECTOR, ".oncall-table tbody tr")
    first_person = rows[0].find_element(By.CSS_SELECTOR, "td").text.strip()
    rows[0].find_element(By.LINK_TEXT, "Take this shift").click()
    wait.until(EC.presence_of_element_located((By.NAME, "reason")))
    assert "Create override on Platform primary" in browser.page_source
    browser.find_element(By.NAME, "reason").send_keys("Covering while they travel")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".messagelist li")))

    notes = browser.find_elements(By.CSS_SELECTOR, ".messagelist li")
    assert [n.text for n in notes] and "covers Platform primary" in notes[0].text, [
        n.text for n in notes
    ]
    override = Override.objects.get()
    assert override.user == rita
    assert override.created_by == rita
    assert override.replaces.get_full_name() == first_person
    assert override.reason == "Covering while they travel"
