"""The inbox under load, with real processes: a gunicorn whose requests only commit inbox rows
(TOCSIN_INGEST_APPLY=worker) and `manage.py ingest_worker` subprocesses applying them, on the
test database (PostgreSQL, woken by NOTIFY; or the SQLite test file, polled, with smaller loads).

Every test posts Alertmanager notifications over real HTTP from a threaded client and waits,
with a generous deadline, for the database to show what the 202s promised.
"""

import http.client
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.db import connection
from django.db.models import Count

from incidents.core.defaults import ensure_default_severities
from incidents.models import Alert, InboxEvent, Incident, Integration, Notification, Severity
from incidents.models.inbox import InboxState
from incidents.paging.delivery import contact_method_create
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, make_integration
from tests.ingest_payloads import am_alert, am_notification
from tests.ingest_stack import IngestStack
from tests.webhook_sink import WebhookSink
from tests.worker_stack import flush_broker, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PATH = "/api/v1/integrations/alertmanager/"
POSTGRES = connection.vendor == "postgresql"


def _size(postgres: int, sqlite: int) -> int:
    """A load: its PostgreSQL size (TOCSIN_STORM_SCALE scales it), or SQLite's smaller one."""
    scale = float(os.environ.get("TOCSIN_STORM_SCALE", "1"))
    return max(1, int((postgres if connection.vendor == "postgresql" else sqlite) * scale))


@pytest.fixture(autouse=True)
def severities(transactional_db):
    ensure_default_severities(Severity)


@pytest.fixture
def stack(tmp_path):
    flush_broker()
    running = IngestStack(tmp_path)
    try:
        running.start_web()
        yield running
    finally:
        running.stop()
        # The subprocesses held connections to the test database; it is dropped at the end.
        connection.close()


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


def integration_token(**kwargs) -> str:
    _, token = make_integration(name="prometheus", kind="alertmanager", **kwargs)
    # The storm is the point: no rate limit refuses any of it.
    Integration.objects.update(rate_limit_per_second=0)
    return token


def one_alert(index: int, *, group: str | None = None) -> bytes:
    """A notification of one new alert, alone in its group unless `group` is given."""
    alert = am_alert(fingerprint=f"{index:016x}", instance=f"host-{index}:9100")
    return json.dumps(am_notification(alert, group=group or f"Storm{index}")).encode()


def post_all(url: str, token: str, bodies: list[bytes], concurrency: int) -> tuple[list, float]:
    """POST every body from `concurrency` threads on kept-alive connections, as fast as they
    go; each request's status (or error name), and the wall-clock time the last one was sent."""
    target = urlsplit(url)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    statuses: list = [None] * len(bodies)
    indexes = iter(range(len(bodies)))
    lock = threading.Lock()
    last_post = [0.0]

    def sender() -> None:
        conn = None
        while True:
            with lock:
                index = next(indexes, None)
            if index is None:
                break
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
                with lock:
                    last_post[0] = max(last_post[0], time.time())
                conn.request("POST", PATH, body=bodies[index], headers=headers)
                response = conn.getresponse()
                response.read()
                statuses[index] = response.status
                if response.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except OSError as error:
                statuses[index] = type(error).__name__
                conn = None

    threads = [threading.Thread(target=sender) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses, last_post[0]


def pending() -> int:
    return InboxEvent.objects.filter(state=InboxState.PENDING).count()


def last_incident_at() -> float:
    return (
        Incident.objects.order_by("-created_at").values_list("created_at", flat=True)[0].timestamp()
    )


def test_storm_of_distinct_alerts_each_gets_one_alert_and_one_incident(stack):
    """One alert per request, each in a group of its own: every alert opens an incident (the
    worst case). The full 20,000 is bench/ingest.py's job; the suite posts 1,000."""
    total = _size(400, 200)
    token = integration_token()
    stack.start_applier()
    stack.start_applier()
    bodies = [one_alert(i) for i in range(total)]

    started = time.time()
    statuses, last_post = post_all(stack.url, token, bodies, concurrency=16)
    accepted = time.time()

    assert statuses.count(202) == total, {s: statuses.count(s) for s in set(statuses)}
    done = wait_for(
        lambda: Alert.objects.count() >= total and not pending(),
        600,
        lambda: f"{Alert.objects.count()} of {total} alerts, {pending()} rows pending.\n"
        f"{stack.logs()}",
    )
    assert Alert.objects.count() == total
    assert Alert.objects.values("dedup_key").distinct().count() == total
    assert Alert.objects.filter(count=1, incident__isnull=False).count() == total
    assert Alert.objects.values("incident").distinct().count() == total
    assert Integration.objects.get().alert_count == total
    figures = (
        f"storm: {total} alerts posted in {accepted - started:.1f} s "
        f"({total / (accepted - started):.0f}/s accepted); the last incident was created "
        f"{last_incident_at() - last_post:.1f} s after the last post (seen {done - last_post:.1f} s)"
    )
    print(figures)
    assert Incident.objects.count() == total, figures


def test_worker_killed_mid_apply_leaves_every_event_applied_exactly_once(stack, sink):
    """SIGKILL an ingest worker between batches' commits: its open batch rolls back and stays
    pending; the next worker applies it. Counts, incidents and pages come out exactly once."""
    notifications, per = _size(60, 30), 10
    policy = paging_policy(sink)
    token = integration_token(service=ServiceFactory(escalation_policy=policy))
    stack.env["TOCSIN_INBOX_BATCH_ROWS"] = "10"  # many small batches: a kill lands amid them
    stack.start_celery()
    bodies = [
        json.dumps(
            am_notification(
                *(
                    am_alert(fingerprint=f"{n * per + i:016x}", instance=f"host-{n}-{i}:9100")
                    for i in range(per)
                ),
                group=f"Crash{n}",
            )
        ).encode()
        for n in range(notifications)
    ]
    statuses, _ = post_all(stack.url, token, bodies, concurrency=8)
    assert statuses == [202] * notifications
    assert pending() == notifications

    first = stack.start_applier()
    wait_for(
        lambda: 0 < pending() < notifications * 3 // 4,
        120,
        lambda: f"the worker applied nothing ({pending()} pending).\n{stack.logs()}",
    )
    stack.kill_applier(first)
    left = pending()
    assert left > 0, "the worker finished before it was killed: nothing was left to prove"
    stack.start_applier()
    wait_for(lambda: not pending(), 300, lambda: f"{pending()} rows pending.\n{stack.logs()}")

    total = notifications * per
    assert Alert.objects.count() == total
    assert list(Alert.objects.order_by().values_list("count", flat=True).distinct()) == [1]
    assert Incident.objects.count() == notifications
    assert not Alert.objects.values("incident").annotate(n=Count("id")).exclude(n=per).exists()
    assert Integration.objects.get().alert_count == total
    # One page per incident: its one step's notification row, delivered once.
    wait_for(
        lambda: Notification.objects.filter(status="sent").count() >= notifications,
        300,
        lambda: f"{Notification.objects.filter(status='sent').count()} pages sent.\n{stack.logs()}",
    )
    per_incident = Notification.objects.values("incident").annotate(n=Count("id"))
    assert per_incident.count() == notifications
    assert {row["n"] for row in per_incident} == {1}
    assert len(sink.bodies("/oncall")) == notifications
    print(f"crash: killed with {left} of {notifications} rows pending")


def paging_policy(sink):
    oncall = UserFactory(username="oona-oncall")
    contact_method_create(user=oncall, kind="webhook", address=f"{sink.url}/oncall")
    return escalation_policy_create(
        name="Storm", steps=[StepInput(delay=timedelta(0), targets=[oncall])]
    )


PARALLEL = 40


def post_at_once(url: str, token: str, bodies: list[bytes]) -> list:
    """Every body in its own thread, released together."""
    barrier = threading.Barrier(len(bodies))
    target = urlsplit(url)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    def send(body: bytes):
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        conn.connect()
        barrier.wait(60)
        conn.request("POST", PATH, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        conn.close()
        return response.status

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(send, bodies))


def test_40_identical_first_sightings_with_workers_applying_make_one_alert_counted_40(stack):
    token = integration_token()
    stack.start_applier()
    stack.start_applier()
    statuses = post_at_once(stack.url, token, [one_alert(1)] * PARALLEL)

    assert statuses == [202] * PARALLEL
    wait_for(
        lambda: InboxEvent.objects.filter(state=InboxState.APPLIED).count() == PARALLEL,
        120,
        lambda: f"{pending()} rows pending.\n{stack.logs()}",
    )
    alert = Alert.objects.get()
    assert alert.count == PARALLEL
    assert Incident.objects.count() == 1
    assert alert.incident_id == Incident.objects.get().pk


def test_40_notifications_of_one_group_at_once_make_one_incident_and_one_page(stack, sink):
    policy = paging_policy(sink)
    token = integration_token(service=ServiceFactory(escalation_policy=policy))
    stack.start_celery()
    stack.start_applier()
    stack.start_applier()
    bodies = [one_alert(i, group="CheckoutDown") for i in range(PARALLEL)]
    statuses = post_at_once(stack.url, token, bodies)

    assert statuses == [202] * PARALLEL
    wait_for(
        lambda: Alert.objects.count() == PARALLEL and not pending(),
        120,
        lambda: f"{Alert.objects.count()} alerts, {pending()} rows pending.\n{stack.logs()}",
    )
    incident = Incident.objects.get()
    assert incident.alerts.count() == PARALLEL
    wait_for(lambda: sink.bodies("/oncall"), 120, lambda: f"nobody was paged.\n{stack.logs()}")
    sent = Notification.objects.filter(status="sent")
    wait_for(lambda: sent.exists(), 60, lambda: f"page not recorded.\n{stack.logs()}")
    assert Notification.objects.filter(incident=incident).count() == 1
    assert len(sink.bodies("/oncall")) == 1
    assert incident.reference in sink.bodies("/oncall")[0]["text"]


def compact_alert(index: int) -> dict:
    """An alert with only what Alertmanager's schema requires and a label to tell it apart, so
    5,000 of them fit the 512 KiB body limit."""
    return {
        "status": "firing",
        "labels": {"alertname": "Big", "instance": f"h{index}"},
        "fingerprint": f"{index:016x}",
    }


def test_one_notification_of_5000_alerts_is_accepted_and_all_applied(stack):
    total = 5000
    token = integration_token()
    body = json.dumps(
        {
            "version": "4",
            "groupKey": '{}:{alertname="Big"}',
            "status": "firing",
            "groupLabels": {"alertname": "Big"},
            "alerts": [compact_alert(i) for i in range(total)],
        },
        separators=(",", ":"),
    ).encode()
    stack.start_applier()
    stack.start_applier()

    started = time.time()
    statuses, _ = post_all(stack.url, token, [body], concurrency=1)
    answered = time.time()
    assert statuses == [202]
    applied = wait_for(
        lambda: not pending(),
        600,
        lambda: f"{Alert.objects.count()} alerts so far.\n{stack.logs()}",
    )
    assert Alert.objects.count() == total
    assert Incident.objects.count() == 1
    assert Incident.objects.get().alerts.count() == total
    print(
        f"5,000 alerts in one notification ({len(body)} bytes): 202 in {answered - started:.2f} s,"
        f" applied {applied - started:.1f} s after the POST"
    )
