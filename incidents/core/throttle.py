"""Throttling failed sign-ins by client address: admin logins and API tokens alike.

django-axes counts failures per client address only, never per username: locking a username
would let anyone lock out whoever is on call. Failed API token authentications are reported to
axes as failed logins, so both share one count and one cool-off; a locked-out address gets a 429
with Retry-After.
"""

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.http import JsonResponse
from django.shortcuts import render
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox.auth import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled

from incidents.core.web import API_PATH_PREFIXES

TOKEN_LOCKOUT = "Too many failed authentications from this address."


def retry_after_seconds(request=None) -> int:
    cool_off = get_cool_off(request)
    return int(cool_off.total_seconds()) if cool_off else 3600


def lockout_response(request, original_response=None, credentials=None):
    """The answer to a locked-out address (AXES_LOCKOUT_CALLABLE): the admin's page, or JSON
    for API clients."""
    seconds = retry_after_seconds(request)
    if request.path.startswith(API_PATH_PREFIXES):
        response = JsonResponse({"detail": TOKEN_LOCKOUT}, status=429)
    else:
        response = render(
            request,
            "admin/lockout.html",
            {"title": "Too many failed sign-ins", "minutes": max(seconds // 60, 1)},
            status=429,
        )
    response["Retry-After"] = str(seconds)
    return response


def _locked_key(ip: str) -> str:
    return f"tocsin:token-lockout:{ip}"


class ThrottledTokenAuthentication(TokenAuthentication):
    """knox token authentication whose failures count against the client address.

    A success costs no extra query: the lockout is looked up only after a failure, and
    remembered in the cache for the cool-off so that a locked-out address is answered 429
    without its token being checked at all.
    """

    def authenticate(self, request):
        django_request = request._request
        AxesProxyHandler.update_request(django_request)
        ip = django_request.axes_ip_address or ""
        if cache.get(_locked_key(ip)):
            self._refuse(django_request)
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            user_login_failed.send(
                sender=__name__, credentials={"username": None}, request=django_request
            )
            if AxesProxyHandler.is_locked(django_request):
                cache.set(_locked_key(ip), True, retry_after_seconds(django_request))
                self._refuse(django_request)
            raise

    @staticmethod
    def _refuse(django_request):
        raise Throttled(
            wait=retry_after_seconds(django_request),
            detail=TOKEN_LOCKOUT,
        )


class ThrottledTokenScheme(KnoxTokenScheme):
    """Documented exactly as knox's token (same scheme name): the throttle changes no header."""

    target_class = "incidents.core.throttle.ThrottledTokenAuthentication"
