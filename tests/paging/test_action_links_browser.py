"""The paged person opens the acknowledge link of a real e-mailed page on a phone, in Chromium."""

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.utils import timezone
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from incidents.models import ActionLinkUse, Incident, TimelineEvent
from incidents.paging import engine as escalation
from incidents.paging.delivery import deliver_due
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.conftest import save_screenshot
from tests.factories import ServiceFactory, UserFactory, make_incident

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_paged_person_acknowledges_from_a_phone(live_server, browser, settings):
    settings.TOCSIN_BASE_URL = live_server.url
    rita = UserFactory(username="rita", first_name="Rita", last_name="Responder")
    rita.groups.add(Group.objects.get(name="Responder"))
    lee = UserFactory(username="lee", first_name="Lee", last_name="Lead")
    policy = escalation_policy_create(
        name="Checkout",
        steps=[
            StepInput(delay=timedelta(0), targets=[rita]),
            StepInput(delay=timedelta(minutes=15), targets=[lee]),
        ],
    )
    service = ServiceFactory(name="Checkout", escalation_policy=policy)
    now = timezone.now()
    incident = make_incident(
        title="Checkout returns 502 for card payments", services=[service], detected_at=now
    )
    state = escalation.escalation_start(incident_id=incident.pk, now=now)
    assert escalation.escalation_fire_step(escalation_id=state.pk, now=now)
    assert deliver_due() == 1
    (page,) = mail.outbox
    link = re.search(r"^Acknowledge: (\S+)$", page.body, re.MULTILINE).group(1)
    assert link.startswith(f"{live_server.url}/act/")

    browser.set_window_size(390, 844)
    wait = WebDriverWait(browser, 20)
    browser.get(link)
    button = wait.until(EC.element_to_be_clickable((By.ID, "act-button")))
    assert button.text == f"Acknowledge {incident.reference}"
    card = browser.find_element(By.CSS_SELECTOR, ".card")
    assert incident.reference in card.text and "Checkout returns 502" in card.text
    assert "Rita Responder" in card.text and "Checkout" in card.text
    severity = browser.find_element(By.CSS_SELECTOR, ".tocsin-sev")
    assert severity.text == "P1" and severity.is_displayed()
    # The page fits the phone: no sideways scrolling, and the button spans the width.
    assert browser.execute_script("return document.documentElement.scrollWidth") <= 390
    assert button.size["width"] >= 300 and button.size["height"] >= 48
    save_screenshot(browser, "action-link-phone")
    # Opening the link changed nothing.
    assert Incident.objects.get(pk=incident.pk).status == "triggered"
    assert not ActionLinkUse.objects.exists()

    button.click()
    result = wait.until(EC.presence_of_element_located((By.ID, "result")))
    assert result.text == (
        f"{incident.reference} acknowledged by Rita Responder. Escalation stopped."
    )
    save_screenshot(browser, "action-link-phone-done")
    assert Incident.objects.get(pk=incident.pk).status == "acknowledged"
    assert TimelineEvent.objects.filter(
        incident=incident, actor=rita, actor_label="Rita Responder via page link"
    ).exists()
    assert ActionLinkUse.objects.filter(user=rita, incident=incident).count() == 1
