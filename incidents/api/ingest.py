"""Ingestion endpoints: authenticate the integration, refuse early, parse, admit, commit, 202.

Refusals write nothing: a too-large body (413) is refused before it is read, a missing or
wrong token (401), another kind's token or a disabled integration (403) before the body is
parsed, bad input (400) before the rate limit counts the request, and a request over the
limit, or any request while the inbox is backed up (429, Retry-After), before anything is
stored (incidents.alerts.limits). A request whose events could not be applied
on our side (a required hook failed, or lock conflicts outlasted the retries) is rolled back
whole and answered 503 with Retry-After: send it again.
"""

import base64
import binascii
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import OperationalError, connection
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from incidents.alerts.events import ACKNOWLEDGE, RESOLVE, AlertEvent, InvalidPayload
from incidents.alerts.inbox import Accepted, inbox_accept
from incidents.alerts.limits import ingest_admit
from incidents.alerts.parsers import alertmanager, generic, grafana, opsgenie, pagerduty
from incidents.api.common.bodies import JSONParser, declared_length, json_loads, size_text
from incidents.api.common.errors import UNAVAILABLE_RETRY_AFTER
from incidents.api.schema import AutoSchema
from incidents.core.locks import is_retryable
from incidents.models import Integration, IntegrationKind
from incidents.models.alert import hash_token


class Refused(Exception):
    """An answer other than 202; `errors` maps fields to messages when input is at fault."""

    def __init__(self, status: int, message: str, *, errors=None, headers=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}


# --- request helpers ------------------------------------------------------------------------
def read_body(request) -> bytes:
    """The raw body, refusing an oversize one before reading it (a chunked one is read at
    most one byte past the limit, by ChunkedBodyMiddleware)."""
    limit = settings.TOCSIN_INGEST_MAX_BODY_BYTES
    if declared_length(request) > limit:
        raise Refused(413, f"The body is larger than {size_text(limit)}.")
    body = request.body
    if len(body) > limit:
        raise Refused(413, f"The body is larger than {size_text(limit)}.")
    return body


def parse_json(body: bytes) -> Any:
    if not body.strip():
        # No body at all is an empty object: optional for close/acknowledge, and the
        # other formats then name their missing fields.
        return {}
    try:
        data = json_loads(body)
    except (ValueError, UnicodeDecodeError) as exc:  # JSONTooDeep included
        raise Refused(400, f"Malformed JSON: {exc}.") from exc
    return _storable(data)


def _storable(data: Any) -> Any:
    """Refuse lone surrogates, which no database text column can hold (NULs are dropped
    after validation, in alert_ingest)."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Refused(400, "Malformed JSON: a string holds an unpaired surrogate.") from exc
    return data


def header_token(request, scheme: str) -> str:
    value = request.META.get("HTTP_AUTHORIZATION", "")
    given, _, token = value.partition(" ")
    return token.strip() if given.lower() == scheme.lower() else ""


def bearer_or_basic_token(request) -> str:
    """Bearer token, or basic auth with the token as password (Alertmanager's basic_auth)."""
    token = header_token(request, "Bearer")
    if token:
        return token
    encoded = header_token(request, "Basic")
    if encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


class _AuthCache:
    """Integrations by token hash, for TOCSIN_INGEST_AUTH_CACHE_SECONDS per process.

    An entry is dropped when its time is up, whatever it holds, so a rotated or disabled
    token, and a changed limit, take effect within that time; unknown tokens are not kept (a
    new token works at once). The object holds only the row's own columns: its service and
    severity are read by the ingest pipeline from a fresh row, never from here.
    """

    MAX_ENTRIES = 10_000

    def __init__(self):
        self.entries: dict[str, tuple[float, Integration]] = {}
        self.lock = threading.Lock()

    def get(self, token_hash: str) -> Integration | None:
        ttl = settings.TOCSIN_INGEST_AUTH_CACHE_SECONDS
        now = time.monotonic()
        if ttl > 0:
            entry = self.entries.get(token_hash)
            if entry is not None and now - entry[0] < ttl:
                return entry[1]
        integration = _integration_by_token_hash(token_hash)
        if ttl > 0:
            with self.lock:
                if len(self.entries) >= self.MAX_ENTRIES:
                    self.entries = {
                        key: kept for key, kept in self.entries.items() if now - kept[0] < ttl
                    }
                if integration is None:
                    self.entries.pop(token_hash, None)
                else:
                    self.entries[token_hash] = (now, integration)
        return integration

    def clear(self) -> None:
        with self.lock:
            self.entries = {}


def _integration_by_token_hash(token_hash: str) -> Integration | None:
    # One indexed lookup, no ORM compilation (a fifth of a repeat's CPU when it was a
    # queryset); service and severity are not loaded.
    table = connection.ops.quote_name(Integration._meta.db_table)
    found = list(
        Integration.objects.raw(
            f"SELECT * FROM {table} WHERE token_hash = %s LIMIT 1", [token_hash]
        )
    )
    return found[0] if found else None


auth_cache = _AuthCache()


def authenticate(token: str, kind: str) -> Integration:
    if not token:
        raise Refused(401, "Authenticate with the integration's token.")
    integration = auth_cache.get(hash_token(token))
    if integration is None:
        raise Refused(401, "Unknown integration token.")
    if integration.kind != kind:
        raise Refused(
            403,
            f"This token belongs to the {integration.get_kind_display()} integration "
            f"{integration.name!r}; it cannot post {IntegrationKind(kind).label} payloads.",
        )
    if not integration.enabled:
        raise Refused(403, f"The integration {integration.name!r} is disabled.")
    return integration


def parse_or_refuse(parse: Callable[..., list[AlertEvent]], *args, **kwargs) -> list[AlertEvent]:
    try:
        return parse(*args, **kwargs)
    except InvalidPayload as exc:
        raise Refused(400, "The payload is invalid.", errors=exc.errors) from exc


# When applying the events failed on our side and nothing was stored: the sender retries.


def admit_and_accept(
    integration: Integration, events: list[AlertEvent], *, action: str = "ingest", alias: str = ""
) -> Accepted:
    """Refuse the request while the server guard is on or the integration is over its limit
    (incidents.alerts.limits), else commit its events to the inbox (applied there and then
    where ingestion applies in the request)."""
    refusal = ingest_admit(integration)
    if refusal is not None:
        raise Refused(429, refusal.message, headers={"Retry-After": str(refusal.retry_after)})
    try:
        return inbox_accept(integration=integration, events=events, action=action, alias=alias)
    except OperationalError as error:
        if not is_retryable(error):
            raise
        message = "The database kept refusing this request (a lock conflict); nothing was stored."
    raise Refused(
        503,
        f"{message} Retry in {UNAVAILABLE_RETRY_AFTER} s.",
        headers={"Retry-After": str(UNAVAILABLE_RETRY_AFTER)},
    )


# --- schema pieces --------------------------------------------------------------------------
class AcceptedSerializer(serializers.Serializer):
    status = serializers.CharField(help_text='"accepted"')
    alerts = serializers.IntegerField(help_text="Alert events in the request.")
    incidents = serializers.ListField(
        child=serializers.IntegerField(),
        help_text="Incident ids, when the request was applied before the answer; empty when it "
        "waits in the inbox for an ingest worker.",
    )
    request_id = serializers.UUIDField(help_text="The request's inbox row.")


class GenericAcceptedSerializer(AcceptedSerializer):
    dedup_key = serializers.CharField()


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class PagerDutyAnswerSerializer(serializers.Serializer):
    status = serializers.CharField()
    message = serializers.CharField()
    dedup_key = serializers.CharField(required=False)
    errors = serializers.ListField(child=serializers.CharField(), required=False)


class OpsgenieAnswerSerializer(serializers.Serializer):
    result = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    errors = serializers.DictField(child=serializers.CharField(), required=False)
    took = serializers.FloatField()
    requestId = serializers.CharField()


def _refusals(body) -> dict:
    return {
        400: OpenApiResponse(body, description="Malformed JSON or invalid fields, named."),
        401: OpenApiResponse(body, description="No token, or an unknown one."),
        403: OpenApiResponse(
            body, description="A token of another kind, or a disabled integration."
        ),
        413: OpenApiResponse(body, description="Body over 512 KB."),
        429: OpenApiResponse(
            body,
            description="Over the integration's rate limit, or the server is behind on "
            "applying alerts; nothing was stored; retry after Retry-After seconds.",
        ),
        503: OpenApiResponse(
            body,
            description="Nothing was stored (paging could not be started); retry after "
            "Retry-After seconds.",
        ),
    }


# Errors in our own formats: {"detail": "..."} or {field: [messages]}.
PLAIN_ERROR = OpenApiTypes.OBJECT


class RequiredBodySchema(AutoSchema):
    """The body is required even when its schema is a oneOf (PagerDuty's event kinds)."""

    def _get_request_body(self, direction="request"):
        body = super()._get_request_body(direction)
        if body is not None:
            body["required"] = True
        return body


class IngestView(APIView):
    """Integration-token endpoints: no user authentication, no session, JSON only."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser]  # documents the body; the views read it themselves
    renderer_classes = [JSONRenderer]
    throttle_classes: list = []

    def plain_refusal(self, refused: Refused) -> Response:
        body = refused.errors or {"detail": refused.message}
        return Response(body, status=refused.status, headers=refused.headers)

    def accepted(self, events, accepted: Accepted, **extra) -> Response:
        outcome = accepted.outcome
        body = {
            "status": "accepted",
            "alerts": len(events),
            "incidents": sorted(outcome.incidents) if outcome else [],
            "request_id": str(accepted.row.request_id),
            **extra,
        }
        return Response(body, status=202)


class AlertmanagerWebhook(IngestView):
    kind = IntegrationKind.ALERTMANAGER
    parse = staticmethod(alertmanager.parse)

    @extend_schema(
        operation_id="ingest_alertmanager",
        tags=["ingestion"],
        summary="Prometheus Alertmanager webhook (version 4)",
        description="Authorization: Bearer <token> (or basic auth, the token as password).",
        request=alertmanager.AlertmanagerWebhookSerializer,
        responses={202: AcceptedSerializer, **_refusals(PLAIN_ERROR)},
        auth=[],
    )
    def post(self, request):
        try:
            body = read_body(request)
            integration = authenticate(bearer_or_basic_token(request), self.kind)
            data = parse_json(body)
            events = parse_or_refuse(self.parse, data)
            accepted = admit_and_accept(integration, events)
        except Refused as refused:
            return self.plain_refusal(refused)
        return self.accepted(events, accepted)


class GrafanaWebhook(AlertmanagerWebhook):
    kind = IntegrationKind.GRAFANA
    parse = staticmethod(grafana.parse)

    @extend_schema(
        operation_id="ingest_grafana",
        tags=["ingestion"],
        summary="Grafana alerting webhook contact point",
        description="Authorization: Bearer <token> (or basic auth, the token as password).",
        request=grafana.GrafanaWebhookSerializer,
        responses={202: AcceptedSerializer, **_refusals(PLAIN_ERROR)},
        auth=[],
    )
    def post(self, request):
        return super().post(request)


class GenericWebhook(IngestView):
    kind = IntegrationKind.GENERIC

    @extend_schema(
        operation_id="ingest_generic",
        tags=["ingestion"],
        summary="Generic JSON alert",
        description="Authorization: Bearer <token>. Without a dedup_key, alerts with the same "
        "summary, source and labels are the same alert; the answer names the key used.",
        request=generic.GenericAlertSerializer,
        responses={202: GenericAcceptedSerializer, **_refusals(PLAIN_ERROR)},
        auth=[],
    )
    def post(self, request):
        try:
            body = read_body(request)
            integration = authenticate(header_token(request, "Bearer"), self.kind)
            data = parse_json(body)
            events = parse_or_refuse(generic.parse, data)
            accepted = admit_and_accept(integration, events, alias=events[0].dedup_key)
        except Refused as refused:
            return self.plain_refusal(refused)
        return self.accepted(events, accepted, dedup_key=events[0].dedup_key)


class PagerDutyEnqueue(IngestView):
    """PagerDuty Events API v2: the routing key in the body is the integration token."""

    schema = RequiredBodySchema()

    @extend_schema(
        operation_id="ingest_pagerduty",
        tags=["ingestion"],
        summary="PagerDuty Events API v2 event",
        request=pagerduty.PAGERDUTY_EVENT_SCHEMA,
        responses={202: PagerDutyAnswerSerializer, **_refusals(PagerDutyAnswerSerializer)},
        auth=[],
    )
    def post(self, request):
        try:
            data = parse_json(read_body(request))
            routing_key = data.get("routing_key") if isinstance(data, dict) else None
            if not isinstance(routing_key, str) or not routing_key:
                raise Refused(400, "Event object is invalid", errors={"routing_key": ["required"]})
            integration = authenticate(routing_key, IntegrationKind.PAGERDUTY)
            events = parse_or_refuse(pagerduty.parse, data)
            admit_and_accept(integration, events, alias=events[0].dedup_key)
        except Refused as refused:
            return self.refusal(refused)
        body = {"status": "success", "message": "Event processed", "dedup_key": events[0].dedup_key}
        return Response(body, status=202)

    def refusal(self, refused: Refused) -> Response:
        if refused.status == 400:
            status_text, message = "invalid event", "Event object is invalid"
            errors = [f"{field}: {' '.join(msgs)}" for field, msgs in refused.errors.items()]
            errors = errors or [refused.message]
        else:
            status_text = {
                401: "unauthorized",
                403: "forbidden",
                413: "too large",
                503: "unavailable",
            }.get(refused.status, "throttle event")
            message, errors = refused.message, [refused.message]
        body = {"status": status_text, "message": message, "errors": errors}
        return Response(body, status=refused.status, headers=refused.headers)


class OpsgenieView(IngestView):
    """Opsgenie alert API: `Authorization: GenieKey <token>`, 202 with a request id."""

    action = "create"

    def answer(self, started: float, request_id, **body) -> Response:
        took = round(time.perf_counter() - started, 3)
        return Response({**body, "took": took, "requestId": str(request_id)}, status=202)

    def refusal(self, started: float, refused: Refused) -> Response:
        body = {"message": refused.message}
        if refused.errors:
            body["errors"] = {field: " ".join(msgs) for field, msgs in refused.errors.items()}
        took = round(time.perf_counter() - started, 3)
        body |= {"took": took, "requestId": str(uuid.uuid4())}
        return Response(body, status=refused.status, headers=refused.headers)

    def ingest(self, request, parse: Callable[[Any], list[AlertEvent]]) -> Response:
        started = time.perf_counter()
        try:
            body = read_body(request)
            integration = authenticate(header_token(request, "GenieKey"), IntegrationKind.OPSGENIE)
            data = parse_json(body)
            events = parse_or_refuse(parse, data)
            alias = events[0].dedup_key if events and events[0].alert_id is None else ""
            accepted = admit_and_accept(integration, events, action=self.action, alias=alias)
        except Refused as refused:
            return self.refusal(started, refused)
        return self.answer(started, accepted.row.request_id, result="Request will be processed")


class OpsgenieCreate(OpsgenieView):
    @extend_schema(
        operation_id="ingest_opsgenie_create",
        tags=["ingestion"],
        summary="Opsgenie: create an alert",
        description="Authorization: GenieKey <token>. The alias is the dedup key.",
        request=opsgenie.OpsgenieCreateSerializer,
        responses={202: OpsgenieAnswerSerializer, **_refusals(OpsgenieAnswerSerializer)},
        auth=[],
    )
    def post(self, request):
        return self.ingest(request, opsgenie.parse_create)


IDENTIFIER_TYPE = OpenApiParameter(
    "identifierType",
    str,
    enum=opsgenie.IDENTIFIER_TYPES,
    default="id",
    description="How `identifier` names the alert: our alert id, the alias, or the tiny id.",
)


class OpsgenieClose(OpsgenieView):
    event_action = RESOLVE
    action = "close"

    @extend_schema(
        operation_id="ingest_opsgenie_close",
        tags=["ingestion"],
        summary="Opsgenie: close an alert",
        parameters=[IDENTIFIER_TYPE],
        request=opsgenie.OpsgenieActionSerializer,
        responses={202: OpsgenieAnswerSerializer, **_refusals(OpsgenieAnswerSerializer)},
        auth=[],
    )
    def post(self, request, identifier: str):
        def parse(data):
            return opsgenie.parse_action(
                action=self.event_action,
                identifier=identifier,
                identifier_type=request.query_params.get("identifierType"),
                payload=data,
            )

        return self.ingest(request, parse)


class OpsgenieAcknowledge(OpsgenieClose):
    event_action = ACKNOWLEDGE
    action = "acknowledge"

    @extend_schema(
        operation_id="ingest_opsgenie_acknowledge",
        tags=["ingestion"],
        summary="Opsgenie: acknowledge an alert",
        parameters=[IDENTIFIER_TYPE],
        request=opsgenie.OpsgenieActionSerializer,
        responses={202: OpsgenieAnswerSerializer, **_refusals(OpsgenieAnswerSerializer)},
        auth=[],
    )
    def post(self, request, identifier: str):
        return super().post(request, identifier)
