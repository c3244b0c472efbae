"""`GET/POST /act/<signed>`: the page an action link opens (issue 13; docs/paging.md).

The link is the credential: there is no session and no login. GET shows the incident and one
button and changes nothing (mail scanners and chat unfurlers follow links); the button POSTs the
same token back and acts as the link's person, with their permissions at that moment.
Answers: 200 shown or done; 400 a tampered link or a form that does not match it; 403 the
person may not (or is inactive), or a cross-site post; 404 the incident is gone; 409 nothing to
do (already acknowledged, no step to escalate to); 410 used, expired or resolved.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.shortcuts import render
from django.utils.crypto import constant_time_compare
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from incidents.core.errors import DomainError
from incidents.core.formatting import person_name
from incidents.core.policy import NotAllowed
from incidents.paging.actions import links
from incidents.paging.actions.perform import Verb

BUTTONS = {
    Verb.ACKNOWLEDGE: "Acknowledge",
    Verb.RESOLVE: "Resolve",
    Verb.ESCALATE: "Escalate now",
}
DONE_NOTE = {
    Verb.ACKNOWLEDGE: "Escalation stopped.",
    Verb.RESOLVE: "Escalation stopped.",
}


def _page(request, template: str, context: dict, status: int = 200):
    response = render(request, f"act/{template}.html", context, status=status)
    # The token is in the URL: keep it out of caches, referrers and search engines.
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _refused(request, message: str, status: int, incident_id: int | None = None):
    context = {
        "message": message,
        "status": status,
        "open_url": links.open_url(incident_id) if incident_id is not None else "",
    }
    return _page(request, "refused", context, status=status)


def _cross_site(request) -> bool:
    """A form posted from another site (when the browser says so)."""
    if request.headers.get("Sec-Fetch-Site", "") == "cross-site":
        return True
    origin = request.headers.get("Origin")
    if origin and origin != "null":
        # This host as the request names it, or as TOCSIN_BASE_URL does (behind a proxy).
        base = urlsplit(settings.TOCSIN_BASE_URL)
        ours = {f"{request.scheme}://{request.get_host()}", f"{base.scheme}://{base.netloc}"}
        return origin not in ours
    return False


@csrf_exempt  # the signed token is the credential; the form carries it back (checked below)
@never_cache
@require_http_methods(["GET", "POST"])
def act(request, token: str):
    try:
        link = links.read(token)  # the signature first: no database for a bad token
    except links.LinkError as err:
        return _refused(request, err.message, err.status_code, err.incident_id)
    if request.method == "POST":
        return _post(request, token, link)
    try:
        user, incident = links.link_target(link)
    except links.LinkError as err:
        return _refused(request, err.message, err.status_code, err.incident_id)
    context = {
        "incident": incident,
        "services": ", ".join(s.name for s in incident.services.all()),
        "person": person_name(user),
        "button": f"{BUTTONS[link.verb]} {incident.reference}",
        "token": token,
        "open_url": links.open_url(incident.pk),
    }
    return _page(request, "confirm", context)


def _post(request, token: str, link: links.Link):
    if _cross_site(request):
        return _refused(
            request,
            "This form was sent from another site: open the link itself and press its button.",
            403,
            link.incident_id,
        )
    if not constant_time_compare(request.POST.get("token", ""), token):
        return _refused(
            request,
            "The form does not match this link: open the link again and press its button.",
            400,
            link.incident_id,
        )
    try:
        outcome = links.link_act(link=link)
    except links.LinkError as err:
        return _refused(request, err.message, err.status_code, err.incident_id)
    except NotAllowed as err:
        return _refused(request, str(err), 403, link.incident_id)
    except DomainError as err:
        return _refused(request, str(err), 409, link.incident_id)
    if not outcome.changed:
        return _refused(request, outcome.message, 409, link.incident_id)
    incident = outcome.incident
    note = DONE_NOTE.get(link.verb, "")
    context = {
        "incident": incident,
        "message": f"{outcome.message} {note}".strip(),
        "services": ", ".join(s.name for s in incident.services.all()),
        "open_url": links.open_url(incident.pk),
    }
    return _page(request, "done", context)
