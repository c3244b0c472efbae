"""Who is on call, computed from plain rows: a table of schedules, windows and expected shifts.

Expected instants are written in UTC by hand from the zone rules (NY: EST -5 / EDT -4, DST from
2026-03-08 02:00 to 2026-11-01 02:00; Berlin: CET +1 / CEST +2, from 2026-03-29 02:00 to
2026-10-25 03:00), never derived from the code under test.
"""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidents.oncall.compute import (
    LayerSpec,
    OverrideSpec,
    ScheduleSpec,
    changes,
    final_timeline,
    localize,
    spec_final_shifts,
    spec_oncall,
)

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def z(text: str) -> datetime:
    """'01-05 09:00' -> 2026-01-05 09:00 UTC."""
    return datetime.strptime(f"2026-{text}", "%Y-%m-%d %H:%M").replace(tzinfo=UTC)


def layer(participants: str, handoff: str, start: str, **kwargs) -> LayerSpec:
    return LayerSpec(
        participants=tuple(participants),
        handoff_time=time.fromisoformat(handoff),
        start_date=date.fromisoformat(f"2026-{start}"),
        **kwargs,
    )


WORKDAYS = frozenset(range(5))

CASES = [
    pytest.param(
        ScheduleSpec(NY, (layer("AB", "09:00", "03-02", kind="weekly", handoff_weekday=0),)),
        ("03-02 05:00", "03-16 16:00"),
        [
            ("A", "03-02 14:00", "03-09 13:00"),
            ("B", "03-09 13:00", "03-16 13:00"),
            ("A", "03-16 13:00", "03-16 16:00"),
        ],
        id="weekly-new-york-spring-change-keeps-monday-0900-local",
    ),
    pytest.param(
        ScheduleSpec(NY, (layer("AB", "09:00", "10-26", kind="weekly", handoff_weekday=0),)),
        ("10-26 13:00", "11-09 14:00"),
        [("A", "10-26 13:00", "11-02 14:00"), ("B", "11-02 14:00", "11-09 14:00")],
        id="weekly-new-york-autumn-change-keeps-monday-0900-local",
    ),
    pytest.param(
        ScheduleSpec(NY, (layer("AB", "02:30", "03-01", kind="weekly", handoff_weekday=6),)),
        ("03-05 00:00", "03-16 00:00"),
        [
            ("A", "03-05 00:00", "03-08 07:00"),
            ("B", "03-08 07:00", "03-15 06:30"),
            ("A", "03-15 06:30", "03-16 00:00"),
        ],
        id="new-york-handoff-in-spring-gap-moves-to-0300",
    ),
    pytest.param(
        ScheduleSpec(NY, (layer("AB", "01:30", "10-25", kind="weekly", handoff_weekday=6),)),
        ("10-30 00:00", "11-09 00:00"),
        [
            ("A", "10-30 00:00", "11-01 05:30"),
            ("B", "11-01 05:30", "11-08 06:30"),
            ("A", "11-08 06:30", "11-09 00:00"),
        ],
        id="new-york-ambiguous-autumn-handoff-is-the-first-0130",
    ),
    pytest.param(
        ScheduleSpec(BERLIN, (layer("AB", "02:30", "03-27", kind="daily"),)),
        ("03-27 23:00", "03-30 10:00"),
        [
            ("A", "03-27 23:00", "03-28 01:30"),
            ("B", "03-28 01:30", "03-29 01:00"),
            ("A", "03-29 01:00", "03-30 00:30"),
            ("B", "03-30 00:30", "03-30 10:00"),
        ],
        id="daily-berlin-spring-gap-handoff-at-0300-cest",
    ),
    pytest.param(
        ScheduleSpec(BERLIN, (layer("AB", "02:30", "10-23", kind="daily"),)),
        ("10-24 10:00", "10-26 11:00"),
        [
            ("B", "10-24 10:00", "10-25 00:30"),
            ("A", "10-25 00:30", "10-26 01:30"),
            ("B", "10-26 01:30", "10-26 11:00"),
        ],
        id="daily-berlin-autumn-shift-is-25-hours",
    ),
    pytest.param(
        ScheduleSpec(NY, (layer("AB", "09:00", "03-07", kind="hours", hours=12),)),
        ("03-07 14:00", "03-09 01:00"),
        [
            ("A", "03-07 14:00", "03-08 02:00"),
            ("B", "03-08 02:00", "03-08 13:00"),
            ("A", "03-08 13:00", "03-09 01:00"),
        ],
        id="twelve-hour-shifts-stay-at-0900-and-2100-across-spring-change",
    ),
    pytest.param(
        ScheduleSpec(UTC, (layer("ABC", "06:00", "01-05", kind="hours", hours=8),)),
        ("01-05 00:00", "01-06 06:00"),
        [
            ("A", "01-05 06:00", "01-05 14:00"),
            ("B", "01-05 14:00", "01-05 22:00"),
            ("C", "01-05 22:00", "01-06 06:00"),
        ],
        id="eight-hour-shifts-three-people",
    ),
    pytest.param(
        ScheduleSpec(
            BERLIN,
            (
                layer("A", "09:00", "01-05", kind="weekly", handoff_weekday=0, priority=0),
                layer(
                    "C",
                    "09:00",
                    "01-05",
                    kind="daily",
                    priority=1,
                    restrict_weekdays=WORKDAYS,
                    restrict_start=time(9),
                    restrict_end=time(17),
                ),
            ),
        ),
        ("01-08 23:00", "01-12 11:00"),
        [
            ("A", "01-08 23:00", "01-09 08:00"),
            ("C", "01-09 08:00", "01-09 16:00"),
            ("A", "01-09 16:00", "01-12 08:00"),
            ("C", "01-12 08:00", "01-12 11:00"),
        ],
        id="business-hours-layer-wins-over-weekly-layer-on-weekdays-only",
    ),
    pytest.param(
        ScheduleSpec(
            UTC, (layer("AB", "00:00", "01-05", kind="daily", restrict_weekdays=frozenset({5, 6})),)
        ),
        ("01-09 00:00", "01-12 00:00"),
        [("B", "01-10 00:00", "01-11 00:00"), ("A", "01-11 00:00", "01-12 00:00")],
        id="weekday-restriction-without-hours-keeps-whole-days",
    ),
    pytest.param(
        ScheduleSpec(
            UTC,
            (
                layer(
                    "A",
                    "00:00",
                    "01-05",
                    kind="daily",
                    restrict_start=time(22),
                    restrict_end=time(6),
                ),
            ),
        ),
        ("01-06 00:00", "01-07 00:00"),
        [("A", "01-06 00:00", "01-06 06:00"), ("A", "01-06 22:00", "01-07 00:00")],
        id="hours-restriction-over-midnight",
    ),
    pytest.param(
        ScheduleSpec(
            UTC,
            (layer("AB", "09:00", "01-05", kind="weekly", handoff_weekday=0),),
            (OverrideSpec("D", z("01-07 12:00"), z("01-08 12:00")),),
        ),
        ("01-05 09:00", "01-12 09:00"),
        [
            ("A", "01-05 09:00", "01-07 12:00"),
            ("D", "01-07 12:00", "01-08 12:00"),
            ("A", "01-08 12:00", "01-12 09:00"),
        ],
        id="override-splits-a-shift",
    ),
    pytest.param(
        ScheduleSpec(
            UTC,
            (layer("AB", "09:00", "01-05", kind="weekly", handoff_weekday=0),),
            (OverrideSpec("D", z("01-07 12:00"), z("01-13 12:00"), replaces="A"),),
        ),
        ("01-05 09:00", "01-14 00:00"),
        [
            ("A", "01-05 09:00", "01-07 12:00"),
            ("D", "01-07 12:00", "01-12 09:00"),
            ("B", "01-12 09:00", "01-14 00:00"),
        ],
        id="override-replacing-a-person-covers-only-their-shift",
    ),
    pytest.param(
        ScheduleSpec(
            UTC,
            (layer("AB", "09:00", "01-05", kind="weekly", handoff_weekday=0),),
            (OverrideSpec("D", z("01-07 12:00"), z("01-08 12:00"), replaces="B"),),
        ),
        ("01-05 09:00", "01-12 09:00"),
        [("A", "01-05 09:00", "01-12 09:00")],
        id="override-replacing-someone-not-on-call-changes-nothing",
    ),
    pytest.param(
        ScheduleSpec(
            UTC,
            (
                layer("A", "09:00", "01-05", kind="daily"),
                layer(
                    "A",
                    "09:00",
                    "01-05",
                    kind="daily",
                    priority=1,
                    restrict_start=time(9),
                    restrict_end=time(17),
                ),
            ),
        ),
        ("01-06 00:00", "01-07 00:00"),
        [("A", "01-06 00:00", "01-07 00:00")],
        id="adjacent-shifts-of-the-same-person-are-merged",
    ),
    pytest.param(
        ScheduleSpec(UTC, (layer("AB", "09:00", "01-07", kind="weekly", handoff_weekday=0),)),
        ("01-07 00:00", "01-20 00:00"),
        [("A", "01-12 09:00", "01-19 09:00"), ("B", "01-19 09:00", "01-20 00:00")],
        id="weekly-rotation-starts-on-first-handoff-weekday-after-start-date",
    ),
    pytest.param(
        ScheduleSpec(UTC, (layer("AB", "09:00", "02-02", kind="weekly"),)),
        ("01-05 00:00", "01-19 00:00"),
        [],
        id="rotation-not-yet-started-has-nobody",
    ),
    pytest.param(
        ScheduleSpec(UTC, (layer("AB", "00:00", "01-05", kind="daily", ends_at=z("01-07 12:00")),)),
        ("01-06 00:00", "01-09 00:00"),
        [("B", "01-06 00:00", "01-07 00:00"), ("A", "01-07 00:00", "01-07 12:00")],
        id="ended-rotation-stops-at-its-end",
    ),
    pytest.param(
        ScheduleSpec(UTC, (layer("", "09:00", "01-05", kind="daily"),)),
        ("01-05 00:00", "01-09 00:00"),
        [],
        id="layer-without-participants-has-nobody",
    ),
]


@pytest.mark.parametrize(("spec", "window", "expected"), CASES)
def test_final_shifts(spec, window, expected):
    shifts = spec_final_shifts(spec, z(window[0]), z(window[1]))
    assert [(s.user, s.start, s.end) for s in shifts] == [
        (user, z(start), z(end)) for user, start, end in expected
    ]


def test_gap_shows_in_timeline_as_nobody():
    spec = ScheduleSpec(
        UTC,
        (
            layer(
                "A",
                "09:00",
                "01-05",
                kind="daily",
                restrict_weekdays=WORKDAYS,
                restrict_start=time(9),
                restrict_end=time(17),
            ),
        ),
    )
    timeline = final_timeline(spec, z("01-09 12:00"), z("01-12 10:00"))
    assert [(s.user, s.start, s.end) for s in timeline] == [
        ("A", z("01-09 12:00"), z("01-09 17:00")),
        (None, z("01-09 17:00"), z("01-12 09:00")),
        ("A", z("01-12 09:00"), z("01-12 10:00")),
    ]


def test_override_fills_a_gap():
    spec = ScheduleSpec(
        UTC,
        (
            layer(
                "A", "09:00", "01-05", kind="daily", restrict_start=time(9), restrict_end=time(17)
            ),
        ),
        (OverrideSpec("D", z("01-06 20:00"), z("01-06 22:00")),),
    )
    assert spec_oncall(spec, z("01-06 21:00")) == ["D"]
    assert spec_oncall(spec, z("01-06 22:00")) == []


ONCALL_AT = [
    (ScheduleSpec(NY, (layer("AB", "09:00", "03-02", handoff_weekday=0),)), "03-09 12:59", ["A"]),
    (ScheduleSpec(NY, (layer("AB", "09:00", "03-02", handoff_weekday=0),)), "03-09 13:00", ["B"]),
    (ScheduleSpec(NY, (layer("AB", "09:00", "03-02", handoff_weekday=0),)), "03-02 13:59", []),
    (ScheduleSpec(BERLIN, (layer("AB", "02:30", "03-27", kind="daily"),)), "03-29 00:59", ["B"]),
    (ScheduleSpec(BERLIN, (layer("AB", "02:30", "03-27", kind="daily"),)), "03-29 01:00", ["A"]),
]


@pytest.mark.parametrize(("spec", "at", "expected"), ONCALL_AT)
def test_oncall_at_an_instant(spec, at, expected):
    assert spec_oncall(spec, z(at)) == expected


def test_changes_lists_each_handoff_once_with_outgoing_and_incoming():
    spec = ScheduleSpec(UTC, (layer("AB", "09:00", "01-05", kind="daily"),))
    assert changes(spec, z("01-06 08:00"), z("01-07 09:00")) == [
        (z("01-06 09:00"), "A", "B"),
        (z("01-07 09:00"), "B", "A"),
    ]
    assert changes(spec, z("01-06 09:00"), z("01-06 10:00")) == []


@pytest.mark.parametrize(
    ("naive", "tz", "expected"),
    [
        (datetime(2026, 3, 8, 2, 30), NY, z("03-08 07:00")),
        (datetime(2026, 3, 8, 2, 0), NY, z("03-08 07:00")),
        (datetime(2026, 11, 1, 1, 30), NY, z("11-01 05:30")),
        (datetime(2026, 3, 29, 2, 59), BERLIN, z("03-29 01:00")),
        (datetime(2026, 10, 25, 2, 0), BERLIN, z("10-25 00:00")),
    ],
)
def test_localize_moves_gap_times_forward_and_takes_first_of_repeated_times(naive, tz, expected):
    assert localize(naive, tz) == expected


def test_windows_far_from_the_start_are_computed_directly():
    spec = ScheduleSpec(UTC, (layer("ABC", "09:00", "01-05", kind="hours", hours=1),))
    start = z("01-05 09:00") + timedelta(hours=3 * 100_000)
    shifts = spec_final_shifts(spec, start, start + timedelta(hours=3))
    assert [s.user for s in shifts] == ["A", "B", "C"]
