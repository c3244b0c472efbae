"""The public status page: only public services and public updates, never an internal note."""

import re
import socket
import xml.etree.ElementTree as ET
from datetime import timedelta

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from incidents.core import lifecycle
from incidents.models import Notification, Subscriber
from incidents.paging.delivery import deliver_due, notification_deliver
from tests.factories import ServiceFactory, make_incident

pytestmark = pytest.mark.django_db

SECRET = "internal: the pgbouncer password was rotated by hand"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def checkout(db):
    return ServiceFactory(
        name="Checkout", slug="checkout", is_public=True, public_description="Cart and payment"
    )


@pytest.fixture
def internal_service(db):
    return ServiceFactory(name="Build farm", slug="build-farm", is_public=False)


def announced(
    service, *, severity_key="P1", title="DB pool exhausted", public_title="Checkout errors"
):
    incident = make_incident(title=title, severity_key=severity_key, services=[service])
    lifecycle.status_update_post(incident=incident, message=SECRET, public=False)
    lifecycle.status_update_post(
        incident=incident,
        message="We are investigating errors at checkout.",
        public=True,
        public_title=public_title,
    )
    return incident


def page(client, url="/status/"):
    answer = client.get(url)
    assert answer.status_code == 200
    return answer.content.decode()


def test_all_operational_without_public_incidents(client, checkout, internal_service):
    make_incident(services=[checkout])  # not announced: no public update yet
    html = page(client)
    assert "All systems operational" in html
    assert "Checkout" in html and "Cart and payment" in html
    assert "Build farm" not in html


def test_internal_updates_never_appear_on_page_feed_or_json(client, checkout):
    incident = announced(checkout)
    for url in ("/status/", f"/status/incidents/{incident.number}/", "/status/feed.atom"):
        body = page(client, url)
        assert "We are investigating errors at checkout." in body
        assert SECRET not in body
        assert "DB pool exhausted" not in body  # the internal title stays internal
    as_json = client.get("/status.json")
    assert SECRET not in as_json.content.decode()
    assert "DB pool exhausted" not in as_json.content.decode()


@pytest.mark.parametrize(
    ("severity_key", "state", "label"),
    [
        ("P0", "major_outage", "Major outage"),
        ("P1", "partial_outage", "Partial outage"),
        ("P2", "degraded_performance", "Degraded performance"),
        ("P3", "degraded_performance", "Degraded performance"),
    ],
)
def test_service_state_follows_its_open_incidents(client, checkout, severity_key, state, label):
    announced(checkout, severity_key=severity_key)
    body = client.get("/status.json").json()
    assert body["services"] == [
        {
            "name": "Checkout",
            "slug": "checkout",
            "description": "Cart and payment",
            "status": state,
        }
    ]
    assert body["status"]["indicator"] == state
    assert label in page(client)


def test_worst_open_incident_wins(client, checkout):
    announced(checkout, severity_key="P2")
    announced(checkout, severity_key="P0")
    assert client.get("/status.json").json()["services"][0]["status"] == "major_outage"


def test_resolved_incident_moves_to_history_and_service_recovers(client, checkout):
    incident = announced(checkout, severity_key="P0")
    lifecycle.status_update_post(
        incident=incident, message="Fixed and verified.", public=True, status="resolved"
    )
    body = client.get("/status.json").json()
    assert body["services"][0]["status"] == "operational"
    assert body["incidents"] == []
    assert [i["title"] for i in body["history"]] == ["Checkout errors"]
    assert body["history"][0]["updates"][0]["message"] == "Fixed and verified."
    html = page(client)
    assert "All systems operational" in html
    assert "Past incidents" in html and "Checkout errors" in html


def test_history_keeps_fourteen_days(client, checkout):
    old = announced(checkout, public_title="Long ago")
    lifecycle.incident_resolve(incident=old)
    old.refresh_from_db()
    old.resolved_at = timezone.now() - timedelta(days=15)
    old.save(update_fields=["resolved_at"])
    recent = announced(checkout, public_title="Last week")
    lifecycle.incident_resolve(incident=recent)
    titles = [i["title"] for i in client.get("/status.json").json()["history"]]
    assert titles == ["Last week"]


def test_unannounced_or_internal_only_incidents_are_not_public(client, checkout, internal_service):
    quiet = make_incident(services=[checkout])
    lifecycle.status_update_post(incident=quiet, message=SECRET)
    hidden = make_incident(services=[internal_service])
    lifecycle.status_update_post(incident=hidden, message="public words", public=True)
    assert client.get(f"/status/incidents/{quiet.number}/").status_code == 404
    assert client.get(f"/status/incidents/{hidden.number}/").status_code == 404
    assert client.get("/status.json").json()["incidents"] == []


def test_neutral_title_when_no_public_title_was_given(client, checkout):
    incident = make_incident(title="pgbouncer OOM on db-3", services=[checkout])
    lifecycle.status_update_post(incident=incident, message="Looking into it.", public=True)
    html = page(client)
    assert "pgbouncer" not in html
    assert "Service disruption: Checkout" in html


def test_updates_are_newest_first(client, checkout):
    incident = announced(checkout)
    lifecycle.status_update_post(
        incident=incident, message="Fix deployed.", public=True, status="monitoring"
    )
    updates = client.get("/status.json").json()["incidents"][0]["updates"]
    assert [u["message"] for u in updates] == [
        "Fix deployed.",
        "We are investigating errors at checkout.",
    ]


def test_atom_feed_lists_public_updates(client, checkout):
    announced(checkout)
    feed = client.get("/status/feed.atom")
    assert feed["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert len(entries) == 1
    assert entries[0].find("a:title", ns).text == "Investigating: Checkout errors"


@pytest.mark.parametrize("incidents", [2, 20])
def test_page_runs_a_fixed_number_of_queries(
    client, checkout, incidents, django_assert_max_num_queries
):
    other = ServiceFactory(name="API", slug="api", is_public=True)
    for n in range(incidents):
        incident = announced(checkout if n % 2 else other, public_title=f"Incident {n}")
        if n % 3 == 0:
            lifecycle.incident_resolve(incident=incident)
    cache.clear()
    with django_assert_max_num_queries(4):
        assert client.get("/status/").status_code == 200
    cache.clear()
    with django_assert_max_num_queries(4):
        assert client.get("/status.json").status_code == 200


def test_page_is_cached_for_a_few_seconds(client, checkout, django_assert_num_queries):
    page(client)
    with django_assert_num_queries(0):
        page(client)


def test_page_needs_no_login_and_no_javascript(client, checkout):
    html = page(client)
    assert "<script" not in html
    assert '<main id="main"' in html


def test_subscribe_confirm_receive_and_unsubscribe(
    client, checkout, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            "/status/subscribe/", {"email": "Cust@Example.com", "services": [checkout.pk]}
        )
    assert answer.status_code == 200
    deliver_due()  # the delivery workers' part: the confirmation is an outbox row
    assert len(mail.outbox) == 1
    confirm_link = re.search(r"http\S+/subscribe/confirm/\S+/", mail.outbox[0].body).group(0)
    subscriber = Subscriber.objects.get(email="cust@example.com")
    assert not subscriber.is_active

    # No emails before confirmation.
    from incidents.statuspage.subscribers import subscribers_notify

    incident = announced(checkout)
    update = incident.updates.filter(public=True).first()
    assert subscribers_notify(update_id=update.pk) == 0

    path = confirm_link.split("127.0.0.1:8000", 1)[1]
    # Following the link (as a mail scanner does) only shows a button; pressing it confirms.
    shown = client.get(path)
    assert shown.status_code == 200
    assert "Confirm subscription" in shown.content.decode()
    subscriber.refresh_from_db()
    assert not subscriber.is_active
    assert client.post(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.is_active

    mail.outbox.clear()
    assert subscribers_notify(update_id=update.pk) == 1
    deliver_due()
    sent = mail.outbox[0]
    assert "We are investigating errors at checkout." in sent.body
    assert SECRET not in sent.body
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_path = sent.extra_headers["List-Unsubscribe"].strip("<>").split("8000", 1)[1]

    # GET only asks; the one-click POST (no CSRF token, as mail clients send it) unsubscribes.
    assert client.get(unsubscribe_path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.is_active
    from django.test import Client

    assert (
        Client(enforce_csrf_checks=True)
        .post(unsubscribe_path, {"List-Unsubscribe": "One-Click"})
        .status_code
        == 200
    )
    subscriber.refresh_from_db()
    assert not subscriber.is_active
    mail.outbox.clear()
    assert subscribers_notify(update_id=update.pk) == 0


def test_internal_update_is_never_emailed(client, checkout):
    from incidents.statuspage.subscribers import subscribers_notify

    Subscriber.objects.create(email="a@example.com", confirmed_at=timezone.now())
    incident = announced(checkout)
    internal = incident.updates.get(public=False)
    assert subscribers_notify(update_id=internal.pk) == 0
    assert mail.outbox == []


def test_subscribe_rejects_a_bad_address_with_400(client, checkout):
    answer = client.post("/status/subscribe/", {"email": "not-an-address"})
    assert answer.status_code == 400
    assert "Enter a valid email address." in answer.content.decode()
    assert not Subscriber.objects.exists()


def test_bad_tokens_are_404(client):
    assert client.get("/status/subscribe/confirm/nope/").status_code == 404
    assert client.post("/status/subscribe/confirm/nope/").status_code == 404
    assert client.get("/status/unsubscribe/nope/").status_code == 404
    assert client.post("/status/unsubscribe/nope/").status_code == 404


def test_public_title_only_with_public_update(checkout):
    from incidents.core.errors import DomainError

    incident = make_incident(services=[checkout])
    with pytest.raises(DomainError):
        lifecycle.status_update_post(incident=incident, message="x", public_title="Oops")


def test_public_update_template_names_public_services_only(checkout, internal_service):
    from incidents.core.texts import status_update_template

    checkout.public_name = "Online shop"
    checkout.save()
    incident = make_incident(title="pgbouncer OOM", services=[checkout, internal_service])
    public = status_update_template(incident=incident, status="investigating", public=True)
    assert "Online shop" in public
    assert "Build farm" not in public and "pgbouncer" not in public
    hidden = make_incident(title="pgbouncer OOM", services=[internal_service])
    text = status_update_template(incident=hidden, status="identified", public=True)
    assert "pgbouncer" not in text and "Build farm" not in text


def test_atom_feed_escapes_update_text_so_readers_show_it_as_text(client, checkout):
    incident = announced(checkout)
    lifecycle.status_update_post(
        incident=incident,
        message='Fixed <img src=x onerror="alert(1)"> & more\nline two',
        public=True,
    )
    root = ET.fromstring(client.get("/status/feed.atom").content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    summary = root.find("a:entry", ns).find("a:summary", ns)
    assert summary.get("type") == "html"
    # What a reader renders as HTML: the markup arrives as escaped text, not as an element.
    assert "<img" not in summary.text
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; more<br>line two" in summary.text


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_confirmation_link_needs_a_press_not_a_visit(client, checkout):
    subscriber = Subscriber.objects.create(email="scanned@example.com")
    path = f"/status/subscribe/confirm/{subscriber.token}/"
    for _ in range(3):  # a scanner may fetch a link several times
        assert client.get(path).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.confirmed_at is None
    page = Client(enforce_csrf_checks=True).get(path)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())[1]
    csrf = Client(enforce_csrf_checks=True)
    csrf.cookies = page.cookies
    assert csrf.post(path, {"csrfmiddlewaretoken": token}).status_code == 200
    subscriber.refresh_from_db()
    assert subscriber.is_active


def test_subscribe_while_the_mail_server_is_down_records_and_mails_later(
    client, checkout, settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = (
        "127.0.0.1",
        _closed_port(),
        3,
    )
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post("/status/subscribe/", {"email": "down@example.com"})
    assert answer.status_code == 200
    assert "Check your inbox" in answer.content.decode()
    subscriber = Subscriber.objects.get(email="down@example.com")
    assert not subscriber.is_active
    # The delivery worker's first try fails: the row stays queued, with the error and a retry.
    row = Notification.objects.get(reason="confirm", address="down@example.com")
    assert notification_deliver(notification_id=row.pk) == "queued"
    row.refresh_from_db()
    assert row.attempts == 1 and "Connection refused" in row.last_error
    # The retry, once the mail server answers again.
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notification_deliver(notification_id=row.pk, now=row.due_at) == "sent"
    assert len(mail.outbox) == 1
    assert f"/status/subscribe/confirm/{subscriber.token}/" in mail.outbox[0].body
    # A task published before the outbox, or a duplicate: nothing more is queued or sent.
    from incidents.statuspage.tasks import statuspage_send_confirmation

    assert statuspage_send_confirmation(subscriber.pk) is False
    client.post(f"/status/subscribe/confirm/{subscriber.token}/")
    assert statuspage_send_confirmation(subscriber.pk) is False
    assert deliver_due() == 0
    assert len(mail.outbox) == 1
