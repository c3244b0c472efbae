"""Staff groups and what each may do. The single source of truth for group permissions.

Each entry is `app_label.codename`. Adding a model means adding its permissions here.
"""

# Everything staff can look at. Viewers read, nothing more.
VIEW = [
    "incidents.view_incident",
    "incidents.view_service",
    "incidents.view_severity",
    "incidents.view_timelineevent",
    "incidents.view_statusupdate",
    "incidents.view_responder",
]

# Responders work incidents: acknowledge, move through states, post updates, join.
RESPOND = [
    "incidents.change_incident",
    "incidents.acknowledge_incident",
    "incidents.resolve_incident",
    "incidents.add_statusupdate",
    "incidents.add_responder",
]

# Incident managers also open incidents, command them, and manage the catalogue.
MANAGE = [
    "incidents.add_incident",
    "incidents.command_incident",
    "incidents.change_responder",
    "incidents.delete_responder",
    "incidents.add_service",
    "incidents.change_service",
    "incidents.change_severity",
]

STAFF_GROUPS: dict[str, list[str]] = {
    "Viewer": VIEW,
    "Responder": VIEW + RESPOND,
    "Incident manager": VIEW + RESPOND + MANAGE,
}
