"""The one check of a time-zone name, shared by the model field, the admin forms and the API.

`check_time_zone` raises a `DomainError` (domain functions); `validate_time_zone` is the same
check as a Django validator, for the model field, form fields and DRF fields alike.

A name must be an IANA zone (`Europe/Berlin`); for a near miss such as `Berlin`, `berlin` or
`new york` the error suggests the zones it most likely means.
"""

import difflib
import zoneinfo
from functools import cache

from django.core.exceptions import ValidationError

from incidents.core.errors import DomainError

# Names the tz database ships that do not denote a place: refused like unknown ones.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
EXAMPLE = "Europe/Berlin"


@cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones()) - _NOT_ZONES


@cache
def _by_city() -> dict[str, tuple[str, ...]]:
    """Lower-cased last component ("berlin", "new_york") -> the zones ending in it."""
    index: dict[str, list[str]] = {}
    for name in sorted(_zones()):
        index.setdefault(name.rsplit("/", 1)[-1].lower(), []).append(name)
    # Prefer the canonical area names over legacy ones (Europe/Berlin before Etc/… or US/…).
    return {
        city: tuple(sorted(names, key=lambda n: (n.count("/") == 0, n)))
        for city, names in index.items()
    }


def suggest_time_zones(name: str, limit: int = 3) -> list[str]:
    """IANA names the user probably meant by `name`, best first (maybe none)."""
    key = (name or "").strip().replace(" ", "_")
    if not key:
        return []
    lowered = {zone.lower(): zone for zone in _zones()}
    if key.lower() in lowered:  # only the case was wrong
        return [lowered[key.lower()]]
    city = key.rsplit("/", 1)[-1].lower()
    if city in _by_city():
        return list(_by_city()[city][:limit])
    area = key.lower().split("/", 1)[0] + "/" if "/" in key else ""
    cities = [
        c for c, zones in _by_city().items() if any(z.lower().startswith(area) for z in zones)
    ]
    close = difflib.get_close_matches(city, cities, n=limit, cutoff=0.8)
    return [next(z for z in _by_city()[c] if z.lower().startswith(area)) for c in close]


def check_time_zone(name: str) -> zoneinfo.ZoneInfo:
    """The zone named `name`; a `DomainError` on field `time_zone` naming likely fixes otherwise."""
    if name and name in _zones():
        return zoneinfo.ZoneInfo(name)
    suggestions = suggest_time_zones(name)
    hint = (
        f"did you mean {' or '.join(suggestions)}?"
        if suggestions
        else f"use an IANA name such as {EXAMPLE}."
    )
    raise DomainError(f"Unknown time zone {name!r}: {hint}", field="time_zone")


def validate_time_zone(value: str) -> None:
    """`check_time_zone` as a validator: a `ValidationError` with the same message."""
    try:
        check_time_zone(value)
    except DomainError as error:
        raise ValidationError(error.message, code="unknown_time_zone") from error
