"""One exception handler: domain errors become 4xx answers naming the field at fault."""

from django.http import JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from incidents.errors import DomainError

# Paths whose clients are programs: a URL that resolves to nothing answers JSON there too.
API_PATH_PREFIXES = ("/api/", "/v2/")


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        if exc.field:
            return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"detail": exc.message}, status=exc.status_code)
    return drf_exception_handler(exc, context)


def page_not_found(request, exception):
    """The root URLconf's 404 view: `{"detail"}` for API paths (e.g. a non-numeric id), the
    usual page elsewhere."""
    if request.path.startswith(API_PATH_PREFIXES):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)
