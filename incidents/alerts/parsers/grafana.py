"""Grafana alerting webhook contact point: Alertmanager's shape plus Grafana's own fields."""

from typing import Any

from rest_framework import serializers

from incidents.alerts.events import AlertEvent, StrictCharField, validate
from incidents.alerts.parsers import alertmanager


class GrafanaAlertSerializer(alertmanager.AlertmanagerAlertSerializer):
    values = serializers.DictField(required=False, allow_null=True, default=dict)
    silenceURL = StrictCharField(required=False, allow_blank=True, default="")
    dashboardURL = StrictCharField(required=False, allow_blank=True, default="")
    panelURL = StrictCharField(required=False, allow_blank=True, default="")
    imageURL = StrictCharField(required=False, allow_blank=True, default="")


class GrafanaWebhookSerializer(alertmanager.AlertmanagerWebhookSerializer):
    """Grafana's webhook body (version "1")."""

    version = StrictCharField(required=False, default="1")
    orgId = serializers.IntegerField(required=False)
    title = StrictCharField(required=False, allow_blank=True, default="")
    state = StrictCharField(required=False, allow_blank=True, default="")
    message = StrictCharField(required=False, allow_blank=True, default="")
    alerts = GrafanaAlertSerializer(many=True)


def _link(alert: dict[str, Any]) -> str:
    return alert.get("panelURL") or alert.get("dashboardURL") or alert.get("generatorURL") or ""


def parse(payload: Any) -> list[AlertEvent]:
    data = validate(GrafanaWebhookSerializer, payload)
    return alertmanager.events_from(data, payload, link_of=_link)
