"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager) posts to a running Tocsin.

amtool fires an alert, Alertmanager groups it and posts its webhook; the alert is repeated
(the same notification after repeat_interval) and then resolved with amtool --end.
"""

import socket
import subprocess
import time
from datetime import UTC, datetime

import httpx
import pytest

from incidents.core.choices import IncidentStatus
from incidents.core.defaults import ensure_default_severities
from incidents.models import Alert, Incident, Severity
from tests.factories import make_integration
from tests.programs import PROGRAMS, require_program

CONFIG = """
route:
  receiver: tocsin
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: tocsin
    webhook_configs:
      - url: {url}/api/v1/integrations/alertmanager/
        send_resolved: true
        http_config:
          authorization:
            credentials: {token}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(condition, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError("timed out waiting for Alertmanager to deliver")


@pytest.fixture
def programs(request):
    """Debian's prometheus-alertmanager package brings both."""
    test = request.node.name
    return {name: require_program(name, test) for name in ("alertmanager", "amtool")}


@pytest.fixture
def alertmanager(programs, server_url, tmp_path):
    ensure_default_severities(Severity)
    _, token = make_integration(name="prometheus", kind="alertmanager", rate_limit_per_second=0)
    config = tmp_path / "alertmanager.yml"
    config.write_text(CONFIG.format(url=server_url, token=token))
    port = _free_port()
    process = subprocess.Popen(
        [
            programs["alertmanager"],
            f"--config.file={config}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(lambda: _ready(url), timeout=15)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def amtool(url: str, *args: str) -> None:
    subprocess.run(
        [PROGRAMS["amtool"].path, "alert", "add", f"--alertmanager.url={url}", *args],
        check=True,
        capture_output=True,
        timeout=15,
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_real_alertmanager_fires_repeats_and_resolves(alertmanager):
    labels = ["alertname=DiskFull", "severity=critical", "instance=db-1:9100"]
    started = datetime.now(UTC)
    amtool(alertmanager, *labels, "--annotation=summary=Disk on db-1 is full")

    alert = _wait_for(lambda: Alert.objects.filter(status="firing").first())
    incident = alert.incident
    assert incident.title == "Disk on db-1 is full"
    assert incident.severity.key == "P1"
    assert incident.status == IncidentStatus.TRIGGERED
    assert len(alert.dedup_key) == 16  # Alertmanager's fingerprint

    # repeat_interval is 2 s: the same group comes again and folds into the same alert.
    _wait_for(lambda: Alert.objects.get(pk=alert.pk).count >= 2, timeout=20)
    assert Incident.objects.count() == 1

    ended = datetime.now(UTC)
    amtool(
        alertmanager,
        *labels,
        "--annotation=summary=Disk on db-1 is full",
        f"--start={started.isoformat()}",
        f"--end={ended.isoformat()}",
    )

    _wait_for(lambda: Alert.objects.get(pk=alert.pk).status == "resolved", timeout=30)
    incident.refresh_from_db()
    assert incident.status == IncidentStatus.RESOLVED
    assert Alert.objects.count() == 1
