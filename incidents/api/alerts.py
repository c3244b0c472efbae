"""Alerts API: read-only list of deduplicated alerts, filterable by key, status and incident."""

import django_filters
from django import forms
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import generics, serializers

from incidents.models import Alert, AlertStatus

MAX_ID = 2**63 - 1


class IdFilter(django_filters.Filter):
    """A row id: a whole number within the column's range (no floats, no overflow)."""

    field_class = forms.IntegerField

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


class AlertFilter(django_filters.FilterSet):
    dedup_key = django_filters.CharFilter()
    status = django_filters.ChoiceFilter(choices=AlertStatus.choices)
    incident = IdFilter(field_name="incident_id")
    integration = IdFilter(field_name="integration_id")

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


def _id_parameter(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(
        name, {"type": "integer", "minimum": 1, "maximum": MAX_ID}, description=description
    )


@extend_schema_view(
    get=extend_schema(
        parameters=[
            _id_parameter("incident", "Only the alerts of this incident (id)."),
            _id_parameter("integration", "Only the alerts of this integration (id)."),
        ],
        # 400, 401, 403 and 404 (past the last page) are documented by incidents.api.schema.
        responses=AlertOutput(many=True),
    )
)
class AlertList(generics.ListAPIView):
    """Alerts, most recently seen first. Needs the incidents.view_alert permission."""

    queryset = Alert.objects.select_related("integration")
    serializer_class = AlertOutput
    filter_backends = [DjangoFilterBackend]
    filterset_class = AlertFilter
