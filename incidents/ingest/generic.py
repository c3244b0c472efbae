"""Tocsin's own JSON format, for scripts and tools with a plain webhook."""

from typing import Any

from rest_framework import serializers

from incidents.ingest.events import (
    RESOLVE,
    TRIGGER,
    AlertEvent,
    StringMapField,
    labels_key,
    validate,
)


class GenericAlertSerializer(serializers.Serializer):
    """One alert. Without a `dedup_key`, alerts with the same summary, source and labels are one."""

    summary = serializers.CharField(
        max_length=1024,
        required=False,
        help_text="Required, except for a resolve that names its dedup_key.",
    )
    dedup_key = serializers.CharField(required=False, max_length=255)
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    severity = serializers.CharField(required=False, allow_blank=True, max_length=64, default="")
    source = serializers.CharField(required=False, allow_blank=True, max_length=255, default="")
    labels = StringMapField(required=False, default=dict)
    details = serializers.DictField(required=False, default=dict)
    link = serializers.CharField(required=False, allow_blank=True, max_length=2048, default="")

    def validate(self, attrs):
        if not attrs.get("summary") and not (
            attrs["status"] == "resolved" and attrs.get("dedup_key")
        ):
            raise serializers.ValidationError({"summary": ["This field is required."]})
        return attrs


def parse(payload: Any) -> list[AlertEvent]:
    data = validate(GenericAlertSerializer, payload)
    summary = data.get("summary", "")
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
