"""Integrations API: list and read them (never a token or its hash), create one (its token is
in that answer only)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from incidents.alerts.integrations import integration_create, integration_endpoint
from incidents.api.common.strict import StrictInput
from incidents.api.serializers import SeverityKeyField
from incidents.models import Integration, IntegrationKind, Service


class IntegrationOutput(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(read_only=True, slug_field="slug", allow_null=True)
    severity = serializers.SlugRelatedField(read_only=True, slug_field="key", allow_null=True)
    severity_mapping = serializers.DictField(child=serializers.CharField())
    endpoint_url = serializers.SerializerMethodField()

    class Meta:
        model = Integration
        fields = [
            "id",
            "name",
            "kind",
            "endpoint_url",
            "service",
            "severity",
            "severity_mapping",
            "enabled",
            "rate_limit_per_second",
            "rate_limit_burst",
            "resolve_incident_on_alert_resolve",
            "token_prefix",
            "created_at",
            "last_alert_at",
            "alert_count",
        ]
        read_only_fields = fields

    def get_endpoint_url(self, integration) -> str:
        return integration_endpoint(integration)


class IntegrationCreated(IntegrationOutput):
    token = serializers.CharField(help_text="Shown in this answer only: Tocsin keeps a hash.")

    class Meta(IntegrationOutput.Meta):
        fields = [*IntegrationOutput.Meta.fields, "token"]
        read_only_fields = fields


class IntegrationCreateInput(StrictInput, serializers.Serializer):
    name = serializers.CharField(max_length=120)
    kind = serializers.ChoiceField(choices=IntegrationKind.choices)
    service = serializers.SlugRelatedField(
        slug_field="slug", queryset=Service.objects.all(), required=False, allow_null=True
    )
    severity = SeverityKeyField(
        required=False, allow_null=True, help_text="Default severity, e.g. P2."
    )
    severity_mapping = serializers.DictField(
        child=serializers.CharField(max_length=8),
        required=False,
        help_text='Source severity -> our severity key, e.g. {"critical": "P1"} '
        "(default: the kind's mapping).",
    )
    enabled = serializers.BooleanField(required=False, default=True)
    rate_limit_per_second = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text="Requests a second, on average (default 100); 0 for no limit.",
    )
    rate_limit_burst = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text="Requests accepted at once above the average (default 1000); 0 for no limit.",
    )
    resolve_incident_on_alert_resolve = serializers.BooleanField(required=False, default=True)

    def validate_severity_mapping(self, mapping):
        for source in mapping:
            if not source or len(source) > 64 or "\x00" in source:
                raise serializers.ValidationError(
                    f"Source severities are 1 to 64 characters, without NUL: {source[:64]!r}."
                )
        return mapping


class IntegrationListCreate(generics.GenericAPIView):
    """Alert sources. Reading needs incidents.view_integration; creating, add_integration."""

    queryset = Integration.objects.select_related("service", "severity")
    serializer_class = IntegrationOutput

    @extend_schema(responses=IntegrationOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(IntegrationOutput(page, many=True).data)

    @extend_schema(request=IntegrationCreateInput, responses={201: IntegrationCreated})
    def post(self, request):
        data = IntegrationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        integration, token = integration_create(actor=request.user, **data.validated_data)
        integration.token = token
        answer = Response(IntegrationCreated(integration).data, status=status.HTTP_201_CREATED)
        answer["Cache-Control"] = "no-store"
        return answer


class IntegrationDetail(generics.GenericAPIView):
    queryset = Integration.objects.select_related("service", "severity")
    serializer_class = IntegrationOutput

    @extend_schema(responses=IntegrationOutput)
    def get(self, request, pk: int):
        return Response(IntegrationOutput(get_object_or_404(self.get_queryset(), pk=pk)).data)
