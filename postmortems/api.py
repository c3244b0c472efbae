"""Post-mortem and report endpoints: views validate, call the domain or a selector, serialize."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import renderers, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.api.common.instants import instant_param
from incidents.api.common.strict import StrictInput
from incidents.api.permissions import allowed, allowed_by_method
from incidents.core.policy import Action
from incidents.models import Incident
from postmortems import reports, services
from postmortems.choices import ActionPriority, PostmortemStatus
from postmortems.export import export_queryset, markdown_filename, postmortem_markdown
from postmortems.models import ActionItem, Postmortem, RootCauseCategory


class ActionItemOutput(serializers.ModelSerializer):
    owner = serializers.SlugRelatedField(read_only=True, slug_field="username", allow_null=True)

    class Meta:
        model = ActionItem
        fields = ["id", "title", "owner", "due_date", "priority", "status", "tracker_url"]


class PostmortemOutput(serializers.ModelSerializer):
    incident = serializers.IntegerField(source="incident_id")
    author = serializers.SlugRelatedField(read_only=True, slug_field="username", allow_null=True)
    root_cause_category = serializers.SlugRelatedField(
        read_only=True, slug_field="name", allow_null=True
    )
    overdue = serializers.SerializerMethodField()
    action_items = ActionItemOutput(many=True, read_only=True)
    markdown_url = serializers.SerializerMethodField()

    class Meta:
        model = Postmortem
        fields = [
            "id",
            "incident",
            "status",
            "due_at",
            "required",
            "overdue",
            "author",
            "affected_users",
            *services.SECTIONS,
            "action_items",
            "created_at",
            "published_at",
            "markdown_url",
        ]

    def get_overdue(self, obj) -> bool:
        return obj.is_overdue()

    def get_markdown_url(self, obj) -> str:
        return f"/api/v1/incidents/{obj.incident_id}/postmortem.md"


class PostmortemInput(StrictInput, serializers.Serializer):
    summary = serializers.CharField(required=False, allow_blank=True)
    timeline = serializers.CharField(required=False, allow_blank=True)
    root_cause = serializers.CharField(required=False, allow_blank=True)
    root_cause_category = serializers.SlugRelatedField(
        slug_field="name", queryset=RootCauseCategory.objects.all(), required=False, allow_null=True
    )
    contributing_factors = serializers.CharField(required=False, allow_blank=True)
    impact_users = serializers.CharField(required=False, allow_blank=True)
    impact_business = serializers.CharField(required=False, allow_blank=True)
    resolution = serializers.CharField(required=False, allow_blank=True)
    went_well = serializers.CharField(required=False, allow_blank=True)
    went_poorly = serializers.CharField(required=False, allow_blank=True)
    prevention = serializers.CharField(required=False, allow_blank=True)
    affected_users = serializers.CharField(required=False, allow_blank=True, max_length=200)
    author = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.all(), required=False
    )


class StatusInput(StrictInput, serializers.Serializer):
    status = serializers.ChoiceField(choices=PostmortemStatus.choices)


class ActionItemInput(StrictInput, serializers.Serializer):
    title = serializers.CharField(max_length=255)
    owner = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.all(),
        required=False,
        allow_null=True,
    )
    due_date = serializers.DateField(required=False, allow_null=True)
    priority = serializers.ChoiceField(choices=ActionPriority.choices, default="medium")
    tracker_url = serializers.URLField(required=False, allow_blank=True, default="")


def _postmortem_of(pk: int) -> Postmortem:
    get_object_or_404(Incident, pk=pk)
    return get_object_or_404(export_queryset(), incident_id=pk)


def _answer(postmortem: Postmortem, code: int = status.HTTP_200_OK) -> Response:
    postmortem = export_queryset().get(pk=postmortem.pk)
    return Response(PostmortemOutput(postmortem).data, status=code)


class IncidentPostmortem(APIView):
    """The incident's post-mortem: read it (404 until one exists), start one, edit sections."""

    conflicts = {"PATCH": "The post-mortem is published: move it back to draft to edit it."}
    permission_classes = [
        allowed_by_method(
            {
                "GET": Action.VIEW_POSTMORTEM,
                "POST": Action.START_POSTMORTEM,
                "PATCH": Action.EDIT_POSTMORTEM,
            }
        )
    ]

    @extend_schema(responses=PostmortemOutput)
    def get(self, request, pk: int):
        return Response(PostmortemOutput(_postmortem_of(pk)).data)

    @extend_schema(request=None, responses={200: PostmortemOutput, 201: PostmortemOutput})
    def post(self, request, pk: int):
        """Start the post-mortem (any severity); answers the existing one with 200 if there is one."""
        incident = get_object_or_404(Incident, pk=pk)
        postmortem, created = services.postmortem_draft(incident=incident, actor=request.user)
        return _answer(postmortem, status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=PostmortemInput, responses=PostmortemOutput)
    def patch(self, request, pk: int):
        postmortem = _postmortem_of(pk)
        data = PostmortemInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        postmortem = services.postmortem_update(
            postmortem=postmortem, actor=request.user, **data.validated_data
        )
        return _answer(postmortem)


class IncidentPostmortemStatus(APIView):
    conflicts = {"POST": "The post-mortem's status does not lead to the one asked for."}

    def get_permissions(self):
        data = getattr(self.request, "data", None)
        # Any JSON may arrive (a list, a string); the serializer refuses what is not an object.
        wanted = data.get("status") if isinstance(data, dict) else None
        if wanted == PostmortemStatus.PUBLISHED:
            return [allowed(Action.PUBLISH_POSTMORTEM)()]
        return [allowed(Action.EDIT_POSTMORTEM)()]

    @extend_schema(request=StatusInput, responses=PostmortemOutput)
    def post(self, request, pk: int):
        postmortem = _postmortem_of(pk)
        data = StatusInput(data=request.data)
        data.is_valid(raise_exception=True)
        postmortem = services.postmortem_transition(
            postmortem=postmortem, to=data.validated_data["status"], actor=request.user
        )
        return _answer(postmortem)


class IncidentPostmortemActionItems(APIView):
    permission_classes = [allowed(Action.ADD_ACTION_ITEM)]

    @extend_schema(request=ActionItemInput, responses={201: ActionItemOutput})
    def post(self, request, pk: int):
        postmortem = _postmortem_of(pk)
        data = ActionItemInput(data=request.data)
        data.is_valid(raise_exception=True)
        item = services.action_item_create(
            postmortem=postmortem, actor=request.user, **data.validated_data
        )
        return Response(ActionItemOutput(item).data, status=status.HTTP_201_CREATED)


class MarkdownRenderer(renderers.BaseRenderer):
    media_type = "text/markdown"
    format = "md"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, str):
            return data.encode(self.charset)
        # Errors (401, 403, 404) arrive as {"detail": ...}.
        detail = data.get("detail", data) if isinstance(data, dict) else data
        return f"{detail}\n".encode(self.charset)


class IncidentPostmortemMarkdown(APIView):
    """The post-mortem in the team runbooks' template, as a Markdown file."""

    renderer_classes = [MarkdownRenderer]
    permission_classes = [allowed(Action.VIEW_POSTMORTEM)]

    @extend_schema(responses={(200, "text/markdown"): OpenApiTypes.STR})
    def get(self, request, pk: int):
        postmortem = _postmortem_of(pk)
        response = Response(postmortem_markdown(postmortem))
        response["Content-Disposition"] = f'inline; filename="{markdown_filename(postmortem)}"'
        return response


class ResponseTimes(APIView):
    """Per severity: count, MTTD, MTTA, MTTR (seconds) and repeat incidents, for incidents
    detected in [since, until). Defaults: the last 30 days."""

    permission_classes = [allowed(Action.VIEW)]

    @extend_schema(
        parameters=[
            OpenApiParameter("since", OpenApiTypes.STR, description="ISO date or date-time"),
            OpenApiParameter("until", OpenApiTypes.STR, description="ISO date or date-time"),
        ],
        responses=OpenApiTypes.OBJECT,
    )
    def get(self, request):
        until = instant_param(
            request, "until", default=timezone.now(), whole_days=True, day_end=True
        )
        since = instant_param(request, "since", default=until - timedelta(days=30), whole_days=True)
        if since >= until:
            raise serializers.ValidationError({"since": ["Must be before until."]})
        figures = reports.by_severity(since=since, until=until)
        return Response({key: f.as_seconds() for key, f in figures.items()})


# This app's part of /api/v1/ (config/api_urls.py puts every app's together).
urlpatterns = [
    path(
        "incidents/<int:pk>/postmortem/",
        IncidentPostmortem.as_view(),
        name="incident-postmortem",
    ),
    path(
        "incidents/<int:pk>/postmortem.md",
        IncidentPostmortemMarkdown.as_view(),
        name="incident-postmortem-markdown",
    ),
    path(
        "incidents/<int:pk>/postmortem/status/",
        IncidentPostmortemStatus.as_view(),
        name="incident-postmortem-status",
    ),
    path(
        "incidents/<int:pk>/postmortem/action-items/",
        IncidentPostmortemActionItems.as_view(),
        name="incident-postmortem-action-items",
    ),
    path(
        "reports/response-times/",
        ResponseTimes.as_view(),
        name="report-response-times",
    ),
]
