"""Input serializers that take JSON as the schema describes it, not as DRF would coerce it.

DRF reads 5 as "5" for a string field, "5" as 5 for an integer one, "yes" as true, checks
a string's length after trimming its whitespace, and looks a slug containing NUL up in the
database (which refuses it: a 500). The schema promises a string, an
integer, a boolean, at most N characters; `StrictInput` makes the API refuse, with a 400
naming the field, whatever the schema does not allow. Mix it into every input serializer
(nested ones check their own fields).
"""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.relations import ManyRelatedField, PrimaryKeyRelatedField, RelatedField


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(field, value) -> str | None:
    """Why `value` (parsed JSON) is not what the schema documents for `field`, if it is not."""
    if value is None:
        return None  # allow_null is DRF's to judge
    if isinstance(field, ManyRelatedField | serializers.ListField):
        if not isinstance(value, list):
            return "Expected a list."
        child = field.child_relation if isinstance(field, ManyRelatedField) else field.child
        reasons = [_check(child, item) for item in value]
        return next((reason for reason in reasons if reason), None)
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField | PrimaryKeyRelatedField):
        return None if _is_int(value) else "A whole number is required."
    if isinstance(field, serializers.FloatField):
        return None if _is_int(value) or isinstance(value, float) else "A number is required."
    if isinstance(
        field,
        serializers.CharField
        | serializers.DateField
        | serializers.DateTimeField
        | serializers.TimeField
        | RelatedField,
    ):
        if not isinstance(value, str):
            return "Must be a string."
        if "\x00" in value:
            # CharField refuses NUL itself; a relation would look it up and PostgreSQL fail.
            return "Null characters are not allowed."
        max_length = getattr(field, "max_length", None)
        if max_length is not None and len(value) > max_length:
            return f"Ensure this field has no more than {max_length} characters."
    return None


class StrictInput:
    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            errors = {}
            for field in self._writable_fields:
                value = data.get(field.field_name, empty)
                reason = None if value is empty else _check(field, value)
                if reason:
                    errors[field.field_name] = [reason]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
