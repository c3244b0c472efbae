"""The Django admin is Tocsin's main UI. One module per area; importing registers it."""

from django.contrib import admin

from incidents.admin import (
    audit,
    catalogue,
    chat_identities,
    escalation,
    inbox,
    incidents,
    integrations,
    notify,
    oncall,
    statuspage,
    timeline,
)

admin.site.site_header = "Tocsin"
admin.site.site_title = "Tocsin"
admin.site.index_title = "Incident response"
admin.site.site_url = "/status/"  # "View site" opens the public status page
# The incident list needs the width more than a second copy of the index page does.
admin.site.enable_nav_sidebar = False

__all__ = [
    "audit",
    "catalogue",
    "chat_identities",
    "escalation",
    "inbox",
    "incidents",
    "integrations",
    "notify",
    "oncall",
    "statuspage",
    "timeline",
]
