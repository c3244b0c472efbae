"""Public, unauthenticated pages. Nothing here reads an internal update or an internal field."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.template.defaultfilters import linebreaksbr
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed
from django.views.decorators.cache import cache_page
from django.views.decorators.http import require_GET, require_http_methods

from incidents.models import Incident, Subscriber
from incidents.statuspage import selectors, subscribers
from incidents.statuspage.forms import SubscribeForm

CACHE_SECONDS = settings.TOCSIN_STATUS_CACHE_SECONDS


@require_GET
@cache_page(CACHE_SECONDS)
def status_page(request):
    return render(request, "status/index.html", {"summary": selectors.status_summary()})


@require_GET
@cache_page(CACHE_SECONDS)
def incident_page(request, number: int):
    try:
        incident = selectors.public_incident(number)
    except Incident.DoesNotExist as exc:
        raise Http404("No such public incident.") from exc
    return render(request, "status/incident.html", {"incident": incident})


def _incident_json(incident: Incident) -> dict:
    return {
        "id": incident.number,
        "title": selectors.public_title(incident),
        "status": incident.status,
        "impact": getattr(incident, "public_state", None),
        "services": [s.slug for s in incident.public_services],
        "started_at": incident.detected_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "url": settings.TOCSIN_BASE_URL + reverse("status:incident", args=[incident.number]),
        "updates": [
            {
                "status": u.status,
                "message": u.message,
                "created_at": u.created_at.isoformat(),
            }
            for u in incident.public_updates
        ],
    }


@require_GET
@cache_page(CACHE_SECONDS)
def status_json(request):
    summary = selectors.status_summary()
    return JsonResponse(
        {
            "status": {"indicator": summary.state.value, "description": summary.state.label},
            "generated_at": summary.generated_at.isoformat(),
            "services": [
                {
                    "name": row.service.display_name,
                    "slug": row.service.slug,
                    "description": row.service.public_description,
                    "status": row.state.value,
                }
                for row in summary.services
            ],
            "incidents": [_incident_json(i) for i in summary.open_incidents],
            "history": [_incident_json(i) for i in summary.history],
        }
    )


class PublicUpdatesFeed(Feed):
    feed_type = Atom1Feed
    title = "Status updates"
    subtitle = "Public updates on incidents affecting our services."

    def link(self):
        return reverse("status:index")

    def items(self):
        return selectors.public_updates_feed()

    def item_title(self, update):
        return f"{update.get_status_display()}: {update.incident.public_title or 'Service update'}"

    def item_description(self, update):
        # Atom writes this as <summary type="html">: readers render it as HTML, so the plain
        # text staff typed is escaped here (line breaks kept) and never runs as markup.
        return linebreaksbr(update.message, autoescape=True)

    def item_link(self, update):
        return reverse("status:incident", args=[update.incident.number]) + f"#update-{update.pk}"

    def item_pubdate(self, update):
        return update.created_at

    def item_updateddate(self, update):
        return update.created_at

    def item_guid(self, update):
        return f"{settings.TOCSIN_BASE_URL}/status/updates/{update.pk}"

    item_guid_is_permalink = False


@require_http_methods(["GET", "POST"])
def subscribe(request):
    form = SubscribeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        subscribers.subscriber_subscribe(
            email=form.cleaned_data["email"], services=list(form.cleaned_data["services"])
        )
        return render(request, "status/subscribe_done.html", {"email": form.cleaned_data["email"]})
    status = 400 if request.method == "POST" else 200
    return render(request, "status/subscribe.html", {"form": form}, status=status)


def _ask_then_act(request, token: str, *, act, asking: str, done: str, link: str):
    """GET shows a page with a button; only its POST acts (mail scanners follow every link)."""
    if request.method == "POST":
        subscriber = act(token=token)
    else:
        subscriber = Subscriber.objects.filter(token=token).first()
    if subscriber is None:
        raise Http404(f"This {link} link is not valid.")
    template = done if request.method == "POST" else asking
    return render(request, template, {"subscriber": subscriber})


@require_http_methods(["GET", "POST"])
def confirm(request, token: str):
    return _ask_then_act(
        request,
        token,
        act=subscribers.subscriber_confirm,
        asking="status/confirm.html",
        done="status/confirmed.html",
        link="confirmation",
    )


@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """Mail clients' one-click unsubscribe (RFC 8058) POSTs here without a CSRF token."""
    return _ask_then_act(
        request,
        token,
        act=subscribers.subscriber_unsubscribe,
        asking="status/unsubscribe.html",
        done="status/unsubscribed.html",
        link="unsubscribe",
    )
