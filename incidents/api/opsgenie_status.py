"""Opsgenie's request status: `GET /v2/alerts/requests/{requestId}`.

Opsgenie answers a create, close or acknowledge with 202 and a request id, and a sender asks
this endpoint later whether the request did what it asked. Tocsin answers from the request's
inbox row (incidents.models.inbox): pending (not applied yet), applied and successful, or
applied without effect (a close or acknowledge of an alert that does not fire). Rows are kept
`TOCSIN_INBOX_KEEP_HOURS` after they are applied; an older, unknown or other integration's
request answers 404 as Opsgenie does.
"""

import time
import uuid
from datetime import UTC

from django.conf import settings
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from incidents.alerts.inbox import inbox_request
from incidents.api.ingest import IngestView, Refused, authenticate, header_token
from incidents.models import InboxEvent, InboxState, IntegrationKind

PENDING_STATUS = "Request will be processed"


def not_found() -> str:
    return (
        "Request not found: no request of this integration has this id. Requests are kept "
        f"{settings.TOCSIN_INBOX_KEEP_HOURS:g} h after they are processed."
    )


# Each action as Opsgenie names it, what it says when it succeeded and when it had no effect.
ACTIONS = {
    "create": ("Create", "Created alert", "Alert was not created"),
    "close": ("Close", "Closed alert", "Alert does not exist or does not fire: nothing to close"),
    "acknowledge": (
        "Acknowledge",
        "Acknowledged alert",
        "Alert does not exist or does not fire: nothing to acknowledge",
    ),
}


class RequestStatusDataSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    isSuccess = serializers.BooleanField()
    action = serializers.CharField(help_text='"Create", "Close" or "Acknowledge".')
    status = serializers.CharField(
        help_text='"Request will be processed" while pending, else what applying it did.'
    )
    alertId = serializers.CharField(required=False, help_text="Once applied, the alert's id.")
    alias = serializers.CharField()
    integrationId = serializers.CharField()
    processedAt = serializers.DateTimeField(required=False, help_text="When it was applied.")


class RequestStatusSerializer(serializers.Serializer):
    data = RequestStatusDataSerializer()
    took = serializers.FloatField()
    requestId = serializers.CharField()


class RequestStatusErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    took = serializers.FloatField()
    requestId = serializers.CharField()


def request_status(row: InboxEvent) -> dict:
    """The `data` of Opsgenie's answer for one inbox row."""
    action, done, no_effect = ACTIONS.get(row.action, ACTIONS["create"])
    data = {"action": action, "alias": row.alias, "integrationId": str(row.integration_id)}
    if row.state == InboxState.PENDING:
        return {"success": False, "isSuccess": False, "status": PENDING_STATUS, **data}
    success = bool(row.success)
    data |= {
        "success": success,
        "isSuccess": success,
        "status": done if success else f"{no_effect} ({row.result})",
        "processedAt": row.applied_at.astimezone(UTC).isoformat(timespec="milliseconds"),
    }
    if row.alert_id is not None:
        data["alertId"] = str(row.alert_id)
    return data


class OpsgenieRequestStatus(IngestView):
    """`Authorization: GenieKey <token>`: the token of the integration that sent the request."""

    @extend_schema(
        operation_id="ingest_opsgenie_request_status",
        tags=["ingestion"],
        summary="Opsgenie: the status of a create, close or acknowledge request",
        description="Authorization: GenieKey <token>, the integration's that sent the request. "
        "Answers from the request's inbox row while it waits, and for "
        "TOCSIN_INBOX_KEEP_HOURS after it was applied.",
        responses={
            200: RequestStatusSerializer,
            401: OpenApiResponse(RequestStatusErrorSerializer, description="No or unknown token."),
            403: OpenApiResponse(
                RequestStatusErrorSerializer,
                description="A token of another kind, or a disabled integration.",
            ),
            404: OpenApiResponse(
                RequestStatusErrorSerializer,
                description="No request of this integration has this id (any longer).",
            ),
        },
        auth=[],
    )
    def get(self, request, request_id: str):
        started = time.perf_counter()
        try:
            integration = authenticate(header_token(request, "GenieKey"), IntegrationKind.OPSGENIE)
        except Refused as refused:
            return self.answer(started, refused.status, {"message": refused.message})
        row = inbox_request(integration_id=integration.pk, request_id=request_id)
        if row is None:
            return self.answer(started, 404, {"message": not_found()})
        return self.answer(started, 200, {"data": request_status(row)})

    def answer(self, started: float, status: int, body: dict) -> Response:
        # Like every Opsgenie answer, this one has a request id of its own.
        took = round(time.perf_counter() - started, 3)
        return Response({**body, "took": took, "requestId": str(uuid.uuid4())}, status=status)
