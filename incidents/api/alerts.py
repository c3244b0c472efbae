"""Alerts API: read-only list of deduplicated alerts, filterable by key, status and incident."""

import django_filters
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import generics, serializers

from incidents.models import Alert, AlertStatus


class AlertFilter(django_filters.FilterSet):
    dedup_key = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=AlertStatus.choices)
    incident = django_filters.NumberFilter(field_name="incident_id")
    integration = django_filters.NumberFilter(field_name="integration_id")

    class Meta:
        model = Alert
        fields = ["dedup_key", "status", "incident", "integration"]


class AlertOutput(serializers.ModelSerializer):
    integration_name = serializers.CharField(source="integration.name", read_only=True)
    integration_kind = serializers.CharField(source="integration.kind", read_only=True)

    class Meta:
        model = Alert
        fields = [
            "id",
            "dedup_key",
            "status",
            "summary",
            "count",
            "incident",
            "integration",
            "integration_name",
            "integration_kind",
            "severity",
            "source",
            "link",
            "labels",
            "annotations",
            "first_seen_at",
            "last_seen_at",
            "acknowledged_at",
            "resolved_at",
        ]
        read_only_fields = fields


class AlertList(generics.ListAPIView):
    """Alerts, most recently seen first. Needs the incidents.view_alert permission."""

    queryset = Alert.objects.select_related("integration")
    serializer_class = AlertOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = AlertFilter
