"""Incidents API: one view per operation; views validate, call the domain, serialize."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.api import serializers as s
from incidents.api.filters import IncidentFilter
from incidents.api.permissions import allowed, allowed_by_method
from incidents.core import lifecycle, policy, selectors
from incidents.core import services as catalogue
from incidents.core.policy import Action
from incidents.models import Incident, Service, Severity


class SeverityList(generics.ListAPIView):
    queryset = Severity.objects.all()
    serializer_class = s.SeveritySerializer
    pagination_class = None


class ServiceListCreate(generics.ListCreateAPIView):
    queryset = Service.objects.select_related("owner")
    serializer_class = s.ServiceSerializer
    filterset_fields = ["slug"]

    def perform_create(self, serializer):
        serializer.instance = catalogue.service_create(
            actor=self.request.user, **serializer.validated_data
        )


class ServiceDetail(generics.RetrieveUpdateAPIView):
    queryset = Service.objects.select_related("owner")
    serializer_class = s.ServiceSerializer

    def perform_update(self, serializer):
        serializer.instance = catalogue.service_update(
            service=serializer.instance, actor=self.request.user, **serializer.validated_data
        )


class IncidentListCreate(generics.GenericAPIView):
    """List incidents (filter by status, severity, service) or open one."""

    queryset = selectors.incident_list()
    permission_classes = [allowed_by_method({"GET": Action.VIEW, "POST": Action.CREATE})]
    filterset_class = IncidentFilter
    serializer_class = s.IncidentOutput

    @extend_schema(responses=s.IncidentOutput(many=True))
    def get(self, request):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(s.IncidentOutput(page, many=True).data)

    @extend_schema(request=s.IncidentCreateInput, responses={201: s.IncidentDetailOutput})
    def post(self, request):
        data = s.IncidentCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        services = list(fields.pop("services", []))
        if fields.get("service"):
            services.append(fields["service"])
        fields.pop("service", None)
        if fields.get("commander") is not None:
            policy.check(request.user, Action.COMMAND)
        incident = lifecycle.incident_create(actor=request.user, services=services, **fields)
        incident = selectors.incident_detail().get(pk=incident.pk)
        return Response(s.IncidentDetailOutput(incident).data, status=status.HTTP_201_CREATED)


class IncidentDetail(APIView):
    queryset = Incident.objects.all()
    permission_classes = [allowed(Action.VIEW)]

    @extend_schema(responses=s.IncidentDetailOutput)
    def get(self, request, pk: int):
        incident = get_object_or_404(selectors.incident_detail(), pk=pk)
        return Response(s.IncidentDetailOutput(incident).data)


def _incident_answer(incident: Incident) -> Response:
    incident = selectors.incident_detail().get(pk=incident.pk)
    return Response(s.IncidentDetailOutput(incident).data)


class IncidentAcknowledge(APIView):
    permission_classes = [allowed(Action.ACKNOWLEDGE)]
    conflicts = {"POST": "The incident is resolved: reopen it before acknowledging it."}

    @extend_schema(request=None, responses=s.IncidentDetailOutput)
    def post(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        return _incident_answer(
            lifecycle.incident_acknowledge(incident=incident, actor=request.user)
        )


class IncidentResolve(APIView):
    permission_classes = [allowed(Action.RESOLVE)]

    @extend_schema(request=s.ResolveInput, responses=s.IncidentDetailOutput)
    def post(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        data = s.ResolveInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        incident = lifecycle.incident_resolve(
            incident=incident, actor=request.user, reason=data.validated_data["reason"]
        )
        return _incident_answer(incident)


class IncidentTransition(APIView):
    """Move an incident along the status flow; `resolved` → `investigating` reopens (reason needed)."""

    permission_classes = [allowed(Action.MOVE)]
    conflicts = {"POST": "The incident's status does not lead to the one asked for."}

    @extend_schema(request=s.TransitionInput, responses=s.IncidentDetailOutput)
    def post(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        data = s.TransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        target = data.validated_data["status"]
        policy.check(request.user, Action.MOVE, incident=incident, to=target)
        incident = lifecycle.incident_transition(
            incident=incident, to=target, actor=request.user, reason=data.validated_data["reason"]
        )
        return _incident_answer(incident)


class IncidentUpdates(APIView):
    queryset = Incident.objects.all()
    # Internal or public, an update needs the same permission; a status that moves the
    # incident needs that move's too (checked once the body is read).
    permission_classes = [
        allowed_by_method({"GET": Action.VIEW, "POST": Action.POST_INTERNAL_UPDATE})
    ]
    conflicts = {"POST": "The update's `status` is not a move the incident can make."}

    @extend_schema(responses=s.StatusUpdateOutput(many=True))
    def get(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        return Response(s.StatusUpdateOutput(selectors.incident_updates(incident), many=True).data)

    @extend_schema(request=s.StatusUpdateInput, responses={201: s.StatusUpdateOutput})
    def post(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        data = s.StatusUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        policy.check_update(
            request.user,
            incident=incident,
            public=data.validated_data.get("public", False),
            status=data.validated_data.get("status"),
        )
        update = lifecycle.status_update_post(
            incident=incident, actor=request.user, **data.validated_data
        )
        return Response(s.StatusUpdateOutput(update).data, status=status.HTTP_201_CREATED)


class IncidentTimeline(APIView):
    queryset = Incident.objects.all()
    permission_classes = [allowed(Action.VIEW)]

    @extend_schema(responses=s.TimelineEventOutput(many=True))
    def get(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        return Response(
            s.TimelineEventOutput(selectors.incident_timeline(incident), many=True).data
        )


class IncidentResponders(APIView):
    permission_classes = [allowed(Action.ADD_RESPONDER)]

    @extend_schema(request=s.ResponderInput, responses={201: s.IncidentDetailOutput})
    def post(self, request, pk: int):
        incident = get_object_or_404(Incident, pk=pk)
        data = s.ResponderInput(data=request.data)
        data.is_valid(raise_exception=True)
        lifecycle.incident_add_responder(
            incident=incident, actor=request.user, **data.validated_data
        )
        answer = _incident_answer(incident)
        answer.status_code = status.HTTP_201_CREATED
        return answer
