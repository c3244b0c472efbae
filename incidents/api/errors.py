"""One exception handler: domain errors become 4xx answers naming the field at fault."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from incidents.errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        if exc.field:
            return Response({exc.field: [exc.message]}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"detail": exc.message}, status=exc.status_code)
    return drf_exception_handler(exc, context)
