"""The browsable API docs work on a machine without internet: Swagger UI is served from here."""

import re

import pytest
from django.contrib.staticfiles import finders
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.conftest import save_screenshot

ASSET = re.compile(r"""(?:src|href)=["']([^"']+)["']""")


@pytest.mark.django_db
def test_docs_page_loads_every_asset_from_our_own_static_files(client, settings):
    page = client.get("/api/docs/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn." not in html and "@latest" not in html
    assets = ASSET.findall(html)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets), assets
    # The start-up script is served by the docs view itself (the CSP allows no inline script).
    [script] = [a for a in assets if not a.startswith(settings.STATIC_URL)]
    assert script == "/api/docs/?script="
    start_up = client.get(script)
    assert start_up.status_code == 200 and "cdn." not in start_up.content.decode()
    for asset in assets:
        if asset != script:
            assert finders.find(asset.removeprefix(settings.STATIC_URL)), asset


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_docs_render_the_schema_in_a_real_browser(live_server, browser):
    browser.get(f"{live_server.url}/api/docs/")

    title = WebDriverWait(browser, 20).until(
        expected_conditions.visibility_of_element_located((By.CSS_SELECTOR, ".swagger-ui .title"))
    )
    assert title.text.startswith("Tocsin API")
    operations = WebDriverWait(browser, 20).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")
    )
    assert "/api/v1/incidents/" in {op.text.replace("\u200b", "") for op in operations}
    save_screenshot(browser, "api-docs")
