"""Prometheus Alertmanager webhook, version 4: one notification is one group of alerts.

Each alert is keyed by its `fingerprint` (a hash of its labels, the same when firing and
resolved); the group's `groupKey` lets the alerts of one notification share an incident.
"""

from typing import Any

from rest_framework import serializers

from incidents.alerts.events import (
    RESOLVE,
    TRIGGER,
    AlertEvent,
    FlexibleDateTimeField,
    StrictCharField,
    StringMapField,
    end_or_none,
    labels_key,
    short_group_key,
    validate,
)
from incidents.models.alert import AlertStatus

STATUSES = AlertStatus.choices


class AlertmanagerAlertSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=STATUSES)
    labels = StringMapField()
    annotations = StringMapField(required=False, default=dict)
    startsAt = FlexibleDateTimeField(required=False, allow_null=True)
    endsAt = FlexibleDateTimeField(required=False, allow_null=True)
    generatorURL = StrictCharField(required=False, allow_blank=True, default="", max_length=2048)
    fingerprint = StrictCharField(required=False, allow_blank=True, default="", max_length=64)


class AlertmanagerWebhookSerializer(serializers.Serializer):
    """Alertmanager's webhook body (version "4")."""

    version = StrictCharField(required=False, default="4")
    groupKey = StrictCharField(required=False, allow_blank=True, default="")
    truncatedAlerts = serializers.IntegerField(required=False, default=0, min_value=0)
    status = serializers.ChoiceField(choices=STATUSES)
    receiver = StrictCharField(required=False, allow_blank=True, default="")
    groupLabels = StringMapField(required=False, default=dict)
    commonLabels = StringMapField(required=False, default=dict)
    commonAnnotations = StringMapField(required=False, default=dict)
    externalURL = StrictCharField(required=False, allow_blank=True, default="")
    alerts = AlertmanagerAlertSerializer(many=True)


def alert_summary(labels: dict[str, str], annotations: dict[str, str], fallback: str) -> str:
    return (
        annotations.get("summary")
        or labels.get("alertname")
        or annotations.get("description")
        or fallback
    ).strip() or fallback


def events_from(data: dict[str, Any], raw: dict[str, Any], *, link_of=None) -> list[AlertEvent]:
    """Events from a validated Alertmanager-shaped body (Grafana reuses this)."""
    group_key = short_group_key(data.get("groupKey") or labels_key(data.get("groupLabels", {})))
    envelope = {k: v for k, v in raw.items() if k != "alerts"}
    events = []
    # The validated alerts are in the order of the raw ones; keep each as sent, in its envelope.
    for alert, raw_alert in zip(data["alerts"], raw["alerts"], strict=True):
        labels, annotations = dict(alert["labels"]), dict(alert.get("annotations") or {})
        dedup_key = alert.get("fingerprint") or labels_key(labels)
        events.append(
            AlertEvent(
                action=RESOLVE if alert["status"] == "resolved" else TRIGGER,
                dedup_key=dedup_key,
                summary=alert_summary(labels, annotations, dedup_key),
                severity=labels.get("severity", ""),
                labels=labels,
                annotations=annotations,
                link=(link_of(alert) if link_of else alert.get("generatorURL", "")) or "",
                source=labels.get("instance") or labels.get("job") or data.get("externalURL", ""),
                group_key=group_key,
                started_at=alert.get("startsAt"),
                ended_at=end_or_none(alert.get("endsAt")),
                raw={**envelope, "alerts": [raw_alert]},
            )
        )
    return events


def parse(payload: Any) -> list[AlertEvent]:
    data = validate(AlertmanagerWebhookSerializer, payload)
    return events_from(data, payload)
