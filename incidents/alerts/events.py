"""The normalized event every parser produces, and helpers the parsers share."""

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.validators import ProhibitNullCharactersValidator
from rest_framework import serializers
from rest_framework.fields import empty

from incidents.core.instants import InstantError, parse_instant

TRIGGER = "trigger"
ACKNOWLEDGE = "acknowledge"
RESOLVE = "resolve"

# Alertmanager's "no end yet" (Go's zero time); anything this early means the same.
_NO_END_BEFORE_YEAR = 2


@dataclass(frozen=True)
class AlertEvent:
    """One thing a sender says about one alert.

    `dedup_key` identifies the alert within its integration; `alert_id` is set instead when a
    sender addresses our alert by id (Opsgenie's identifierType=id/tiny).
    """

    action: str
    dedup_key: str = ""
    alert_id: int | None = None
    summary: str = ""
    severity: str = ""
    labels: dict[str, Any] = field(default_factory=dict)
    annotations: dict[str, Any] = field(default_factory=dict)
    link: str = ""
    source: str = ""
    group_key: str = ""
    started_at: datetime | None = None
    ended_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class InvalidPayload(Exception):
    """The payload does not follow its format. `errors` maps field paths to messages."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error structure -> {"alerts[0].labels": ["..."]}, so answers name fields."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = prefix if key == "non_field_errors" and prefix else key
            path = name if not prefix or name == prefix else f"{prefix}.{name}"
            out.update(flatten_errors(value, path))
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(i) for i in detail)
        else:
            for index, item in enumerate(detail):
                if item:
                    out.update(flatten_errors(item, f"{prefix}[{index}]"))
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def validate(serializer_class, data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        raise InvalidPayload(flatten_errors(serializer.errors))
    return serializer.validated_data


def end_or_none(value: datetime | None) -> datetime | None:
    if value is None or value.year < _NO_END_BEFORE_YEAR:
        return None
    return value


def labels_key(*parts: Any) -> str:
    """A stable dedup key from content, for senders that give none."""
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def short_group_key(value: str) -> str:
    """Group keys can be long label sets; keep them indexable."""
    if len(value) <= 200:
        return value
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


class StrictCharField(serializers.CharField):
    """A JSON string, and only a string: what the schema promises is what is accepted."""

    default_error_messages = {"not_a_string": "Must be a string."}

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # JSON strings may hold NUL; it is dropped before storage instead of refusing an alert.
        self.validators = [
            v for v in self.validators if not isinstance(v, ProhibitNullCharactersValidator)
        ]

    def run_validation(self, data=empty):
        if isinstance(data, str):
            # The schema's maxLength counts the string as sent; DRF would count it trimmed.
            if self.max_length is not None and len(data) > self.max_length:
                self.fail("max_length", max_length=self.max_length)
            # NULs are dropped before storage, so a value of NULs and spaces is blank.
            stored = data.replace("\x00", "")
            if not self.allow_blank and not (stored.strip() if self.trim_whitespace else stored):
                self.fail("blank")
        return super().run_validation(data)

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        return super().to_internal_value(data)


class StringMapField(serializers.DictField):
    """A JSON object of strings (labels, Opsgenie details)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("child", StrictCharField(allow_blank=True, trim_whitespace=False))
        super().__init__(**kwargs)


class FlexibleDateTimeField(serializers.DateTimeField):
    """RFC 3339 with any fraction of a second (Alertmanager sends nanoseconds)."""

    def to_internal_value(self, value):
        if not isinstance(value, str):
            self.fail("invalid", format="RFC 3339 string")
        # The API's reading rule, unbounded: Alertmanager's "no end yet" is the year 1.
        # In UTC: PostgreSQL stores no offset past ±15:59, which RFC 3339 (and Python) allow.
        try:
            return parse_instant(value, bounded=False)
        except InstantError as error:
            raise serializers.ValidationError(str(error), code="invalid") from error


# --- the inbox's form of an event ----------------------------------------------------------
_INSTANTS = ("started_at", "ended_at")


def event_to_json(event: AlertEvent) -> dict[str, Any]:
    """The event as the inbox stores it (JSON): instants as ISO 8601, empty fields left out."""
    out: dict[str, Any] = {}
    for name in AlertEvent.__dataclass_fields__:
        value = getattr(event, name)
        if value in ("", None, {}) and name != "action":
            continue
        out[name] = value.isoformat() if name in _INSTANTS else value
    return out


def event_from_json(data: dict[str, Any]) -> AlertEvent:
    values = dict(data)
    for name in _INSTANTS:
        if values.get(name):
            values[name] = datetime.fromisoformat(values[name])
    return AlertEvent(**values)
