"""GET /api/v1/incidents/{id}/runbooks/: the runbooks that match an incident, best first."""

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.models import Incident
from runbooks.matching import match_runbooks

MAX_LIMIT = 20


class CanViewIncidentRunbooks(BasePermission):
    message = "You need the incidents.view_incident and runbooks.view_runbook permissions."

    def has_permission(self, request, view):
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.has_perms(["incidents.view_incident", "runbooks.view_runbook"])
        )


class IncidentRunbookOutput(serializers.Serializer):
    id = serializers.IntegerField()
    title = serializers.CharField()
    url = serializers.URLField(help_text="The runbook's page in Tocsin.")
    score = serializers.IntegerField(help_text="Sum of the weights of the rules that matched.")


class LimitInput(serializers.Serializer):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_LIMIT, default=3, required=False)


class IncidentRunbooks(APIView):
    permission_classes = [CanViewIncidentRunbooks]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "limit",
                {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
                description=f"1-{MAX_LIMIT}, default 3.",
            )
        ],
        responses=IncidentRunbookOutput(many=True),
    )
    def get(self, request, pk: int):
        # An empty `limit=` is no limit given, as for every optional query parameter.
        limit = request.query_params.get("limit")
        params = LimitInput(data={"limit": limit} if limit else {})
        params.is_valid(raise_exception=True)
        incident = get_object_or_404(Incident, pk=pk)
        matches = match_runbooks(incident, limit=params.validated_data["limit"])
        rows = [
            {"id": m.runbook.pk, "title": m.runbook.title, "url": m.url, "score": m.score}
            for m in matches
        ]
        return Response(IncidentRunbookOutput(rows, many=True).data)


# This app's part of /api/v1/ (config/api_urls.py puts every app's together).
urlpatterns = [
    path(
        "incidents/<int:pk>/runbooks/",
        IncidentRunbooks.as_view(),
        name="incident-runbooks",
    ),
]
