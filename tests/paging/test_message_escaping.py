"""Text from incidents reaches Slack-style webhooks inert and email as plain text."""

from datetime import timedelta

import pytest

from incidents.models import Notification, TeamChannel
from incidents.paging import engine as escalation
from incidents.paging.delivery import contact_method_create, notification_deliver
from incidents.paging.policies import StepInput, escalation_policy_create
from tests.factories import ServiceFactory, UserFactory, make_incident
from tests.webhook_sink import WebhookSink

pytestmark = pytest.mark.django_db

TITLE = 'Deploy <!channel> see <https://evil.example/login|Acknowledge> & "fix" > now'


def page_everyone(*targets, title=TITLE, summary=""):
    policy = escalation_policy_create(
        name="Page", steps=[StepInput(delay=timedelta(0), targets=list(targets))]
    )
    service = ServiceFactory(name="Checkout", slug="checkout", escalation_policy=policy)
    incident = make_incident(title=title, summary=summary, services=[service])
    state = escalation.escalation_start(incident_id=incident.pk)
    escalation.escalation_fire_step(escalation_id=state.pk)
    for row in Notification.objects.filter(incident=incident):
        assert notification_deliver(notification_id=row.pk) == "sent"
    return incident


def test_slack_markup_in_page_text_is_escaped_so_it_neither_pings_nor_disguises_links():
    with WebhookSink() as sink:
        channel = TeamChannel.objects.create(name="#ops", kind="webhook", address=sink.url)
        page_everyone(channel, summary="Call <@U123> and <!here>")
        text = sink.received[0]["body"]["text"]
    assert "<" not in text and ">" not in text
    assert "&lt;!channel&gt;" in text and "&lt;!here&gt;" in text and "&lt;@U123&gt;" in text
    assert "&lt;https://evil.example/login|Acknowledge&gt;" in text
    assert '&amp; "fix" &gt; now' in text


def test_email_subject_and_body_are_plain_text_without_entities(mailoutbox):
    pat = UserFactory(username="pat", email="pat@example.com")
    contact_method_create(user=pat, kind="email", address="pat@example.com")
    page_everyone(pat, title='Latency < 5s & "p99" > 2s on checkout')
    [mail] = mailoutbox
    assert mail.subject.endswith('Latency < 5s & "p99" > 2s on checkout')
    assert "\n" not in mail.subject
    assert "&lt;" not in mail.subject and "&amp;" not in mail.subject
    assert 'Latency < 5s & "p99" > 2s' in mail.body and "&quot;" not in mail.body
