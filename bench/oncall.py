"""Time the final shifts of 200 schedules x 3 layers over 14 days (target: under 1 s).

Pure computation from plain rows (`incidents.oncall.compute`), as the admin changelist, the API list and
the handoff sweep do after their fixed number of queries. Run: `.venv/bin/python bench/oncall.py`.
"""

import platform
import statistics
import sys
import time as clock
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from incidents.oncall.compute import LayerSpec, OverrideSpec, ScheduleSpec, spec_final_shifts

SCHEDULES = 200
DAYS = 14
ZONES = ["America/New_York", "Europe/Berlin", "UTC", "Asia/Tokyo", "Australia/Sydney"]
# A window across the spring DST change in New York and Berlin.
START = datetime(2026, 3, 20, tzinfo=UTC)


def build(n: int) -> list[ScheduleSpec]:
    specs = []
    for i in range(n):
        people = tuple(range(i * 10, i * 10 + 6))
        layers = (
            LayerSpec(people, time(9), date(2025, 1, 6), "weekly", handoff_weekday=0, priority=0),
            LayerSpec(
                people[::-1],
                time(8),
                date(2025, 1, 1),
                "hours",
                hours=12,
                priority=1,
                restrict_weekdays=frozenset({5, 6}),
            ),
            LayerSpec(
                people[2:],
                time(9),
                date(2025, 1, 1),
                "daily",
                priority=2,
                restrict_weekdays=frozenset(range(5)),
                restrict_start=time(9),
                restrict_end=time(17),
            ),
        )
        overrides = (
            OverrideSpec(people[0] + 100_000, START + timedelta(days=3), START + timedelta(days=4)),
            OverrideSpec(people[1], START + timedelta(days=8, hours=5), START + timedelta(days=9)),
        )
        specs.append(ScheduleSpec(ZoneInfo(ZONES[i % len(ZONES)]), layers, overrides, key=i))
    return specs


def run(specs) -> tuple[float, int]:
    began = clock.perf_counter()
    shifts = sum(len(spec_final_shifts(s, START, START + timedelta(days=DAYS))) for s in specs)
    return clock.perf_counter() - began, shifts


def main() -> None:
    specs = build(SCHEDULES)
    run(specs)  # warm-up: zoneinfo caches
    timings = []
    for _ in range(7):
        seconds, shifts = run(specs)
        timings.append(seconds)
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    )
    print(
        f"{SCHEDULES} schedules x 3 layers x {DAYS} days, 2 overrides each -> {shifts} final shifts"
    )
    print(f"best {min(timings):.3f} s, median {statistics.median(timings):.3f} s (7 runs)")
    print("target < 1 s:", "met" if statistics.median(timings) < 1 else "MISSED")


if __name__ == "__main__":
    main()
