"""A manager edits a round-robin target's people on the policy page, in a real headless Chromium."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from incidents.models import EscalationTarget
from incidents.paging.policies import RoundRobin, StepInput, escalation_policy_create
from tests.conftest import save_screenshot
from tests.factories import UserFactory

PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_reorders_a_round_robin_and_sees_the_path(live_server, browser):
    max_ = UserFactory(username="max", first_name="Max", last_name="Manager")
    max_.groups.add(Group.objects.get(name="Incident manager"))
    alice, bob, carol = (UserFactory(username=n) for n in ("alice", "bob", "carol"))
    policy = escalation_policy_create(
        name="Support",
        steps=[StepInput(delay=timedelta(0), targets=[RoundRobin(users=[alice, bob])])],
    )
    wait = WebDriverWait(browser, 30)
    url = f"/admin/incidents/escalationpolicy/{policy.pk}/change/"

    browser.get(f"{live_server.url}/admin/login/?next={url}")
    browser.find_element(By.NAME, "username").send_keys("max")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    box = wait.until(EC.presence_of_element_located((By.NAME, "steps-0-round_robins")))
    assert box.get_attribute("value") == "alice, bob"
    assert "1. at once: Round robin: alice → bob" in browser.find_element(By.TAG_NAME, "body").text

    box.clear()
    box.send_keys("carol, alice, bob")
    browser.find_element(By.NAME, "_continue").click()
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "ul.messagelist li")))
    path = browser.find_element(By.CSS_SELECTOR, ".field-path").text
    save_screenshot(browser, "round_robin_policy")
    assert "1. at once: Round robin: carol → alice → bob" in path
    target = EscalationTarget.objects.get(type="round_robin")
    assert [m.user.username for m in target.members.order_by("position")] == [
        "carol",
        "alice",
        "bob",
    ]
    assert carol.pk == target.members.get(position=0).user_id
