"""The daily review task: flags runbooks past their review date and reminds owners once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from incidents.paging.delivery import deliver_due
from runbooks.models import Runbook
from runbooks.services import runbook_mark_reviewed
from runbooks.tasks import runbooks_review_due
from tests.factories import ServiceFactory, UserFactory, make_runbook


@pytest.fixture
def owners(db):
    dave = UserFactory(username="dave", email="dave@example.com")
    carol = UserFactory(username="carol", email="carol@example.com")
    return {
        "dave": dave,
        "carol": carol,
        "database": ServiceFactory(name="Database", slug="database", owner=dave),
        "api": ServiceFactory(name="Public API", slug="api", owner=carol),
    }


def age(runbook, *, days: int, reviewed_days_ago: int | None = None):
    """Move a runbook's history back in time (the clock is the only thing faked)."""
    now = timezone.now()
    Runbook.objects.filter(pk=runbook.pk).update(
        created_at=now - timedelta(days=days),
        last_reviewed_at=None
        if reviewed_days_ago is None
        else now - timedelta(days=reviewed_days_ago),
    )


def test_overdue_runbooks_notify_their_service_owners_once(
    owners, django_capture_on_commit_callbacks
):
    stale = make_runbook(
        title="Database connection pool exhausted",
        services=[owners["database"], owners["api"]],
        review_every_days=30,
    )
    fresh = make_runbook(
        title="Redis unavailable", services=[owners["database"]], review_every_days=30
    )
    age(stale, days=100, reviewed_days_ago=45)
    age(fresh, days=100, reviewed_days_ago=5)

    with django_capture_on_commit_callbacks(execute=True):
        assert runbooks_review_due() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert runbooks_review_due() == 0

    # Outbox rows, one per owner (the delivery workers' part follows).
    assert deliver_due() == 2
    assert sorted(m.to[0] for m in mail.outbox) == ["carol@example.com", "dave@example.com"]
    for message in mail.outbox:
        assert message.subject == "Runbook due for review: Database connection pool exhausted"
        assert f"/admin/runbooks/runbook/{stale.pk}/change/" in message.body
    stale.refresh_from_db()
    assert stale.review_reminded_at is not None
    assert list(Runbook.objects.needs_review()) == [stale]


def test_never_reviewed_runbooks_fall_due_from_their_creation(
    owners, django_capture_on_commit_callbacks
):
    old = make_runbook(title="Old", services=[owners["database"]], review_every_days=90)
    new = make_runbook(title="New", services=[owners["database"]], review_every_days=90)
    age(old, days=91)
    age(new, days=10)

    with django_capture_on_commit_callbacks(execute=True):
        runbooks_review_due()

    deliver_due()
    assert [m.subject for m in mail.outbox] == ["Runbook due for review: Old"]
    assert "never reviewed" in mail.outbox[0].body


def test_the_runbook_owner_is_reminded_too_without_duplicates(
    owners, django_capture_on_commit_callbacks
):
    stale = make_runbook(title="Pool", services=[owners["database"]], owner="dave")
    age(stale, days=400)

    with django_capture_on_commit_callbacks(execute=True):
        runbooks_review_due()

    deliver_due()
    assert [m.to for m in mail.outbox] == [["dave@example.com"]]


def test_marking_reviewed_clears_the_flag_and_the_next_period_reminds_again(
    owners, django_capture_on_commit_callbacks
):
    stale = make_runbook(title="Pool", services=[owners["database"]], review_every_days=30)
    age(stale, days=100)
    with django_capture_on_commit_callbacks(execute=True):
        runbooks_review_due()

    runbook_mark_reviewed(runbook=stale, actor=owners["dave"])
    assert not Runbook.objects.needs_review().exists()

    # 31 days later it is due again, and a new reminder goes out.
    later = timezone.now() + timedelta(days=31)
    from runbooks.services import runbooks_remind_review

    with django_capture_on_commit_callbacks(execute=True):
        assert [r.pk for r in runbooks_remind_review(now=later)] == [stale.pk]
    deliver_due()
    assert len(mail.outbox) == 2


def test_a_runbook_left_overdue_is_reminded_again_a_full_period_later(
    owners, django_capture_on_commit_callbacks
):
    from runbooks.services import runbooks_remind_review

    stale = make_runbook(title="Pool", services=[owners["database"]], review_every_days=30)
    age(stale, days=100)
    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        runbooks_remind_review(now=now)
        runbooks_remind_review(now=now + timedelta(days=29))
        runbooks_remind_review(now=now + timedelta(days=30))

    deliver_due()
    assert len(mail.outbox) == 2


def test_the_task_is_in_the_beat_schedule():
    from config.celery import app

    entries = [e for e in app.conf.beat_schedule.values() if e["task"] == runbooks_review_due.name]
    assert len(entries) == 1
