"""Grafana alerting webhook contact point: Alertmanager's shape plus Grafana's own fields."""

from typing import Any

from rest_framework import serializers

from incidents.ingest import alertmanager
from incidents.ingest.events import AlertEvent, validate


class GrafanaAlertSerializer(alertmanager.AlertmanagerAlertSerializer):
    values = serializers.DictField(required=False, allow_null=True, default=dict)
    silenceURL = serializers.CharField(required=False, allow_blank=True, default="")
    dashboardURL = serializers.CharField(required=False, allow_blank=True, default="")
    panelURL = serializers.CharField(required=False, allow_blank=True, default="")
    imageURL = serializers.CharField(required=False, allow_blank=True, default="")


class GrafanaWebhookSerializer(alertmanager.AlertmanagerWebhookSerializer):
    """Grafana's webhook body (version "1")."""

    version = serializers.CharField(required=False, default="1")
    orgId = serializers.IntegerField(required=False)
    title = serializers.CharField(required=False, allow_blank=True, default="")
    state = serializers.CharField(required=False, allow_blank=True, default="")
    message = serializers.CharField(required=False, allow_blank=True, default="")
    alerts = GrafanaAlertSerializer(many=True, allow_empty=False)


def _link(alert: dict[str, Any]) -> str:
    return alert.get("panelURL") or alert.get("dashboardURL") or alert.get("generatorURL") or ""


def parse(payload: Any) -> list[AlertEvent]:
    data = validate(GrafanaWebhookSerializer, payload)
    return alertmanager.events_from(data, payload, link_of=_link)
