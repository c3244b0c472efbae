"""Working a runbook on an incident: a checklist whose ticks land in the incident timeline."""

import pytest

from incidents.core.choices import TimelineKind
from incidents.core.errors import DomainError
from runbooks.models import RunbookRun, RunStepCheck
from runbooks.services import run_progress, runbook_run_start, runbook_step_check
from tests.factories import make_incident, make_runbook


@pytest.fixture
def runbook(db, service):
    return make_runbook(services=[service])


def runbook_timeline(incident):
    return list(
        incident.timeline.filter(kind=TimelineKind.RUNBOOK).values_list("actor_label", "message")
    )


def test_starting_a_runbook_opens_a_run_and_says_so_in_the_timeline(runbook, incident, user):
    run = runbook_run_start(runbook=runbook, incident=incident, actor=user)

    assert run.started_by == user and run.completed_at is None
    assert run_progress(run) == (0, 3)
    assert runbook_timeline(incident) == [
        (user.get_full_name(), "Started runbook “Database connection pool exhausted” (3 steps).")
    ]


def test_starting_twice_returns_the_open_run(runbook, incident, user):
    first = runbook_run_start(runbook=runbook, incident=incident, actor=user)
    second = runbook_run_start(runbook=runbook, incident=incident, actor=user)

    assert first == second
    assert RunbookRun.objects.count() == 1
    assert len(runbook_timeline(incident)) == 1


def test_each_check_records_who_and_when_in_the_timeline(runbook, incident, user):
    user.first_name, user.last_name = "Alice", "Nguyen"
    user.save()
    run = runbook_run_start(runbook=runbook, incident=incident, actor=user)
    first, second, _ = runbook.steps.all()

    check = runbook_step_check(run=run, step=second, actor=user, note="42 idle sessions killed")
    runbook_step_check(run=run, step=first, actor=user)

    assert check.checked_by == user and check.checked_at is not None
    assert run_progress(run) == (2, 3)
    events = incident.timeline.filter(kind=TimelineKind.RUNBOOK).order_by("id")
    assert [(e.actor, e.message) for e in events][1:] == [
        (
            user,
            "Runbook “Database connection pool exhausted” step 2/3 done: Kill idle sessions"
            " — 42 idle sessions killed",
        ),
        (user, "Runbook “Database connection pool exhausted” step 1/3 done: Check the pool"),
    ]
    assert events.last().after == {"run": run.pk, "step": first.pk, "checked": 2, "of": 3}


def test_checking_a_step_twice_is_a_no_op(runbook, incident, user):
    run = runbook_run_start(runbook=runbook, incident=incident, actor=user)
    step = runbook.steps.first()

    first = runbook_step_check(run=run, step=step, actor=user)
    again = runbook_step_check(run=run, step=step, actor=user, note="double click")

    assert first == again
    assert RunStepCheck.objects.count() == 1
    assert len(runbook_timeline(incident)) == 2  # started + one check


def test_the_last_check_completes_the_run_and_a_new_run_can_start(runbook, incident, user):
    run = runbook_run_start(runbook=runbook, incident=incident, actor=user)
    for step in runbook.steps.all():
        runbook_step_check(run=run, step=step, actor=user)

    run.refresh_from_db()
    assert run.completed_at is not None
    assert runbook_timeline(incident)[-1] == (
        user.get_full_name(),
        "Runbook “Database connection pool exhausted” completed: all 3 steps done.",
    )
    again = runbook_run_start(runbook=runbook, incident=incident, actor=user)
    assert again != run and again.completed_at is None


def test_a_step_of_another_runbook_is_refused(runbook, incident, user):
    other = make_runbook(title="Redis unavailable", steps=["Ping it"])
    run = runbook_run_start(runbook=runbook, incident=incident, actor=user)

    with pytest.raises(DomainError, match="another runbook"):
        runbook_step_check(run=run, step=other.steps.get(), actor=user)
    assert not RunStepCheck.objects.exists()


def test_the_same_runbook_runs_separately_on_two_incidents(runbook, service, user):
    first, second = make_incident(services=[service]), make_incident(services=[service])

    run_a = runbook_run_start(runbook=runbook, incident=first, actor=user)
    run_b = runbook_run_start(runbook=runbook, incident=second, actor=user)
    runbook_step_check(run=run_a, step=runbook.steps.first(), actor=user)

    assert run_progress(run_a) == (1, 3)
    assert run_progress(run_b) == (0, 3)
    assert len(runbook_timeline(second)) == 1


def test_rewording_a_step_by_import_keeps_past_checks(runbook, incident, user):
    run = runbook_run_start(runbook=runbook, incident=incident, actor=user)
    runbook_step_check(run=run, step=runbook.steps.first(), actor=user)

    make_runbook(services=list(runbook.services.all()), steps=["Check the pooler", "Kill", "Watch"])

    assert run_progress(run) == (1, 3)
    assert runbook.steps.first().instruction == "Check the pooler"
