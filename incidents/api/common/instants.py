"""The API's one date-time input: a DRF field and a query-parameter reader.

Both read text by the rule in incidents.core.instants (ISO 8601 with its UTC offset; a time
without one is refused with a 400 naming the field; converted to UTC, between 1970 and 9000).
"""

from datetime import datetime

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.core.instants import (
    NOT_AN_INSTANT,
    OUT_OF_RANGE,
    InstantError,
    bounded_utc,
    date_in_range,
    parse_instant,
)

__all__ = ["OUT_OF_RANGE", "InstantField", "bounded_utc", "date_in_range", "instant_param"]


@extend_schema_field(OpenApiTypes.DATETIME)
class InstantField(serializers.DateTimeField):
    """The API's one date-time input field: `parse_instant`'s rule, errors naming the field."""

    def to_internal_value(self, value):
        if isinstance(value, datetime):
            value = value.isoformat()
        if not isinstance(value, str):
            raise serializers.ValidationError(NOT_AN_INSTANT, code="invalid")
        try:
            return parse_instant(value)
        except InstantError as error:
            raise serializers.ValidationError(str(error), code="invalid") from error


def instant_param(
    request,
    name: str,
    *,
    default: datetime | None = None,
    whole_days: bool = False,
    day_end: bool = False,
) -> datetime:
    """Query parameter `name` as an instant (`parse_instant`); `default` when it is absent
    (absent and no default: a 400). Errors are 400s naming the parameter."""
    raw = request.query_params.get(name)
    if not raw:
        if default is None:
            raise serializers.ValidationError({name: [f"Give '{name}': {NOT_AN_INSTANT}"]})
        return default
    # An unencoded '+' in a query string arrives as a space.
    try:
        return parse_instant(raw.strip().replace(" ", "+"), whole_days=whole_days, day_end=day_end)
    except InstantError as error:
        raise serializers.ValidationError({name: [str(error)]}) from error
