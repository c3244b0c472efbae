"""One lock order, and whole operations rerun when the database still reports a deadlock."""

import contextlib
import threading

import pytest
from django.db import OperationalError, connection

from incidents.core import hooks
from incidents.core.locks import is_retryable, lock_incident, retry_on_conflict
from incidents.models import Incident
from tests.factories import make_incident


def test_two_operations_that_deadlock_both_complete_whole(transactional_db):
    """Each locks one incident, then the other (the wrong way round on purpose): PostgreSQL
    rolls one back as a deadlock, and retry_on_conflict runs that one again from its start."""
    a, b = make_incident(title="A"), make_incident(title="B")
    # SQLite runs one write transaction at a time: the second never gets to hold its first lock.
    both_hold_one = threading.Barrier(2, timeout=10 if connection.vendor == "postgresql" else 1)
    runs: list[str] = []
    errors: list[BaseException] = []

    @retry_on_conflict
    def swap_titles(first: Incident, second: Incident, label: str) -> None:
        runs.append(label)
        lock_incident(first.pk)
        if runs.count(label) == 1:
            with contextlib.suppress(threading.BrokenBarrierError):  # SQLite (see above)
                both_hold_one.wait()
        lock_incident(second.pk)
        Incident.objects.filter(pk=first.pk).update(summary=f"{label}: first")
        Incident.objects.filter(pk=second.pk).update(impact=f"{label}: second")

    def run(first, second, label):
        try:
            swap_titles(first, second, label)
        except BaseException as error:  # reported by the test thread
            errors.append(error)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=(a, b, "ab")),
        threading.Thread(target=run, args=(b, a, "ba")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    a.refresh_from_db()
    b.refresh_from_db()
    # Both operations are there in full: each wrote both of its rows.
    assert {a.summary, b.summary} == {"ab: first", "ba: first"}
    assert {a.impact, b.impact} == {"ab: second", "ba: second"}
    if connection.vendor == "postgresql":
        assert len(runs) == 3  # one of the two ran again after the deadlock
    else:
        assert len(runs) == 2  # SQLite runs one write transaction at a time


class _DatabaseSaid(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _deadlock() -> OperationalError:
    error = OperationalError("deadlock detected")
    error.__cause__ = _DatabaseSaid("40P01")
    return error


def test_deadlocks_and_serialization_failures_are_retryable_and_nothing_else():
    assert is_retryable(_deadlock())
    serialization = OperationalError("could not serialize access")
    serialization.__cause__ = _DatabaseSaid("40001")
    assert is_retryable(serialization)
    lock_timeout = OperationalError("canceling statement due to lock timeout")
    lock_timeout.__cause__ = _DatabaseSaid("55P03")
    assert not is_retryable(lock_timeout)
    assert not is_retryable(RuntimeError("no"))


@pytest.mark.django_db
def test_a_deadlock_in_an_optional_hook_fails_the_change_instead_of_half_of_it():
    """An optional hook's failure is normally undone alone; a deadlock is not swallowed there,
    so the outermost operation reruns whole (never the change without its hook)."""

    def deadlocked(incident_id: int) -> None:
        raise _deadlock()

    hooks.register(hooks.INCIDENT_OPENED, deadlocked)
    before = Incident.objects.count()
    try:
        with pytest.raises(OperationalError, match="deadlock"):
            make_incident()
    finally:
        hooks.unregister(hooks.INCIDENT_OPENED, deadlocked)
    assert Incident.objects.count() == before


def test_a_retried_operation_runs_again_from_its_first_line(transactional_db):
    attempts: list[int] = []

    @retry_on_conflict
    def open_once_the_database_lets_us() -> Incident:
        attempts.append(len(attempts) + 1)
        incident = make_incident(title=f"Attempt {len(attempts)}")
        if len(attempts) == 1:
            raise _deadlock()  # rolled back: the first attempt's incident must not stay
        return incident

    incident = open_once_the_database_lets_us()
    assert attempts == [1, 2]
    assert list(Incident.objects.values_list("title", flat=True)) == ["Attempt 2"]
    assert incident.title == "Attempt 2"
