"""Tocsin's own JSON format, for scripts and tools with a plain webhook."""

from typing import Any

from rest_framework import serializers

from incidents.alerts.events import (
    RESOLVE,
    TRIGGER,
    AlertEvent,
    StrictCharField,
    StringMapField,
    labels_key,
    validate,
)
from incidents.models.alert import AlertStatus


class GenericAlertSerializer(serializers.Serializer):
    """One alert. Without a `dedup_key`, alerts with the same summary, source and labels are one."""

    summary = StrictCharField(max_length=1024, help_text="Becomes the incident's title.")
    dedup_key = StrictCharField(required=False, max_length=255)
    status = serializers.ChoiceField(
        choices=AlertStatus.choices, required=False, default=AlertStatus.FIRING
    )
    severity = StrictCharField(required=False, allow_blank=True, max_length=64, default="")
    source = StrictCharField(required=False, allow_blank=True, max_length=255, default="")
    labels = StringMapField(required=False, default=dict)
    details = serializers.DictField(required=False, default=dict)
    link = StrictCharField(required=False, allow_blank=True, max_length=2048, default="")


def parse(payload: Any) -> list[AlertEvent]:
    data = validate(GenericAlertSerializer, payload)
    summary = data["summary"]
    dedup_key = data.get("dedup_key") or labels_key(summary, data["source"], data["labels"])
    return [
        AlertEvent(
            action=RESOLVE if data["status"] == "resolved" else TRIGGER,
            dedup_key=dedup_key,
            summary=summary,
            severity=data["severity"],
            labels=dict(data["labels"]),
            annotations=dict(data["details"]),
            link=data["link"],
            source=data["source"],
            raw=payload,
        )
    ]
