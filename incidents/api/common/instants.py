"""Instants given to the API, made safe to store, compare and compute with.

Python reads UTC offsets up to ±23:59 and years 1 to 9999; PostgreSQL refuses offsets past
±15:59, and schedule arithmetic near either end of the calendar overflows. So an instant a
client gives is converted to UTC and must lie within [EARLIEST, LATEST], which no schedule,
report or incident needs to leave; outside it the answer is a 400 naming the field.
"""

from datetime import UTC, date, datetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = "Give a time between 1970 and 9000."


def bounded_utc(value: datetime) -> datetime | None:
    """The aware `value` in UTC, or None when it lies outside [EARLIEST, LATEST]."""
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        return None
    return value if EARLIEST <= value <= LATEST else None


def date_in_range(value: date) -> bool:
    return EARLIEST.date() <= value <= LATEST.date()
