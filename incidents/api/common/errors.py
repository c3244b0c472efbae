"""One exception handler: domain errors become 4xx answers naming the field at fault."""

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.urls import Resolver404, resolve
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from incidents.core.errors import DomainError
from incidents.core.web import API_PATH_PREFIXES

# Paths whose clients are programs: a URL that resolves to nothing answers JSON there too.


# How long a sender should wait before sending again when paging could not start (503).
UNAVAILABLE_RETRY_AFTER = 5  # seconds


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        if exc.field:
            return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
        answer = Response({"detail": exc.message}, status=exc.status_code)
        if exc.status_code == status.HTTP_503_SERVICE_UNAVAILABLE:
            # Paging could not start (a required hook failed): nothing changed, try again soon.
            answer["Retry-After"] = str(UNAVAILABLE_RETRY_AFTER)
        return answer
    if isinstance(exc, DjangoValidationError):
        # A model's full_clean in a domain function: the fields at fault, as a serializer would.
        body = (
            exc.message_dict if hasattr(exc, "error_dict") else {"detail": " ".join(exc.messages)}
        )
        return Response(body, status=status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)


def page_not_found(request, exception):
    """The root URLconf's 404 view: `{"detail"}` for API paths (e.g. a non-numeric id), the
    usual page elsewhere."""
    if request.path.startswith(API_PATH_PREFIXES):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def _slash_resolves(request) -> bool:
    if not settings.APPEND_SLASH or request.path_info.endswith("/"):
        return False
    try:
        match = resolve(request.path_info + "/")
    except Resolver404:
        return False
    return match.func is not api_not_found


@csrf_exempt
def api_not_found(request, *args, **kwargs):
    """The last URL pattern under /api/ and /v2/: a JSON 404 whatever DEBUG says.

    Django's technical 404 page (DEBUG) and APPEND_SLASH's redirect, which drops a POST's body
    (or, with DEBUG, fails), are for browsers; API clients get JSON. A GET still follows the
    slash, as it did; any other method is told where the endpoint is.
    """
    if _slash_resolves(request):
        if request.method in ("GET", "HEAD"):
            return HttpResponsePermanentRedirect(request.get_full_path(force_append_slash=True))
        detail = f"Not found. The endpoint is {request.path}/ (with a trailing slash)."
    else:
        detail = "Not found."
    return JsonResponse({"detail": detail}, status=status.HTTP_404_NOT_FOUND)
