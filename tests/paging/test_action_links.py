"""Action links (issue 13): every page carries signed links that act as the paged person.

The links are taken out of what a real local HTTP server received (WebhookSink), or out of the
mail outbox, and followed with Django's test client; what is asserted is what a person and the
database see: status codes, the page's words, the incident, its timeline, the link uses, and
who else gets paged.
"""

import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from incidents.core import lifecycle
from incidents.core.formatting import person_name
from incidents.models import ActionLinkUse, Incident, Notification, TeamChannel, TimelineEvent
from incidents.paging import engine as escalation
from incidents.paging import outbox
from incidents.paging.actions import links
from incidents.paging.delivery import contact_method_create, deliver_due, notification_deliver
from incidents.paging.policies import StepInput, escalation_policy_create
from incidents.paging.steps import escalation_fire_due
from tests.factories import ServiceFactory, UserFactory, make_incident
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db

LINE = {
    "acknowledge": "Acknowledge",
    "resolve": "Resolve",
    "escalate": "Escalate now",
    "open": "Open",
}


@pytest.fixture
def sink():
    with WebhookSink() as server:
        yield server


@pytest.fixture(autouse=True)
def _base_url(settings):
    settings.TOCSIN_BASE_URL = "http://testserver"


def member(username: str, group: str = "Responder"):
    user = UserFactory(username=username, first_name=username.split("-")[0].title())
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def rita(sink):
    user = member("rita-responder")
    contact_method_create(user=user, kind="webhook", address=f"{sink.url}/rita")
    return user


@pytest.fixture
def lee(sink):
    user = member("lee-lead")
    contact_method_create(user=user, kind="webhook", address=f"{sink.url}/lee")
    return user


def paged_incident(first, second, *, title="Checkout returns 502"):
    """An incident whose policy pages `first` now and `second` 15 minutes later; the first
    step has fired and its pages have been delivered."""
    policy = escalation_policy_create(
        name=f"Checkout {first.username} {title[:20]}",
        steps=[
            StepInput(delay=timedelta(0), targets=[first]),
            StepInput(delay=timedelta(minutes=15), targets=[second]),
        ],
    )
    service = ServiceFactory(name=f"Checkout {title[:20]}", escalation_policy=policy)
    now = timezone.now()
    incident = make_incident(title=title, services=[service], detected_at=now)
    state = escalation.escalation_start(incident_id=incident.pk, now=now)
    assert escalation.escalation_fire_step(escalation_id=state.pk, now=now)
    assert deliver_due() >= 1
    return Incident.objects.get(pk=incident.pk)


def received_links(sink, path: str) -> dict[str, str]:
    """The links the last message to `path` carries, by action, as the person reads them."""
    text = sink.bodies(path)[-1]["text"]
    found = {}
    for verb, label in LINE.items():
        match = re.search(rf"^{label}: (\S+)$", text, re.MULTILINE)
        if match:
            found[verb] = match.group(1)
    return found


def path_of(url: str) -> str:
    return urlsplit(url).path


def token_of(url: str) -> str:
    return path_of(url).removeprefix("/act/")


def post(client, url: str, **headers):
    return client.post(path_of(url), {"token": token_of(url)}, **headers)


def snapshot(incident):
    """What a link must not change unless it acts."""
    incident.refresh_from_db()
    return (
        incident.status,
        TimelineEvent.objects.filter(incident=incident).count(),
        ActionLinkUse.objects.count(),
        Notification.objects.filter(incident=incident).count(),
    )


def test_acknowledge_link_from_a_delivered_page_acts_once_and_stops_the_escalation(
    client, sink, rita, lee
):
    incident = paged_incident(rita, lee)
    found = received_links(sink, "/rita")
    assert set(found) == {"acknowledge", "resolve", "escalate", "open"}
    assert found["acknowledge"].startswith("http://testserver/act/")
    assert found["open"] == f"http://testserver/admin/incidents/incident/{incident.pk}/change/"
    # A retried send carries the same links: they are stored on the row with its text.
    row = Notification.objects.get(incident=incident, user=rita)
    assert row.links == found

    # GET (a mail scanner, an unfurler, or the person) shows the incident and changes nothing.
    before = snapshot(incident)
    page = client.get(path_of(found["acknowledge"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert incident.reference in html and "Checkout returns 502" in html
    assert "P1" in html and "tocsin-sev" in html
    assert "Triggered" in html and person_name(rita) in html
    assert f"Acknowledge {incident.reference}</button>" in html
    assert 'name="viewport"' in html
    assert "no-store" in page["Cache-Control"] and page["Referrer-Policy"] == "no-referrer"
    assert snapshot(incident) == before

    # POST acts as Rita, with no session.
    done = post(client, found["acknowledge"])
    assert done.status_code == 200
    assert (
        f"{incident.reference} acknowledged by {person_name(rita)}. Escalation stopped."
        in done.content.decode()
    )
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    event = TimelineEvent.objects.get(incident=incident, after__status="acknowledged")
    assert event.actor == rita
    assert event.actor_label == f"{person_name(rita)} via page link"
    use = ActionLinkUse.objects.get()
    assert (use.user, use.incident, use.action) == (rita, incident, "acknowledge")

    # The escalation has stopped: long after step 2 was due, nobody more is paged.
    escalation_fire_due(now=timezone.now() + timedelta(hours=1))
    deliver_due()
    assert not Notification.objects.filter(incident=incident, step=1).exists()
    assert sink.requests("/lee") == []

    # A second press of the same link is a clear page, and nothing changes.
    before = snapshot(incident)
    again = post(client, found["acknowledge"])
    assert again.status_code == 410
    assert "used already" in again.content.decode()
    assert found["open"] in again.content.decode()
    assert client.get(path_of(found["acknowledge"])).status_code == 410
    assert snapshot(incident) == before


def test_the_same_message_made_again_carries_the_same_link_ids(rita, lee, sink):
    incident = paged_incident(rita, lee)
    row = Notification.objects.get(incident=incident, user=rita)
    first = links.read(token_of(row.links["acknowledge"]))
    assert first.link_id == links.link_id_for(row.dedup_key, "acknowledge")
    again = links.links_for(row)
    assert links.read(token_of(again["acknowledge"])).link_id == first.link_id
    assert links.read(token_of(again["resolve"])).link_id != first.link_id


def test_a_link_for_a_resolved_incident_never_acts(client, sink, rita, lee):
    manager = member("max-manager", "Incident manager")
    incident = paged_incident(rita, lee)
    found = received_links(sink, "/rita")
    lifecycle.incident_resolve(incident=incident, actor=manager)
    before = snapshot(incident)
    for verb in ("acknowledge", "resolve", "escalate"):
        assert client.get(path_of(found[verb])).status_code == 410
        answer = post(client, found[verb])
        assert answer.status_code == 410
        body = answer.content.decode()
        assert f"{incident.reference} is resolved" in body and found["open"] in body
    assert snapshot(incident) == before


def test_a_tampered_link_answers_400_and_changes_nothing(client, sink, rita, lee):
    incident = paged_incident(rita, lee)
    url = received_links(sink, "/rita")["acknowledge"]
    token = token_of(url)
    # Another incident's number in the payload, or a changed signature: neither verifies.
    forged = links.make_token(
        user_id=rita.pk, incident_id=incident.pk, verb="acknowledge", link_id="x"
    )
    forged = forged.rsplit(":", 1)[0] + ":" + token.rsplit(":", 1)[1]
    before = snapshot(incident)
    for bad in (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), forged, "nope", "a:b"):
        assert client.get(f"/act/{bad}").status_code == 400
        answer = client.post(f"/act/{bad}", {"token": bad})
        assert answer.status_code == 400
        assert "not a Tocsin action link" in answer.content.decode()
    assert snapshot(incident) == before


def test_a_bad_token_costs_no_database_query(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert client.get("/act/WzEsMiwiYSIsIngiLDFd:forgedsignature").status_code == 400
        assert client.post("/act/garbage", {"token": "garbage"}).status_code == 400


def test_an_expired_link_answers_410_and_changes_nothing(client, sink, rita, lee, settings):
    incident = paged_incident(rita, lee)
    url = received_links(sink, "/rita")["acknowledge"]
    real = links.read(token_of(url))
    # The real link, a day and a second later.
    with pytest.raises(links.LinkGone, match="expired"):
        links.read(token_of(url), now=time.time() + 24 * 3600 + 1)
    # The same link signed two hours ago, with links valid for one hour.
    settings.TOCSIN_ACTION_LINK_MAX_AGE_SECONDS = 3600
    old = links.make_token(
        user_id=rita.pk,
        incident_id=incident.pk,
        verb="acknowledge",
        link_id=real.link_id,
        issued_at=int(time.time()) - 7200,
    )
    before = snapshot(incident)
    assert client.get(f"/act/{old}").status_code == 410
    answer = client.post(f"/act/{old}", {"token": old})
    assert answer.status_code == 410
    body = answer.content.decode()
    assert "expired" in body and "1 hour" in body
    assert f"/admin/incidents/incident/{incident.pk}/change/" in body
    assert snapshot(incident) == before


def test_a_viewers_page_carries_only_the_open_link(sink, lee):
    vera = member("vera-viewer", "Viewer")
    contact_method_create(user=vera, kind="webhook", address=f"{sink.url}/vera")
    incident = paged_incident(vera, lee)
    found = received_links(sink, "/vera")
    assert found == {"open": f"http://testserver/admin/incidents/incident/{incident.pk}/change/"}
    text = sink.bodies("/vera")[-1]["text"]
    assert "/act/" not in text
    assert Notification.objects.get(incident=incident, user=vera).links == found


def test_a_team_channel_gets_only_the_open_link(sink, rita):
    channel = TeamChannel.objects.create(name="#ops", kind="webhook", address=f"{sink.url}/ops")
    incident = paged_incident(rita, channel)
    later = timezone.now() + timedelta(minutes=16)
    escalation_fire_due(now=later)
    row = Notification.objects.get(incident=incident, channel=channel)
    assert notification_deliver(notification_id=row.pk, now=later) == "sent"
    assert received_links(sink, "/ops") == {
        "open": f"http://testserver/admin/incidents/incident/{incident.pk}/change/"
    }


def test_an_emailed_page_carries_the_links_too(rita, lee):
    erin = member("erin-email")
    incident = paged_incident(erin, lee)
    message = next(m for m in mail.outbox if m.to == [erin.email])
    assert re.search(r"^Acknowledge: http://testserver/act/\S+$", message.body, re.MULTILINE)
    assert f"Open: http://testserver/admin/incidents/incident/{incident.pk}/change/" in (
        message.body
    )


def test_a_person_who_lost_the_permission_gets_403_and_nothing_changes(client, sink, rita, lee):
    incident = paged_incident(rita, lee)
    found = received_links(sink, "/rita")
    rita.groups.clear()
    before = snapshot(incident)
    assert client.get(path_of(found["acknowledge"])).status_code == 403
    answer = post(client, found["acknowledge"])
    assert answer.status_code == 403
    assert "may no longer acknowledge" in answer.content.decode()
    assert found["open"] in answer.content.decode()
    assert snapshot(incident) == before


def test_an_inactive_account_gets_403(client, sink, rita, lee):
    incident = paged_incident(rita, lee)
    found = received_links(sink, "/rita")
    type(rita).objects.filter(pk=rita.pk).update(is_active=False)
    before = snapshot(incident)
    answer = post(client, found["resolve"])
    assert answer.status_code == 403 and "not active" in answer.content.decode()
    assert snapshot(incident) == before


def test_resolve_link_resolves_as_the_paged_person(client, sink, rita, lee):
    incident = paged_incident(rita, lee)
    found = received_links(sink, "/rita")
    answer = post(client, found["resolve"])
    assert answer.status_code == 200
    assert f"{incident.reference} resolved by {person_name(rita)}." in answer.content.decode()
    incident.refresh_from_db()
    assert incident.status == "resolved"
    event = TimelineEvent.objects.get(incident=incident, after__status="resolved")
    assert event.actor_label == f"{person_name(rita)} via page link"
    # Every other link of that page is now gone.
    assert post(client, found["acknowledge"]).status_code == 410


def test_escalate_link_pages_the_next_step_now(client, sink, rita, lee):
    incident = paged_incident(rita, lee)
    found = received_links(sink, "/rita")
    answer = post(client, found["escalate"])
    assert answer.status_code == 200
    assert f"{incident.reference} escalated by {person_name(rita)}" in answer.content.decode()
    assert Notification.objects.filter(incident=incident, step=1, user=lee).exists()
    deliver_due()
    assert len(sink.requests("/lee")) == 1
    assert TimelineEvent.objects.filter(
        incident=incident, actor_label=f"{person_name(rita)} via page link"
    ).exists()
    # Once used, the escalate link does not page again.
    assert post(client, found["escalate"]).status_code == 410
    assert Notification.objects.filter(incident=incident, step=1).count() == 1


def test_an_acknowledge_link_after_someone_else_acknowledged_is_not_used_up(
    client, sink, rita, lee
):
    incident = paged_incident(rita, lee)
    found = received_links(sink, "/rita")
    lifecycle.incident_acknowledge(incident=incident, actor=lee)
    before = snapshot(incident)
    answer = post(client, found["acknowledge"])
    assert answer.status_code == 409
    assert "acknowledged already" in answer.content.decode()
    assert snapshot(incident) == before
    # Its resolve link still acts.
    assert post(client, found["resolve"]).status_code == 200


def test_a_cross_site_form_post_is_refused(client, sink, rita, lee):
    incident = paged_incident(rita, lee)
    url = received_links(sink, "/rita")["acknowledge"]
    before = snapshot(incident)
    assert post(client, url, HTTP_SEC_FETCH_SITE="cross-site").status_code == 403
    assert post(client, url, HTTP_ORIGIN="https://evil.example").status_code == 403
    # A POST without the link's own token in the form does nothing either.
    assert client.post(path_of(url), {}).status_code == 400
    assert snapshot(incident) == before
    assert post(client, url, HTTP_SEC_FETCH_SITE="same-origin").status_code == 200


def test_a_status_update_reminder_carries_the_links_that_still_make_sense(sink, rita, lee):
    incident = paged_incident(rita, lee)
    incident = lifecycle.incident_acknowledge(incident=incident, actor=rita)
    (row,) = outbox.remind(incident=incident, users=[rita], count=1, now=timezone.now())
    # Acknowledged already: nothing to acknowledge or escalate, but it can be resolved.
    assert set(row.links) == {"resolve", "open"}
    assert re.search(r"^Resolve: http://testserver/act/\S+$", row.body, re.MULTILINE)
    assert "Acknowledge:" not in row.body and "Escalate now:" not in row.body


def test_links_cost_the_permission_lookups_once_per_person_not_per_message(sink, lee):
    """Pat is reached three ways at once: three rows, one look-up of Pat's permissions."""
    pat = member("pat-primary")
    for path in ("/a", "/b", "/c"):
        contact_method_create(user=pat, kind="webhook", address=f"{sink.url}{path}")
    policy = escalation_policy_create(
        name="Three ways", steps=[StepInput(delay=timedelta(0), targets=[pat, lee])]
    )
    service = ServiceFactory(name="Three ways", escalation_policy=policy)
    now = timezone.now()
    incident = make_incident(services=[service], detected_at=now)
    state = escalation.escalation_start(incident_id=incident.pk, now=now)
    with CaptureQueriesContext(connection) as queries:
        assert escalation.escalation_fire_step(escalation_id=state.pk, now=now)
    rows = Notification.objects.filter(incident=incident)
    assert rows.count() == 4
    assert all({"acknowledge", "resolve", "escalate", "open"} == set(r.links) for r in rows)
    permission_queries = [q for q in queries.captured_queries if "auth_permission" in q["sql"]]
    # Django's backend: the user's own permissions and their groups', once per person.
    assert len(permission_queries) == 2 * 2
