"""A responder starts the suggested runbook on an incident and ticks steps, in real Chromium."""

import pytest
from django.contrib.auth.models import Group
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from incidents.core.choices import TimelineKind
from incidents.core.defaults import ensure_default_severities
from incidents.models import Severity
from runbooks.models import RunbookRun
from tests.conftest import save_screenshot
from tests.factories import ServiceFactory, UserFactory, make_incident, make_runbook

PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_responder_works_a_runbook_from_the_incident_page(live_server, browser):
    ensure_default_severities(Severity)
    rita = UserFactory(username="rita", first_name="Rita", last_name="Responder")
    rita.groups.add(Group.objects.get(name="Responder"))
    database = ServiceFactory(name="Database", slug="database")
    make_runbook(
        title="Database connection pool exhausted",
        services=[database],
        rules=[("title_keyword", "", "pool", 3)],
        steps=[
            {"instruction": "Count connections by state.", "command": "psql -c 'select 1'"},
            {"instruction": "Kill sessions idle in transaction."},
            {"instruction": "Watch latency for ten minutes.", "expected": "p95 back to normal"},
        ],
        body="| Cause | Fix |\n| --- | --- |\n| long transactions | kill them |",
    )
    make_runbook(title="Redis unavailable", match={"alertname": "RedisDown"})
    incident = make_incident(title="Connection pool exhausted", services=[database])
    wait = WebDriverWait(browser, 10)

    browser.get(
        f"{live_server.url}/admin/login/?next=/admin/incidents/incident/{incident.pk}/change/"
    )
    browser.find_element(By.NAME, "username").send_keys("rita")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    panel = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".rb-panel")))
    assert "Database connection pool exhausted" in panel.text
    assert (
        "Redis unavailable"
        not in panel.find_element(By.CSS_SELECTOR, ".rb-panel__suggestions").text
    )

    panel.find_element(By.XPATH, ".//button[normalize-space()='Start runbook']").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "ol.rb-checklist")))
    boxes = browser.find_elements(By.CSS_SELECTOR, "input[name=step]")
    assert len(boxes) == 3
    boxes[0].click()
    boxes[1].click()
    browser.find_elements(By.CSS_SELECTOR, "input.rb-step__note")[1].send_keys("12 sessions killed")
    browser.find_element(By.CSS_SELECTOR, ".rb-actions input[type=submit]").click()

    # The page before the submit already has a message ("… is running"): wait for the new one.
    wait.until(
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, "ul.messagelist"), "Checked 2 steps.")
    )
    assert browser.find_element(By.CSS_SELECTOR, ".rb-run-head .rb-progress__text").text == "2/3"
    assert "12 sessions killed" in browser.find_element(By.CSS_SELECTOR, "ol.rb-checklist").text
    save_screenshot(browser, "runbooks-checklist")

    browser.find_element(By.LINK_TEXT, incident.reference).click()
    panel = wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, ".rb-panel")))
    assert "2/3" in panel.text
    timeline = browser.find_element(By.CSS_SELECTOR, "fieldset.tocsin-timeline").text
    assert "step 2/3 done: Kill sessions idle in transaction. — 12 sessions killed" in timeline
    save_screenshot(browser, "runbooks-incident-panel")

    run = RunbookRun.objects.get()
    assert run.started_by == rita
    assert incident.timeline.filter(kind=TimelineKind.RUNBOOK, actor=rita).count() == 3
