"""Reading an instant from text: the one rule, for the API and the alert parsers alike.

- an instant is ISO 8601 / RFC 3339 with its UTC offset (`Z` or `±HH:MM`), with any fraction
  of a second (Alertmanager sends nanoseconds; digits past the microsecond are dropped);
- a date-time without an offset is refused: a bare local time means a different instant in
  every zone, so Tocsin never guesses one (the API answers 400 naming the field);
- the instant is converted to UTC and, unless the caller says otherwise, must lie within
  [EARLIEST, LATEST]. Python reads offsets up to ±23:59 and years 1 to 9999; PostgreSQL refuses
  offsets past ±15:59 and schedule arithmetic near either end of the calendar overflows, and
  no schedule, report or incident needs to leave that range.
Where a whole day is meant (a report's `since`/`until`), a bare date is also accepted: that day
in UTC.
"""

from datetime import UTC, date, datetime, time, timedelta

from django.utils.dateparse import parse_date, parse_datetime

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
OUT_OF_RANGE = "Give a time between 1970 and 9000."
EXAMPLE = "2026-01-05T09:00:00+01:00"
NAIVE = f"Give the time with its UTC offset, e.g. {EXAMPLE}."
NOT_AN_INSTANT = f"Give an ISO 8601 time with its UTC offset, e.g. {EXAMPLE}."
NOT_A_DAY_OR_INSTANT = f"Give an ISO 8601 date (2026-01-05) or a time with its offset ({EXAMPLE})."


class InstantError(ValueError):
    """Why a text is not an instant; its message is what the client is told."""


def bounded_utc(value: datetime) -> datetime | None:
    """The aware `value` in UTC, or None when it lies outside [EARLIEST, LATEST]."""
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        return None
    return value if EARLIEST <= value <= LATEST else None


def date_in_range(value: date) -> bool:
    return EARLIEST.date() <= value <= LATEST.date()


def parse_instant(
    raw: str, *, whole_days: bool = False, day_end: bool = False, bounded: bool = True
) -> datetime:
    """The instant `raw` names, in UTC; an `InstantError` saying why not.

    With `whole_days`, a bare date is the start of that day in UTC (with `day_end`, the start
    of the next day, so that an `until` date includes the day it names). With `bounded=False`
    any instant in UTC is taken (Alertmanager's "no end" is the year 1).
    """
    text = raw.strip()
    if text[-1:] == "z":
        text = text[:-1] + "Z"
    parsed = day = None
    try:
        # A date first: Python reads "2026-03-01" as a date-time too (a naive midnight).
        day = parse_date(text) if whole_days else None
        parsed = parse_datetime(text) if day is None else None
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        pass
    if parsed is None and day is not None:
        if day_end and day == date.max:
            raise InstantError(OUT_OF_RANGE)
        parsed = datetime.combine(day + timedelta(days=1) if day_end else day, time.min, UTC)
    if parsed is None:
        raise InstantError(NOT_A_DAY_OR_INSTANT if whole_days else NOT_AN_INSTANT)
    if parsed.tzinfo is None:
        raise InstantError(NAIVE)
    if not bounded:
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise InstantError(OUT_OF_RANGE) from None
    instant = bounded_utc(parsed)
    if instant is None:
        raise InstantError(OUT_OF_RANGE)
    return instant
