from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from incidents.admin import people
from incidents.api import act as act_views
from incidents.api import chat as chat_api
from incidents.api import health as api_health
from incidents.api import ingest as ingest_api
from incidents.api import opsgenie_status
from incidents.api.common.errors import api_not_found
from incidents.core import health
from incidents.oncall import ical
from incidents.statuspage import views as status_views

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/ready", api_health.ready, name="health-ready"),
    path("health/ingest", api_health.ingest, name="health-ingest"),
    path(
        "admin/people/search/",
        admin.site.admin_view(people.PeopleSearchView.as_view(admin_site=admin.site)),
        name=people.URL_NAME,
    ),
    path("admin/my-paging/", include("incidents.admin.my_paging")),
    path("admin/", admin.site.urls),
    path("status/", include("incidents.statuspage.urls")),
    path("status.json", status_views.status_json, name="status-json"),
    path("oncall/ical/<slug:token>.ics", ical.feed, name="oncall-ical"),
    # A page's action link (docs/paging.md): the signed token is the credential.
    path("act/<str:token>", act_views.act, name="act"),
    path("api/v1/", include("config.api_urls")),
    # Slack and Mattermost: slash commands and button clicks (verified in the views).
    path("chat/slack/commands", chat_api.slack_commands, name="chat-slack-commands"),
    path("chat/slack/interactions", chat_api.slack_interactions, name="chat-slack-interactions"),
    path("chat/mattermost/commands", chat_api.mattermost_commands, name="chat-mattermost-commands"),
    path("chat/mattermost/actions", chat_api.mattermost_actions, name="chat-mattermost-actions"),
    # Endpoints that speak other products' APIs, at their paths, for senders that already do.
    path("v2/enqueue", ingest_api.PagerDutyEnqueue.as_view(), name="pagerduty-enqueue"),
    path("v2/alerts", ingest_api.OpsgenieCreate.as_view(), name="opsgenie-create"),
    path(
        "v2/alerts/requests/<str:request_id>",
        opsgenie_status.OpsgenieRequestStatus.as_view(),
        name="opsgenie-request-status",
    ),
    path(
        "v2/alerts/<path:identifier>/close",
        ingest_api.OpsgenieClose.as_view(),
        name="opsgenie-close",
    ),
    path(
        "v2/alerts/<path:identifier>/acknowledge",
        ingest_api.OpsgenieAcknowledge.as_view(),
        name="opsgenie-acknowledge",
    ),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's start-up script as a file: the CSP allows no inline one.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
]

handler404 = "incidents.api.common.errors.page_not_found"

# Keep this after every other pattern: whatever else is asked under the API prefixes answers
# JSON (handler404 alone does not when DEBUG is on, and APPEND_SLASH would redirect a POST).
urlpatterns.append(re_path(r"^(?:api|v2)(?:/.*)?$", api_not_found, name="api-not-found"))
