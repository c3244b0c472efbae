"""Outgoing webhooks: refused destinations at save time and at send time, answer bodies kept out."""

import ssl
import subprocess
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from django.urls import reverse
from django.utils import timezone

from incidents.core import outbound
from incidents.core.errors import DomainError
from incidents.models import ContactMethod, Notification, Schedule, TeamChannel
from incidents.paging import engine as escalation
from incidents.paging.delivery import contact_method_create, notification_deliver
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.api.test_escalation_api import client_for
from tests.factories import ServiceFactory, UserFactory, make_incident
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db

REFUSED_WITHOUT_ALLOWANCE = [
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "http://10.0.0.1/",
    "http://127.0.0.1:5432/",
    "http://[::1]:8080/hook",
    "http://[fe80::1]/hook",
    "http://metadata.google.internal/computeMetadata/v1/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00:ec2::254]/",
    "http://0.0.0.0:8000/",
    "http://192.168.1.20/chat",
    "http://localhost:9000/",
]
ALWAYS_REFUSED = [
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/hook",
    "http://metadata.google.internal/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:169.254.169.254]/",
]


@pytest.fixture
def no_allowance(settings):
    settings.TOCSIN_OUTBOUND_ALLOWED_NETWORKS = []


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


@pytest.fixture
def pat(db):
    return UserFactory(username="pat")


def paged(channel):
    policy = escalation_policy_create(
        name="Page", steps=[StepInput(delay=timedelta(0), targets=[channel])]
    )
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
    incident = make_incident(title="Checkout down", services=[service])
    state = escalation.escalation_start(incident_id=incident.pk)
    escalation.escalation_fire_step(escalation_id=state.pk)
    return Notification.objects.get(incident=incident)


@pytest.mark.parametrize("address", REFUSED_WITHOUT_ALLOWANCE)
def test_private_loopback_link_local_and_metadata_addresses_are_refused_on_save(
    pat, no_allowance, address
):
    with pytest.raises(DomainError) as error:
        contact_method_create(user=pat, kind="webhook", address=address)
    assert error.value.field == "address"
    assert "Refused webhook address" in error.value.message
    assert not ContactMethod.objects.exists()


@pytest.mark.parametrize("address", ALWAYS_REFUSED)
def test_link_local_and_metadata_are_refused_even_when_every_network_is_allowed(
    pat, settings, address
):
    settings.TOCSIN_OUTBOUND_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0", "metadata.google.internal"]
    with pytest.raises(DomainError, match="never sends there"):
        contact_method_create(user=pat, kind="webhook", address=address)


def test_allowed_networks_and_host_names_let_lan_destinations_in(pat, settings):
    settings.TOCSIN_OUTBOUND_ALLOWED_NETWORKS = ["10.20.0.0/16", "localhost"]
    contact_method_create(user=pat, kind="webhook", address="http://10.20.3.4/chat")
    contact_method_create(user=pat, kind="webhook", address="http://localhost:9000/push")
    with pytest.raises(DomainError):
        contact_method_create(user=pat, kind="webhook", address="http://10.21.0.1/chat")
    assert ContactMethod.objects.count() == 2


def test_a_public_name_that_does_not_resolve_yet_is_accepted_on_save(pat, no_allowance):
    contact_method_create(user=pat, kind="webhook", address="https://hooks.example.com/T0/B0/x")
    assert ContactMethod.objects.count() == 1


def test_api_answers_400_naming_the_address(manager, no_allowance):
    UserFactory(username="pat")
    answer = client_for(manager).post(
        "/api/v1/users/pat/contact-methods/",
        {"kind": "webhook", "address": "http://169.254.169.254/latest/meta-data/"},
        format="json",
    )
    assert answer.status_code == 400
    assert "link-local or cloud-metadata" in str(answer.json()["address"])
    assert not ContactMethod.objects.exists()


def schedule_with_handoff_to(address: str) -> dict:
    return {
        "name": "Primary",
        "time_zone": "UTC",
        "rotations": [
            {
                "name": "Weekly",
                "participants": [UserFactory(username="pat").username],
                "shift": "weekly",
                "handoff_time": "09:00",
                "start": "2026-01-05",
            }
        ],
        "handoff_notify": [{"kind": "webhook", "address": address}],
    }


def test_schedule_api_refuses_a_private_handoff_channel(manager, no_allowance):
    answer = client_for(manager).post(
        "/api/v1/schedules/", schedule_with_handoff_to("http://10.0.0.1/"), format="json"
    )
    assert answer.status_code == 400, answer.json()
    assert "private, loopback" in str(answer.json())
    assert not Schedule.objects.exists()


def test_team_channel_admin_form_refuses_a_metadata_address(admin_client):
    answer = admin_client.post(
        reverse("admin:incidents_teamchannel_add"),
        {"name": "#ops", "kind": "webhook", "address": "http://169.254.169.254/"},
    )
    assert answer.status_code == 200
    assert "never sends there" in answer.content.decode()
    assert not TeamChannel.objects.exists()


def test_send_time_check_refuses_an_address_no_longer_allowed(sink, settings):
    # Saved while allowed (or written before the policy existed), refused when sending.
    channel = TeamChannel.objects.create(name="#ops", kind="webhook", address=f"{sink.url}/team")
    row = paged(channel)
    settings.TOCSIN_OUTBOUND_ALLOWED_NETWORKS = []
    assert notification_deliver(notification_id=row.pk) == "queued"
    row.refresh_from_db()
    assert row.last_error.startswith("OutboundRefused: 127.0.0.1 is a private, loopback")
    assert sink.received == []


def test_send_time_check_uses_what_the_name_resolves_to_then(sink, settings):
    port = sink.server.server_address[1]
    channel = TeamChannel.objects.create(
        name="#ops", kind="webhook", address=f"http://localhost:{port}/team"
    )
    row = paged(channel)
    settings.TOCSIN_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    # localhost resolves to a loopback address the setting allows: sent there, named as typed.
    assert notification_deliver(notification_id=row.pk) == "sent"
    assert [r["host"] for r in sink.received] == [f"localhost:{port}"]


def test_receiver_answer_body_is_not_stored(sink):
    sink.status = 500
    sink.answer = b"invalid_token xoxb-1234-secret for https://hooks.slack.com/services/T/B/Z"
    channel = TeamChannel.objects.create(name="#ops", kind="webhook", address=f"{sink.url}/team")
    row = paged(channel)
    notification_deliver(notification_id=row.pk, now=timezone.now())
    row.refresh_from_db()
    assert row.last_error == "DeliveryError: HTTP 500 Internal Server Error"


@pytest.fixture
def tls_server(tmp_path):
    """A real HTTPS server on 127.0.0.1 with a certificate for "localhost" only."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost"),
            *("-addext", "subjectAltName=DNS:localhost"),
        ],
        check=True,
        capture_output=True,
    )
    seen = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            seen["host"] = self.headers["Host"]
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen.update(sni=name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], ssl.create_default_context(cafile=str(cert)), seen
    server.shutdown()
    server.server_close()


def test_https_goes_to_the_vetted_address_with_the_name_for_sni_and_the_certificate(tls_server):
    port, trust, seen = tls_server
    with httpx.Client(verify=trust) as client:
        answer = outbound.post(client, f"https://localhost:{port}/hook", json={"text": "hi"})
    assert answer.status_code == 200
    assert seen == {"sni": "localhost", "host": f"localhost:{port}"}
    # The certificate is still checked against the name: one not for the URL's host is refused.
    with httpx.Client(verify=trust) as client, pytest.raises(httpx.ConnectError, match="mismatch"):
        outbound.post(client, f"https://127.0.0.1:{port}/hook", json={"text": "hi"})
