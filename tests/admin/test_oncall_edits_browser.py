"""In a real headless Chromium: a manager changes a rotation's people and confirms the moves; a
responder uses "My paging". Both pages are also shot at phone width (400 px)."""

import pytest
from django.contrib.auth.models import Group
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from incidents.models import ContactMethod, Notification
from tests.conftest import save_screenshot
from tests.factories import UserFactory, make_schedule

PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(browser, live_server, username: str) -> WebDriverWait:
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys(username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait = WebDriverWait(browser, 10)
    wait.until(EC.presence_of_element_located((By.ID, "user-tools")))
    return wait


def fits(browser) -> bool:
    return browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth + 1"
    )


def test_manager_previews_and_confirms_a_change_of_people(live_server, browser):
    people = [
        UserFactory(username=n, first_name=n.title(), last_name="", email=f"{n}@example.com")
        for n in ("alice", "bob", "carol")
    ]
    max_ = UserFactory(username="max", first_name="Max", last_name="Manager")
    max_.groups.add(Group.objects.get(name="Incident manager"))
    schedule = make_schedule(
        time_zone="Europe/Berlin", participants=people[:2], shift="daily", start="2026-01-01"
    )
    wait = log_in(browser, live_server, "max")
    browser.get(f"{live_server.url}/admin/incidents/schedule/{schedule.pk}/change/")
    field = wait.until(
        EC.presence_of_element_located((By.NAME, "rotations-0-participant_usernames"))
    )
    assert browser.find_element(By.NAME, "rotations-0-effective_from").get_attribute("value")
    field.clear()
    field.send_keys("alice, bob, carol")
    browser.find_element(By.NAME, "_save").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".oncall-moves")))
    assert "Check the shifts that move" in browser.page_source
    rows = browser.find_elements(By.CSS_SELECTOR, ".oncall-moves tbody tr")
    assert rows and any("Carol" in r.text for r in rows)
    save_screenshot(browser, "oncall-participants-preview")
    browser.set_window_size(400, 900)
    assert fits(browser)
    save_screenshot(browser, "oncall-participants-preview-phone")
    browser.set_window_size(1400, 1000)

    browser.find_element(By.CSS_SELECTOR, "input[name=_save]").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".messagelist li")))
    rotation = schedule.rotations.get()
    assert [p.user.username for p in rotation.latest_participants()] == ["alice", "bob", "carol"]
    assert Notification.objects.filter(address="carol@example.com", reason="handoff").exists()


def test_responder_adds_a_contact_method_on_my_paging(live_server, browser):
    rita = UserFactory(username="rita", first_name="Rita", last_name="Responder")
    rita.groups.add(Group.objects.get(name="Responder"))
    make_schedule(
        name="Platform primary",
        time_zone="Europe/Berlin",
        participants=[rita],
        shift="daily",
        start="2026-01-01",
    )
    wait = log_in(browser, live_server, "rita")
    browser.find_element(By.CSS_SELECTOR, "#user-tools a[href='/admin/my-paging/']").click()
    wait.until(EC.presence_of_element_located((By.ID, "contact-methods")))
    Select(browser.find_element(By.NAME, "kind")).select_by_value("webhook")
    browser.find_element(By.NAME, "address").send_keys("https://hooks.example.com/rita-phone")
    browser.find_element(By.NAME, "label").send_keys("phone")
    browser.find_element(By.CSS_SELECTOR, "input[value='Add contact method']").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".messagelist li")))
    assert ContactMethod.objects.get(user=rita).label == "phone"
    assert "Platform primary" in browser.find_element(By.ID, "shifts").text
    browser.set_window_size(1400, 2000)
    save_screenshot(browser, "my-paging")
    browser.set_window_size(400, 2400)
    assert fits(browser)
    save_screenshot(browser, "my-paging-phone")
