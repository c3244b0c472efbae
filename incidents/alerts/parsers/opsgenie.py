"""Opsgenie alert API subset: create (`POST /v2/alerts`), close and acknowledge.

The alias is the dedup key: one open alert per alias, repeats increase its count. Close and
acknowledge address an alert by our alert id, by alias, or by tiny id (our id as well).
"""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from incidents.alerts.events import (
    ACKNOWLEDGE,
    RESOLVE,
    TRIGGER,
    AlertEvent,
    StrictCharField,
    StringMapField,
    labels_key,
    validate,
)

PRIORITIES = ["P1", "P2", "P3", "P4", "P5"]
IDENTIFIER_TYPES = ["id", "alias", "tiny"]
MESSAGE_LIMIT = 130


@extend_schema_field({"type": "string", "enum": PRIORITIES, "default": "P3"})
class OpsgeniePriorityField(serializers.ChoiceField):
    """Opsgenie's P1-P5, documented inline (our own "priority" enums mean other things)."""

    def __init__(self, **kwargs):
        super().__init__(choices=PRIORITIES, **kwargs)


class OpsgenieResponderSerializer(serializers.Serializer):
    type = StrictCharField()
    id = StrictCharField(required=False)
    name = StrictCharField(required=False)
    username = StrictCharField(required=False)


class OpsgenieCreateSerializer(serializers.Serializer):
    """Opsgenie's create-alert request."""

    message = StrictCharField(
        help_text=f"Required; Opsgenie keeps the first {MESSAGE_LIMIT} characters."
    )
    alias = StrictCharField(required=False, max_length=512)
    description = StrictCharField(required=False, allow_blank=True, max_length=15000)
    responders = OpsgenieResponderSerializer(many=True, required=False)
    visibleTo = OpsgenieResponderSerializer(many=True, required=False)
    actions = serializers.ListField(child=StrictCharField(), required=False)
    tags = serializers.ListField(child=StrictCharField(), required=False, default=list)
    details = StringMapField(required=False, default=dict)
    entity = StrictCharField(required=False, allow_blank=True, max_length=512)
    source = StrictCharField(required=False, allow_blank=True, max_length=100)
    priority = OpsgeniePriorityField(required=False, default="P3")
    user = StrictCharField(required=False, allow_blank=True, max_length=100)
    note = StrictCharField(required=False, allow_blank=True, max_length=25000)


class OpsgenieActionSerializer(serializers.Serializer):
    """Body of close and acknowledge (all optional)."""

    user = StrictCharField(required=False, allow_blank=True, max_length=100)
    source = StrictCharField(required=False, allow_blank=True, max_length=100)
    note = StrictCharField(required=False, allow_blank=True, max_length=25000)


class IdentifierTypeSerializer(serializers.Serializer):
    identifierType = serializers.ChoiceField(choices=IDENTIFIER_TYPES, required=False, default="id")


def parse_create(payload: Any) -> list[AlertEvent]:
    data = validate(OpsgenieCreateSerializer, payload)
    message = data["message"].strip()[:MESSAGE_LIMIT]
    alias = data.get("alias") or labels_key(message, data.get("entity", ""))
    annotations = {
        name: data[name]
        for name in ("description", "entity", "note", "user", "tags", "actions")
        if data.get(name)
    }
    return [
        AlertEvent(
            action=TRIGGER,
            dedup_key=alias,
            summary=message,
            severity=data["priority"],
            labels=dict(data["details"]),
            annotations=annotations,
            source=data.get("source", "") or data.get("entity", ""),
            raw=payload,
        )
    ]


def parse_action(
    *, action: str, identifier: str, identifier_type: Any, payload: Any
) -> list[AlertEvent]:
    """Close (resolve) or acknowledge one alert named by `identifier`."""
    assert action in (RESOLVE, ACKNOWLEDGE)
    kind = validate(IdentifierTypeSerializer, {"identifierType": identifier_type or "id"})
    validate(OpsgenieActionSerializer, payload)
    if kind["identifierType"] == "alias":
        return [AlertEvent(action=action, dedup_key=identifier, raw=payload)]
    if not identifier.isdigit() or len(identifier) > 18:
        # Not one of ours: accepted and ignored, as Opsgenie does for unknown alerts.
        return []
    return [AlertEvent(action=action, alert_id=int(identifier), raw=payload)]
