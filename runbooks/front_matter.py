"""The front matter of a runbook file, validated by a DRF serializer.

`runbooks.files.parse` reads the YAML and knows where each key sits; this serializer says
whether the values are what the format allows (docs/runbooks.md), in the words the file's
author is shown ("services: must be a list of names, e.g. [database, api]"). YAML gives
numbers, booleans and nulls where the author may have meant text, so the fields here are
strict about types rather than coercing as DRF's own would.
"""

import re

from rest_framework import serializers
from rest_framework.fields import empty

from runbooks.models import DEFAULT_REVIEW_EVERY_DAYS, DEFAULT_WEIGHTS, LABEL_KINDS, MatchKind

# The keys a file may have, in the order their errors are reported.
REPORT_ORDER = (
    "title",
    "services",
    "keywords",
    "owner",
    "review_every_days",
    "symptoms",
    "match",
    "rules",
    "steps",
    "causes",
)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_scalar_text(value) -> bool:
    """Text as YAML may give it: a string, or a number the author wrote as one."""
    return isinstance(value, str | int | float) and not isinstance(value, bool)


class _Strict(serializers.Field):
    """A field with one message for any wrong value, checked by `accepts`."""

    message = "is not valid"

    def __init__(self, message: str | None = None, *, empty_ok: bool = False, **kwargs):
        self.message = message or self.message
        self.empty_ok = empty_ok  # YAML's null, 0, false, "" mean "none" (as `x or default`)
        super().__init__(**kwargs)

    def run_validation(self, data=empty):
        if data is empty:
            return super().run_validation(data)  # absent: the default
        return self.to_internal_value(data)  # null too: `accepts` judges it

    def accepts(self, value) -> bool:
        raise NotImplementedError

    def convert(self, value):
        return value

    def to_internal_value(self, value):
        if self.empty_ok and not value:
            value = None
        elif not self.accepts(value):
            raise serializers.ValidationError(self.message)
        return self.convert(value)

    def to_representation(self, value):
        return value


class NameList(_Strict):
    message = "must be a list of names, e.g. [database, api]"

    def accepts(self, value):
        return isinstance(value, list) and all(isinstance(v, str) or _is_int(v) for v in value)

    def convert(self, value):
        return [str(v) for v in value or []]


class Text(_Strict):
    def accepts(self, value):
        return value is None or isinstance(value, str)

    def convert(self, value):
        return value or ""


class Anything(serializers.Field):
    """Any YAML value, judged by the serializer that holds it."""

    def to_internal_value(self, value):
        return value

    def to_representation(self, value):
        return value


class WholeNumber(_Strict):
    def __init__(self, low: int, high: int, message: str, **kwargs):
        self.low, self.high = low, high
        super().__init__(message, **kwargs)

    def accepts(self, value):
        return _is_int(value) and self.low <= value <= self.high


class LabelValues(_Strict):
    message = "must map alert labels to values, e.g. {alertname: PgPoolExhausted}"

    def accepts(self, value):
        return isinstance(value, dict)

    def convert(self, value):
        for label, text in (value or {}).items():
            if not _is_scalar_text(text):
                raise serializers.ValidationError(f"the value of {label!r} must be text")
        return {str(label): str(text) for label, text in (value or {}).items()}


class Entries(serializers.ListField):
    """A list of entries, each checked by `child`; errors name the entry (its index)."""

    def __init__(self, *, shape: str, **kwargs):
        self.shape = shape
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)

    def run_validation(self, data=empty):
        if data is empty:
            return []
        return self.to_internal_value(data)

    def to_internal_value(self, data):
        if not data:  # as `data.get(key) or []`
            return []
        if not isinstance(data, list):
            raise serializers.ValidationError(f"must be a list of {self.shape}")
        return self.run_child_validation(data)

    def run_child_validation(self, data):
        entries = []
        for index, item in enumerate(data):
            try:
                entries.append(self.child.run_validation(item))
            except serializers.ValidationError as error:
                raise serializers.ValidationError({index: _first_message(error.detail)}) from None
        return entries


class Entry(serializers.Field):
    """One step or cause: `required` texts, `optional` ones; nothing else."""

    def __init__(self, *, required: tuple[str, ...], optional: tuple[str, ...] = (), **kwargs):
        self.required_keys, self.optional_keys = required, optional
        super().__init__(**kwargs)

    def to_internal_value(self, item):
        if isinstance(item, str) and self.required_keys == ("instruction",):
            item = {"instruction": item}  # a bare string is a step with only an instruction
        if not isinstance(item, dict):
            raise serializers.ValidationError(f"each entry needs {', '.join(self.required_keys)}")
        unknown = set(item) - set(self.required_keys) - set(self.optional_keys)
        if unknown:
            raise serializers.ValidationError(f"unknown field {sorted(unknown)[0]!r}")
        for name in self.required_keys:
            if not isinstance(item.get(name), str) or not item[name].strip():
                raise serializers.ValidationError(f"each entry needs {name} as text")
        for name in self.optional_keys:
            if item.get(name) is not None and not _is_scalar_text(item[name]):
                raise serializers.ValidationError(f"{name} must be text")
        return {name: str(item.get(name) or "") for name in self.required_keys + self.optional_keys}

    def to_representation(self, value):
        return value


class RuleEntry(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=MatchKind.choices,
        error_messages={
            choice: f"each rule needs a kind, one of: {', '.join(MatchKind.values)}"
            for choice in ("required", "invalid_choice", "null")
        },
    )
    key = Anything(required=False, allow_null=True)
    value = Anything(
        error_messages={"required": "each rule needs a value", "null": "each rule needs a value"}
    )
    weight = Anything(required=False, allow_null=True)

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                f"each rule needs a kind, one of: {', '.join(MatchKind.values)}"
            )
        return super().to_internal_value(data)

    def validate(self, attrs):
        kind, key, value = attrs["kind"], str(attrs.get("key") or ""), attrs["value"]
        if value == "":
            raise serializers.ValidationError("each rule needs a value")
        if kind in LABEL_KINDS and not key:
            raise serializers.ValidationError("label rules need a key (the label name)")
        weight = attrs["weight"] if "weight" in attrs else DEFAULT_WEIGHTS[kind]
        if not _is_int(weight) or not 0 < weight <= 1000:
            raise serializers.ValidationError("weight must be a whole number between 1 and 1000")
        if kind == MatchKind.LABEL_MATCHES:
            try:
                re.compile(str(value))
            except re.error as error:
                raise serializers.ValidationError(
                    f"not a valid regular expression: {error}"
                ) from None
        return {"kind": kind, "key": key, "value": str(value), "weight": weight}


class FrontMatter(serializers.Serializer):
    title = serializers.CharField(
        max_length=200,
        error_messages={
            "blank": "must be non-empty text",
            "invalid": "must be non-empty text",
            "null": "must be non-empty text",
            "max_length": "is longer than 200 characters",
        },
    )
    services = NameList(required=False, empty_ok=True, default=list)
    keywords = NameList(required=False, empty_ok=True, default=list)
    owner = Text("must be a username", required=False)
    review_every_days = WholeNumber(
        1,
        3650,
        "must be a whole number of days between 1 and 3650",
        required=False,
        default=DEFAULT_REVIEW_EVERY_DAYS,
    )
    symptoms = Text("must be text", required=False, empty_ok=True, default="")
    match = LabelValues(required=False, empty_ok=True, default=dict)
    rules = Entries(child=RuleEntry(), shape="{kind, key?, value, weight?}")
    steps = Entries(
        child=Entry(required=("instruction",), optional=("command", "expected")),
        shape="{instruction, command, expected}",
    )
    causes = Entries(child=Entry(required=("cause", "fix")), shape="{cause, fix}")

    def to_internal_value(self, data):
        if not isinstance(data.get("title"), str):  # a number, list, mapping or null: not text
            raise serializers.ValidationError({"title": ["must be non-empty text"]})
        return super().to_internal_value(data)


def _first_message(detail) -> str:
    """The first message in a DRF error detail (a string, list or dict of them)."""
    if isinstance(detail, dict):
        return _first_message(next(iter(detail.values())))
    if isinstance(detail, list):
        return _first_message(detail[0])
    return str(detail)


def first_error(errors: dict) -> tuple[str, int | None, str]:
    """(key, entry index or None, message) of the error to report first."""
    key = next(k for k in REPORT_ORDER if k in errors)
    detail = errors[key]
    if isinstance(detail, dict):
        index = next(iter(detail))
        if isinstance(index, int):
            return key, index, _first_message(detail[index])
    return key, None, _first_message(detail)
