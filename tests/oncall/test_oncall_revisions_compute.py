"""Rotation edits in the pure computation: a participant list that changes at an instant.

Weekly layers hand off Mondays 09:00 UTC from 2026-01-05; letters are people. Expected owners are
written by hand from the rule: shifts starting before the edit keep their people; from the first
shift starting at or after it the new list takes turns after whoever was on last.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest

from incidents.oncall.compute import (
    LayerSpec,
    Move,
    Revision,
    ScheduleSpec,
    moves,
    revise,
    spec_final_shifts,
    spec_oncall,
)


def z(text: str) -> datetime:
    return datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def weekly(people: str, *revisions: Revision) -> ScheduleSpec:
    layer = LayerSpec(
        participants=tuple(people),
        handoff_time=time(9),
        start_date=date(2026, 1, 5),
        revisions=revisions,
    )
    return ScheduleSpec(UTC, (layer,))


def owners(spec: ScheduleSpec, weeks: int = 6) -> list[str]:
    """Who holds each weekly shift from 01-05 on."""
    return [spec_oncall(spec, z("01-05 10:00") + timedelta(weeks=i))[0] for i in range(weeks)]


@pytest.mark.parametrize(
    ("people", "revision", "expected"),
    [
        # Carol joins mid-shift (bob on, 01-12 to 01-19): bob's shift stays, then carol, alice, bob.
        ("ab", Revision(z("01-14 12:00"), tuple("abc")), list("abcabc")),
        # At a handoff instant exactly: the shift starting then is the first of the new list.
        ("ab", Revision(z("01-12 09:00"), tuple("abc")), list("abcabc")),
        # Bob leaves while carol is on (01-19 to 01-26): alice follows her, then carol again.
        ("abc", Revision(z("01-20 00:00"), tuple("ac")), list("abcaca")),
        # The person on call leaves: their shift stays, then the new list from its start.
        ("ab", Revision(z("01-13 00:00"), tuple("cd")), list("abcdcd")),
        # Reordered while bob is on: alice follows him in the new order, then carol, bob.
        ("abc", Revision(z("01-15 00:00"), tuple("bac")), list("abacba")),
    ],
)
def test_edit_keeps_the_past_and_the_shift_in_progress(people, revision, expected):
    before = owners(weekly(people))
    after = owners(weekly(people, revision))
    assert after == expected
    # Every shift that started before the edit is unchanged.
    started = sum(
        1 for i in range(6) if z("01-05 09:00") + timedelta(weeks=i) < revision.effective_from
    )
    assert after[:started] == before[:started]


def test_final_shifts_before_the_edit_are_identical():
    plain = weekly("ab")
    edited = weekly("ab", Revision(z("01-14 12:00"), tuple("abc")))
    window = (z("01-01 00:00"), z("01-19 09:00"))
    assert spec_final_shifts(edited, *window) == spec_final_shifts(plain, *window)


def test_a_later_edit_replaces_planned_ones_at_or_after_its_moment():
    layer = weekly("ab", Revision(z("02-01 00:00"), tuple("xy"))).layers[0]
    revised = revise(layer, tuple("abc"), z("01-14 12:00"))
    assert [r.effective_from for r in revised.revisions] == [z("01-14 12:00")]
    assert owners(ScheduleSpec(UTC, (revised,))) == list("abcabc")
    # An earlier planned edit stays; the new one follows it.
    kept = revise(revised, tuple("ab"), z("01-28 00:00"))
    assert len(kept.revisions) == 2
    # Alice is on at 01-28 (01-26 to 02-02) and keeps it; bob follows her, then alice.
    assert owners(ScheduleSpec(UTC, (kept,)), weeks=7) == list("abcabab")


def test_moves_list_each_changed_stretch_with_before_and_after():
    plain = weekly("ab")
    edited = weekly("ab", Revision(z("01-14 12:00"), tuple("abc")))
    found = moves(plain, edited, z("01-14 12:00"), z("02-09 09:00"))
    assert found == [
        Move(z("01-19 09:00"), z("01-26 09:00"), "a", "c"),
        Move(z("01-26 09:00"), z("02-02 09:00"), "b", "a"),
        Move(z("02-02 09:00"), z("02-09 09:00"), "a", "b"),
    ]
    assert moves(plain, plain, z("01-14 12:00"), z("02-09 09:00")) == []
