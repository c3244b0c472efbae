"""A responder takes someone's shift from the schedule page, in a real headless Chromium."""

import os
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By

from incidents.models import Override
from tests.factories import UserFactory, make_schedule

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
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing: apt-get install chromium"
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
    driver = webdriver.Chrome(options=options, service=ChromeService(CHROMEDRIVER))
    driver.implicitly_wait(2)
    yield driver
    driver.quit()


def test_responder_takes_a_shift_from_the_14_day_schedule(live_server, chromium):
    alice = UserFactory(username="alice", first_name="Alice", last_name="Archer")
    bob = UserFactory(username="bob", first_name="Bob", last_name="Baker")
    rita = UserFactory(username="rita", first_name="Rita", last_name="Responder")
    rita.groups.add(Group.objects.get(name="Responder"))
    schedule = make_schedule(participants=[alice, bob], shift="daily", start="2020-01-01")

    chromium.get(f"{live_server.url}/admin/login/")
    chromium.find_element(By.NAME, "username").send_keys("rita")
    chromium.find_element(By.NAME, "password").send_keys(PASSWORD)
    chromium.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    chromium.get(f"{live_server.url}/admin/incidents/schedule/{schedule.pk}/change/")
    assert "Next 14 days" in chromium.page_source
    ARTIFACTS.mkdir(exist_ok=True)
    chromium.save_screenshot(str(ARTIFACTS / "oncall-schedule.png"))

    rows = chromium.find_elements(By.CSS_SELECTOR, ".oncall-table tbody tr")
    first_person = rows[0].find_element(By.CSS_SELECTOR, "td").text.strip()
    rows[0].find_element(By.LINK_TEXT, "Take this shift").click()
    assert "Create override on Platform primary" in chromium.page_source
    chromium.find_element(By.NAME, "reason").send_keys("Covering while they travel")
    chromium.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

    notes = chromium.find_elements(By.CSS_SELECTOR, ".messagelist li")
    assert [n.text for n in notes] and "covers Platform primary" in notes[0].text, [
        n.text for n in notes
    ]
    override = Override.objects.get()
    assert override.user == rita
    assert override.created_by == rita
    assert override.replaces.get_full_name() == first_person
    assert override.reason == "Covering while they travel"
