"""Content-Security-Policy: every page carries it, and the admin and status page work under it."""

import pytest
from django.urls import reverse
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from incidents.core.defaults import ensure_default_severities
from incidents.models import Severity
from postmortems.services import postmortem_draft
from tests.factories import ServiceFactory, UserFactory, make_incident, make_schedule

PASSWORD = "correct horse battery staple"


def directives(header: str) -> dict[str, list[str]]:
    parts = (d.split() for d in header.split(";") if d.strip())
    return {name: values for name, *values in parts}


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/admin/login/", "/status/", "/admin/"])
def test_pages_carry_a_policy_without_inline_script(client, url):
    if url == "/admin/":
        client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    answer = client.get(url)
    assert answer.status_code == 200
    policy = directives(answer["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert "'unsafe-inline'" not in policy["script-src"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["img-src"] == ["'self'", "data:"]


def csp_reports(browser) -> list[str]:
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_admin_and_status_page_run_in_chromium_without_a_csp_violation(live_server, browser):
    ensure_default_severities(Severity)
    UserFactory(username="root", is_staff=True, is_superuser=True)
    service = ServiceFactory(name="Checkout", slug="checkout", is_public=True)
    incident = make_incident(title="Checkout returns 502", severity_key="P1", services=[service])
    schedule = make_schedule(name="Primary", participants=[UserFactory(username="pat")])
    wait = WebDriverWait(browser, 10)

    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("root")
    browser.find_element(By.NAME, "password").send_keys(PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait.until(EC.presence_of_element_located((By.ID, "content-main")))
    postmortem, _ = postmortem_draft(incident=incident)

    pages = [
        "/admin/",
        reverse("admin:incidents_incident_changelist"),
        reverse("admin:incidents_incident_change", args=[incident.pk]),
        reverse("admin:incidents_incident_post_update", args=[incident.pk]),
        reverse("admin:incidents_schedule_change", args=[schedule.pk]),
        reverse("admin:incidents_teamchannel_add"),
        reverse("admin:postmortems_postmortem_change", args=[postmortem.pk]),
        reverse("admin:postmortems_postmortem_print", args=[postmortem.pk]),
        "/status/",
    ]
    for path in pages:
        browser.get(live_server.url + path)
        wait.until(lambda driver: driver.execute_script("return document.readyState") == "complete")
        assert csp_reports(browser) == [], path

    # The check can fail: an injected inline script is refused, and the refusal is logged.
    browser.get(f"{live_server.url}/admin/")
    browser.execute_script(
        "const s = document.createElement('script');"
        "s.textContent = 'window.injected = true;'; document.head.appendChild(s);"
    )
    assert browser.execute_script("return window.injected === undefined")
    assert any("inline script" in message for message in csp_reports(browser))


@pytest.mark.django_db
def test_api_docs_page_has_no_inline_script(admin_client):
    page = admin_client.get("/api/docs/")
    assert page.status_code == 200
    assert "Content-Security-Policy" in page
    text = page.content.decode()
    # Every script of the page is a file (the start-up script is served by the same view).
    assert text.count("<script") == text.count("<script src=")
    start = admin_client.get("/api/docs/", {"script": ""})
    assert start.status_code == 200 and "SwaggerUIBundle" in start.content.decode()
