"""How Tocsin writes a moment for people: one format, always with its zone.

"2026-12-01 21:40 UTC", or "2026-12-01 22:40 CET" on a schedule kept in Europe/Paris. Python
code calls `format_time`, templates the `stamp` filter (`{% load tocsin_time %}`), and Django's
own rendering of date-times (admin lists, read-only fields) uses the same format through
config/formats.
"""

from datetime import datetime, tzinfo

from django.utils import timezone
from django.utils.dateformat import format as date_format

# Django's date-format syntax: ISO date, 24-hour time, the zone's abbreviation.
TIME_FORMAT = "Y-m-d H:i T"


def format_time(value: datetime | None, tz: tzinfo | str | None = None) -> str:
    """`value` in `tz` (a zone or its name; default the current zone), labelled with the zone."""
    if value is None:
        return ""
    if isinstance(tz, str):
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(tz)
    if timezone.is_aware(value):
        value = value.astimezone(tz or timezone.get_current_timezone())
    else:
        value = timezone.make_aware(value, tz or timezone.get_current_timezone())
    return date_format(value, TIME_FORMAT)
