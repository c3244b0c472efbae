"""Configuring an integration in the admin: its severity mapping is checked on save."""

import html
import re
import subprocess

import pytest
import yaml
from django.urls import reverse

from incidents.models import Integration
from tests.factories import make_integration
from tests.programs import require_program

pytestmark = pytest.mark.django_db


def add_form(**overrides):
    return {
        "name": "Prometheus prod",
        "kind": "alertmanager",
        "enabled": "on",
        "severity_mapping": "{}",
        "resolve_incident_on_alert_resolve": "on",
        "rate_limit_per_second": "100",
        "rate_limit_burst": "1000",
        **overrides,
    }


def test_a_mapping_to_an_unknown_severity_is_refused_naming_it(admin_client):
    response = admin_client.post(
        reverse("admin:incidents_integration_add"),
        add_form(severity_mapping='{"critical": "P7", "warning": "P2"}'),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["severity_mapping"] == [
        "Unknown severity: 'P7' (for 'critical'). Our severities are P0, P1, P2, P3."
    ]
    assert not Integration.objects.exists()


def test_changing_a_mapping_to_an_unknown_severity_is_refused(admin_client):
    integration, _ = make_integration(name="prom", kind="alertmanager")
    url = reverse("admin:incidents_integration_change", args=[integration.pk])

    response = admin_client.post(
        url, add_form(name="prom", severity_mapping='{"critical": "P7", "page": 1}')
    )

    assert response.status_code == 200
    (message,) = response.context["adminform"].form.errors["severity_mapping"]
    assert "'P7' (for 'critical')" in message and "1 (for 'page')" in message
    integration.refresh_from_db()
    assert integration.severity_mapping == {"critical": "P1", "warning": "P2", "info": "P3"}


def test_a_mapping_to_known_severities_saves_whatever_their_case(admin_client):
    integration, _ = make_integration(name="prom", kind="alertmanager")
    url = reverse("admin:incidents_integration_change", args=[integration.pk])

    response = admin_client.post(
        url, add_form(name="prom", severity_mapping='{"critical": "p0", "page": "P1"}')
    )

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.severity_mapping == {"critical": "p0", "page": "P1"}


@pytest.mark.parametrize(
    ("kind", "path", "snippet"),
    [
        ("alertmanager", "/api/v1/integrations/alertmanager/", "credentials: &lt;TOKEN&gt;"),
        ("grafana", "/api/v1/integrations/grafana/", "authorization_credentials: &lt;TOKEN&gt;"),
        ("pagerduty", "/v2/enqueue", '"routing_key": "&lt;TOKEN&gt;"'),
        ("opsgenie", "/v2/alerts", "Authorization: GenieKey &lt;TOKEN&gt;"),
        ("generic", "/api/v1/integrations/generic/", "Authorization: Bearer &lt;TOKEN&gt;"),
    ],
)
def test_the_change_page_shows_the_endpoint_and_an_example_without_the_token(
    admin_client, settings, kind, path, snippet
):
    settings.TOCSIN_BASE_URL = "https://tocsin.example.com"
    integration, token = make_integration(name=f"{kind} prod", kind=kind)

    page = admin_client.get(reverse("admin:incidents_integration_change", args=[integration.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    endpoint = f"https://tocsin.example.com{path}"
    assert f'<code class="tocsin-endpoint">{endpoint}</code>' in html
    assert snippet in html
    assert f"<code>{token[:8]}</code>" in html
    assert token not in html and integration.token_hash not in html


def test_the_alertmanager_example_is_a_receiver_amtool_accepts(admin_client, settings, tmp_path):
    settings.TOCSIN_BASE_URL = "https://tocsin.example.com"
    integration, _ = make_integration(name="am", kind="alertmanager")
    page = admin_client.get(reverse("admin:incidents_integration_change", args=[integration.pk]))

    (example,) = re.findall(r'<pre class="tocsin-example">(.*?)</pre>', page.content.decode(), re.S)
    receiver = html.unescape(example).replace("<TOKEN>", "tk_example")
    config = tmp_path / "alertmanager.yml"
    config.write_text("route:\n  receiver: tocsin\n" + receiver + "\n")
    checked = subprocess.run(
        [require_program("amtool"), "check-config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert checked.returncode == 0, checked.stdout + checked.stderr
    webhook = yaml.safe_load(receiver)["receivers"][0]["webhook_configs"][0]
    assert webhook["url"] == "https://tocsin.example.com/api/v1/integrations/alertmanager/"
    assert webhook["http_config"]["authorization"] == {
        "type": "Bearer",
        "credentials": "tk_example",
    }


def test_the_add_page_has_no_sender_setup(admin_client):
    page = admin_client.get(reverse("admin:incidents_integration_add"))

    assert page.status_code == 200
    assert "tocsin-endpoint" not in page.content.decode()
