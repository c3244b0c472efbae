"""In a real headless Chromium: a 600-alert incident page, confirming a status subscription,
and the post-mortem people pickers for a responder."""

import pytest
from django.contrib.auth.models import Group
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from incidents.core import lifecycle
from incidents.core.defaults import ensure_default_severities
from incidents.models import Severity, Subscriber
from postmortems.services import postmortem_draft
from tests.admin.test_admin_bounded_inlines import _big_incident
from tests.conftest import save_screenshot
from tests.factories import UserFactory, make_incident

PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _log_in(browser, live_server, user, next_url: str):
    wait = WebDriverWait(browser, 20)
    browser.get(f"{live_server.url}/admin/login/?next={next_url}")
    browser.find_element(By.NAME, "username").send_keys(user.username)
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(EC.url_contains(next_url))
    return wait


def _member(username: str, group: str, **names):
    user = UserFactory(username=username, **names)
    user.groups.add(Group.objects.get(name=group))
    return user


def _full_page(browser, name: str) -> None:
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, min(height, 4000))
    save_screenshot(browser, name)
    browser.set_window_size(1400, 1000)


def test_a_600_alert_incident_page_shows_20_and_links_to_all(live_server, browser):
    ensure_default_severities(Severity)
    manager = _member("max", "Incident manager", first_name="Max", last_name="Manager")
    incident = _big_incident()
    url = f"/admin/incidents/incident/{incident.pk}/change/"
    wait = _log_in(browser, live_server, manager, url)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".tocsin-panel")))
    alert_rows = browser.find_elements(By.CSS_SELECTOR, "#alerts-group tbody tr.has_original")
    assert len(alert_rows) == 20
    assert browser.execute_script("return document.body.scrollHeight") < 12000
    _full_page(browser, "incident-600-alerts-after")
    browser.find_element(By.LINK_TEXT, "See all 600 alerts").click()
    counter = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "p.paginator")))
    assert "600 alerts" in counter.text


def test_confirming_a_subscription_takes_a_press_on_the_page(live_server, browser):
    subscriber = Subscriber.objects.create(email="customer@example.com")
    wait = WebDriverWait(browser, 20)
    browser.get(f"{live_server.url}/status/subscribe/confirm/{subscriber.token}/")
    button = wait.until(EC.element_to_be_clickable((By.CSS_SELECTOR, "form button[type=submit]")))
    assert button.text == "Confirm subscription"
    save_screenshot(browser, "status-confirm-page")
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None
    button.click()
    # The confirmation page has a heading too: wait for the answer's, not whichever is there.
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "You're subscribed"))
    assert browser.find_element(By.TAG_NAME, "h1").text == "You're subscribed"
    save_screenshot(browser, "status-confirmed")
    subscriber.refresh_from_db()
    assert subscriber.is_active


def _pick(browser, wait, select_id: str, term: str, choice: str) -> None:
    container = browser.find_element(
        By.CSS_SELECTOR, f"#{select_id} + .select2-container .select2-selection"
    )
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", container)
    container.click()
    search = wait.until(
        EC.visibility_of_element_located((By.CSS_SELECTOR, ".select2-container--open input"))
    )
    search.send_keys(term)

    def choose(driver) -> bool:
        # Select2 redraws its list as results arrive: look the option up afresh each time.
        for option in driver.find_elements(By.CSS_SELECTOR, "li.select2-results__option"):
            if option.text == choice:
                option.click()
                return True
        return False

    WebDriverWait(browser, 20, ignored_exceptions=(StaleElementReferenceException,)).until(choose)
    wait.until(
        EC.text_to_be_present_in_element(
            (By.CSS_SELECTOR, f"#{select_id} + .select2-container .select2-selection"), choice
        )
    )


@pytest.mark.parametrize(
    ("group", "shot"), [("Responder", "responder"), ("Incident manager", "manager")]
)
def test_post_mortem_people_pickers_work_for_staff_groups(live_server, browser, group, shot):
    ensure_default_severities(Severity)
    writer = _member("rita", group, first_name="Rita", last_name="Writer")
    UserFactory(username="asmith", first_name="Alice", last_name="Smith")
    UserFactory(username="bjones", first_name="Bob", last_name="Jones")
    incident = make_incident(title="Checkout returns 502 for card payments")
    lifecycle.incident_resolve(incident=incident)
    postmortem, _ = postmortem_draft(incident=incident)
    url = f"/admin/postmortems/postmortem/{postmortem.pk}/change/"
    wait = _log_in(browser, live_server, writer, url)
    wait.until(EC.presence_of_element_located((By.ID, "id_author")))

    _pick(browser, wait, "id_author", "alice", "Alice Smith (asmith)")
    _pick(browser, wait, "id_reviewers", "jon", "Bob Jones (bjones)")
    _pick(browser, wait, "id_action_items-0-owner", "smi", "Alice Smith (asmith)")
    assert "could not be loaded" not in browser.page_source
    browser.find_element(By.ID, "id_action_items-0-title").send_keys("Alert on pool saturation")
    _full_page(browser, f"postmortem-people-pickers-{shot}")
    browser.find_element(By.ID, "id_action_items-0-title").send_keys(Keys.ENTER)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li")))

    postmortem.refresh_from_db()
    assert postmortem.author.username == "asmith"
    assert [u.username for u in postmortem.reviewers.all()] == ["bjones"]
    assert postmortem.action_items.get().owner.username == "asmith"
