"""PagerDuty Events API v2 (`POST /v2/enqueue`): trigger, acknowledge and resolve events.

A trigger without a `dedup_key` gets a generated one (returned to the sender), so it always
opens a new alert; acknowledge and resolve need the key.
"""

import uuid
from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer
from rest_framework import serializers

from incidents.alerts.events import (
    ACKNOWLEDGE,
    RESOLVE,
    TRIGGER,
    AlertEvent,
    FlexibleDateTimeField,
    StrictCharField,
    validate,
)

SEVERITIES = ["critical", "error", "warning", "info"]


class PagerDutyLinkSerializer(serializers.Serializer):
    href = StrictCharField(max_length=2048)
    text = StrictCharField(required=False, allow_blank=True, default="")


class PagerDutyImageSerializer(serializers.Serializer):
    src = StrictCharField(max_length=2048)
    href = StrictCharField(required=False, allow_blank=True, default="")
    alt = StrictCharField(required=False, allow_blank=True, default="")


class PagerDutyPayloadSerializer(serializers.Serializer):
    summary = StrictCharField(max_length=1024)
    source = StrictCharField(max_length=255)
    severity = serializers.ChoiceField(choices=SEVERITIES)
    timestamp = FlexibleDateTimeField(required=False)
    component = StrictCharField(required=False, allow_blank=True, default="")
    group = StrictCharField(required=False, allow_blank=True, default="")
    custom_details = serializers.JSONField(required=False, allow_null=True)

    def get_fields(self):
        # `class` is a keyword in Python, so the field is added by name.
        fields = super().get_fields()
        fields["class"] = StrictCharField(required=False, allow_blank=True, default="")
        return fields


class PagerDutyEventSerializer(serializers.Serializer):
    """One PagerDuty Events API v2 event."""

    routing_key = StrictCharField(max_length=64)
    event_action = serializers.ChoiceField(choices=[TRIGGER, ACKNOWLEDGE, RESOLVE])
    dedup_key = StrictCharField(required=False, max_length=255)
    payload = PagerDutyPayloadSerializer(required=False)
    client = StrictCharField(required=False, allow_blank=True, default="")
    client_url = StrictCharField(required=False, allow_blank=True, default="")
    links = PagerDutyLinkSerializer(many=True, required=False, default=list)
    images = PagerDutyImageSerializer(many=True, required=False, default=list)

    def validate(self, attrs):
        if attrs["event_action"] == TRIGGER and "payload" not in attrs:
            raise serializers.ValidationError({"payload": ["This field is required."]})
        if attrs["event_action"] != TRIGGER and not attrs.get("dedup_key"):
            raise serializers.ValidationError(
                {"dedup_key": [f"This field is required for {attrs['event_action']} events."]}
            )
        return attrs


class PagerDutyTriggerSchema(PagerDutyEventSerializer):
    """Schema only: a trigger carries a payload."""

    event_action = serializers.ChoiceField(choices=[TRIGGER])
    payload = PagerDutyPayloadSerializer()


class PagerDutyFollowUpSchema(serializers.Serializer):
    """Schema only: acknowledge and resolve name the alert by its dedup_key."""

    routing_key = StrictCharField(max_length=64)
    event_action = serializers.ChoiceField(choices=[ACKNOWLEDGE, RESOLVE])
    dedup_key = StrictCharField(max_length=255)


PAGERDUTY_EVENT_SCHEMA = PolymorphicProxySerializer(
    component_name="PagerDutyEvent",
    serializers={
        TRIGGER: PagerDutyTriggerSchema,
        ACKNOWLEDGE: PagerDutyFollowUpSchema,
        RESOLVE: PagerDutyFollowUpSchema,
    },
    resource_type_field_name="event_action",
)


def parse(payload: Any) -> list[AlertEvent]:
    data = validate(PagerDutyEventSerializer, payload)
    action = data["event_action"]
    dedup_key = data.get("dedup_key") or uuid.uuid4().hex
    if action != TRIGGER:
        return [AlertEvent(action=action, dedup_key=dedup_key, raw=payload)]
    body = data["payload"]
    labels = {name: body[name] for name in ("component", "group", "class") if body.get(name)} | {
        "source": body["source"]
    }
    annotations = {
        "custom_details": body.get("custom_details"),
        "links": [dict(link) for link in data["links"]],
        "images": [dict(image) for image in data["images"]],
        "client": data["client"],
        "client_url": data["client_url"],
    }
    links = data["links"]
    return [
        AlertEvent(
            action=TRIGGER,
            dedup_key=dedup_key,
            summary=body["summary"],
            severity=body["severity"],
            labels=labels,
            annotations={k: v for k, v in annotations.items() if v not in (None, "", [])},
            link=links[0]["href"] if links else data["client_url"],
            source=body["source"],
            started_at=body.get("timestamp"),
            raw=payload,
        )
    ]
