"""Retention of the ingest inbox: applied rows go after TOCSIN_INBOX_KEEP_HOURS, pending never."""

from datetime import timedelta

import pytest
from django.utils import timezone

from config.celery import app as celery_app
from incidents.alerts.inbox import inbox_purge
from incidents.models import InboxEvent
from tests.factories import make_integration

pytestmark = pytest.mark.django_db


def row(integration, *, hours_ago: float, applied_hours_ago: float | None, alias: str):
    now = timezone.now()
    received = now - timedelta(hours=hours_ago)
    applied = None if applied_hours_ago is None else now - timedelta(hours=applied_hours_ago)
    return InboxEvent.objects.create(
        integration=integration,
        alias=alias,
        events=[],
        event_count=0,
        received_at=received,
        not_before=received,
        state="pending" if applied is None else "applied",
        applied_at=applied,
        success=None if applied is None else True,
    )


def test_purge_deletes_applied_rows_past_the_keeping_time_only(settings, service):
    settings.TOCSIN_INBOX_KEEP_HOURS = 24
    integration, _ = make_integration(name="og", kind="opsgenie", service=service)
    row(integration, hours_ago=30, applied_hours_ago=30, alias="old")
    row(integration, hours_ago=25, applied_hours_ago=25, alias="old too")
    row(integration, hours_ago=20, applied_hours_ago=20, alias="recent")
    row(integration, hours_ago=48, applied_hours_ago=None, alias="stuck pending")
    # Waited long in the inbox, applied an hour ago: kept a full day after it was applied.
    row(integration, hours_ago=30, applied_hours_ago=1, alias="late")

    assert inbox_purge(batch=1) == 2  # batch=1: the batches loop until nothing is left

    assert set(InboxEvent.objects.values_list("alias", flat=True)) == {
        "recent",
        "stuck pending",
        "late",
    }
    assert inbox_purge() == 0


def test_purge_follows_the_setting(settings, service):
    integration, _ = make_integration(name="og", kind="opsgenie", service=service)
    row(integration, hours_ago=3, applied_hours_ago=3, alias="three hours")

    settings.TOCSIN_INBOX_KEEP_HOURS = 4
    assert inbox_purge() == 0
    settings.TOCSIN_INBOX_KEEP_HOURS = 2
    assert inbox_purge() == 1


def test_beat_runs_the_purge_hourly():
    entry = celery_app.conf.beat_schedule["inbox-purge"]
    assert entry["task"] == "incidents.alerts.inbox_purge"
    assert entry["schedule"].minute == {17}
    assert len(entry["schedule"].hour) == 24
