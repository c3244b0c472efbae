"""One guard for every admin page: a query parameter holding NUL is refused up front.

PostgreSQL cannot store or compare NUL in text, so a NUL reaching a changelist filter or its
search fails inside the database. Refusing it here covers every changelist at once, including
the ones other apps register.
"""

from django.http import HttpResponseBadRequest
from django.urls import reverse


class AdminQueryGuardMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._prefix = None

    def __call__(self, request):
        if self._prefix is None:
            self._prefix = reverse("admin:index")
        if request.path.startswith(self._prefix):
            for name, values in request.GET.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    shown = name.replace("\x00", "%00")
                    return HttpResponseBadRequest(
                        f"The query parameter {shown!r} holds a NUL character (%00); "
                        "remove it and try again.",
                        content_type="text/plain; charset=utf-8",
                    )
        return self.get_response(request)
