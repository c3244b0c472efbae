"""Reading request bodies: chunked transfer, size limits and a JSON nesting limit.

Used by both the ingestion endpoints (which read their body themselves) and the REST API
(through `JSONParser`), so a body is bounded and parsed the same way everywhere.
"""

import io
import json
from typing import Any

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import JsonResponse
from rest_framework import exceptions, parsers
from rest_framework.utils import json as drf_json

# Deeper than any alert format or API body needs (Alertmanager's is 4), far below what
# Python's recursion (json, serializers, error flattening) survives.
MAX_JSON_DEPTH = 64


class JSONTooDeep(ValueError):
    def __init__(self):
        super().__init__(f"arrays and objects are nested deeper than {MAX_JSON_DEPTH} levels")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether `value` nests containers more than `limit` deep; iterative, so any depth is safe."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def json_loads(text: str | bytes, **kwargs) -> Any:
    """`json.loads`, refusing (JSONTooDeep, a ValueError) nesting past MAX_JSON_DEPTH."""
    try:
        value = json.loads(text, **kwargs)
    except RecursionError as exc:
        raise JSONTooDeep() from exc
    if isinstance(text, str):
        text = text.encode()
    # No body with fewer brackets can nest that deep: most bodies skip the walk.
    if text.count(b"[") + text.count(b"{") > MAX_JSON_DEPTH and _deeper_than(value, MAX_JSON_DEPTH):
        raise JSONTooDeep()
    return value


def size_text(limit: int) -> str:
    return f"{limit // 1024} KB" if limit >= 1024 else f"{limit} bytes"


def declared_length(request) -> int:
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


# --- chunked bodies -------------------------------------------------------------------------
def _chunked(environ) -> bool:
    encoding = environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return "chunked" in encoding and not environ.get("CONTENT_LENGTH")


def _read_at_most(stream, size: int) -> bytes:
    buffer = io.BytesIO()
    while buffer.tell() < size:
        chunk = stream.read(min(64 * 1024, size - buffer.tell()))
        if not chunk:
            break
        buffer.write(chunk)
    return buffer.getvalue()


class ChunkedBodyMiddleware:
    """Give a chunked request (no Content-Length) its body, as if its length had been sent.

    Django reads `Content-Length` bytes, so a chunked body (Go, Node streams, `requests` with
    a generator) would read as empty. A server that decodes chunked input says so with
    `wsgi.input_terminated` (gunicorn does): the body is read there, at most one byte past the
    largest limit, so the view's own limit answers 413 for anything longer. A server that
    cannot decode it (the development server) gets 411 instead of a silently empty body.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        environ = request.META
        if not _chunked(environ):
            return self.get_response(request)
        if not environ.get("wsgi.input_terminated"):
            return JsonResponse(
                {"detail": "This server cannot read a chunked body; send a Content-Length."},
                status=411,
            )
        cap = max(
            settings.TOCSIN_INGEST_MAX_BODY_BYTES,
            settings.TOCSIN_API_MAX_BODY_BYTES,
            settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 0,
        )
        body = _read_at_most(environ["wsgi.input"], cap + 1)
        environ["CONTENT_LENGTH"] = str(len(body))
        request._stream = LimitedStream(io.BytesIO(body), len(body))
        return self.get_response(request)


# --- the REST API's parser ------------------------------------------------------------------
class BodyTooLarge(exceptions.APIException):
    status_code = 413
    default_code = "too_large"

    def __init__(self, limit: int):
        super().__init__(f"The body is larger than {size_text(limit)}.")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded: at most TOCSIN_API_MAX_BODY_BYTES (413), nested at most
    MAX_JSON_DEPTH levels (400)."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.TOCSIN_API_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        if request is not None and declared_length(request) > limit:
            raise BodyTooLarge(limit)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise BodyTooLarge(limit)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        constant = drf_json.strict_constant if self.strict else None
        try:
            return json_loads(raw.decode(encoding), parse_constant=constant)
        except ValueError as exc:  # UnicodeDecodeError and JSONTooDeep included
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
