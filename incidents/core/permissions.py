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
    # On-call (schedules, layers, overrides, handoffs).
    "incidents.view_schedule",
    "incidents.view_rotation",
    "incidents.view_rotationparticipant",
    "incidents.view_override",
    "incidents.view_handoff",
    # Alert ingestion.
    "incidents.view_alert",
    "incidents.view_integration",
    # Post-mortems and their follow-up work.
    "postmortems.view_postmortem",
    "postmortems.view_actionitem",
    "postmortems.view_rootcausecategory",
    # Runbooks: reading them, their history and their runs on incidents.
    "runbooks.view_runbook",
    "runbooks.view_runbookstep",
    "runbooks.view_causefix",
    "runbooks.view_matchrule",
    "runbooks.view_runbookrevision",
    "runbooks.view_runbookrun",
    "runbooks.view_runstepcheck",
    # Escalation: policies, each incident's escalation and timers, the delivery log.
    "incidents.view_escalationpolicy",
    "incidents.view_escalationstep",
    "incidents.view_escalationtarget",
    "incidents.view_severityroute",
    "incidents.view_teamchannel",
    "incidents.view_incidentescalation",
    "incidents.view_incidentdeadline",
    "incidents.view_notification",
    # The Audit log: who changed which configuration, when (addresses masked, no tokens).
    "incidents.view_configchange",
]

# Responders work incidents: acknowledge, move through states, post updates, join.
RESPOND = [
    "incidents.change_incident",
    "incidents.acknowledge_incident",
    "incidents.resolve_incident",
    "incidents.add_statusupdate",
    "incidents.add_responder",
    # Responders cover for each other: "Take this shift" creates an override.
    "incidents.add_override",
    # Responders write the post-mortem and track its action items.
    "postmortems.add_postmortem",
    "postmortems.change_postmortem",
    "postmortems.add_actionitem",
    "postmortems.change_actionitem",
    # Responders start runbooks on incidents and tick their steps.
    "runbooks.add_runbookrun",
    "runbooks.add_runstepcheck",
    # Responders may page the next step now and resend a page that failed.
    "incidents.escalate_incident",
    "incidents.retry_notification",
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
    # Status page subscribers are customers' addresses: managers only.
    "incidents.view_subscriber",
    "incidents.change_subscriber",
    # Managers run the on-call schedules.
    "incidents.add_schedule",
    "incidents.change_schedule",
    "incidents.delete_schedule",
    "incidents.add_rotation",
    "incidents.change_rotation",
    "incidents.delete_rotation",
    "incidents.add_rotationparticipant",
    "incidents.change_rotationparticipant",
    "incidents.delete_rotationparticipant",
    "incidents.add_handoffchannel",
    "incidents.change_handoffchannel",
    "incidents.delete_handoffchannel",
    "incidents.change_override",
    "incidents.delete_override",
    # Managers connect and rotate alert sources.
    "incidents.add_integration",
    "incidents.change_integration",
    # Managers watch the ingest inbox (what waits, what keeps failing) and retry its pending
    # rows now; the inbox admin is read-only, change_inboxevent is its "Retry now".
    "incidents.view_inboxevent",
    "incidents.change_inboxevent",
    # Managers publish post-mortems and keep the root-cause categories.
    "postmortems.publish_postmortem",
    "postmortems.delete_actionitem",
    "postmortems.add_rootcausecategory",
    "postmortems.change_rootcausecategory",
    # Managers write, review and retire runbooks.
    "runbooks.add_runbook",
    "runbooks.change_runbook",
    "runbooks.delete_runbook",
    "runbooks.add_runbookstep",
    "runbooks.change_runbookstep",
    "runbooks.delete_runbookstep",
    "runbooks.add_causefix",
    "runbooks.change_causefix",
    "runbooks.delete_causefix",
    "runbooks.add_matchrule",
    "runbooks.change_matchrule",
    "runbooks.delete_matchrule",
    # Managers write escalation policies, route severities and keep everyone's contact methods.
    "incidents.add_escalationpolicy",
    "incidents.change_escalationpolicy",
    "incidents.delete_escalationpolicy",
    "incidents.add_escalationstep",
    "incidents.change_escalationstep",
    "incidents.delete_escalationstep",
    "incidents.add_escalationtarget",
    "incidents.change_escalationtarget",
    "incidents.delete_escalationtarget",
    "incidents.add_severityroute",
    "incidents.change_severityroute",
    "incidents.delete_severityroute",
    "incidents.add_teamchannel",
    "incidents.change_teamchannel",
    "incidents.delete_teamchannel",
    "incidents.view_contactmethod",
    "incidents.add_contactmethod",
    "incidents.change_contactmethod",
    "incidents.delete_contactmethod",
    "incidents.view_notificationrule",
    "incidents.add_notificationrule",
    "incidents.change_notificationrule",
    "incidents.delete_notificationrule",
    # Linking someone's Slack or Mattermost account (one's own needs no permission).
    "incidents.view_chatidentity",
    "incidents.add_chatidentity",
    "incidents.delete_chatidentity",
]

STAFF_GROUPS: dict[str, list[str]] = {
    "Viewer": VIEW,
    "Responder": VIEW + RESPOND,
    "Incident manager": VIEW + RESPOND + MANAGE,
}


def sync_staff_groups(group_model, permission_model, *, using: str = "default") -> None:
    """Make each staff group hold exactly the permissions STAFF_GROUPS gives it.

    Takes the models as arguments so the data migration (historical models) and the
    post_migrate receiver (current models) share it. Permissions whose model does not
    exist yet are skipped: the post_migrate run after a later migration grants them.
    The three groups are Tocsin's own; a team wanting other rights makes its own group.
    """
    wanted = {perm for perms in STAFF_GROUPS.values() for perm in perms}
    app_labels = {perm.split(".", 1)[0] for perm in wanted}
    by_name = {
        f"{p.content_type.app_label}.{p.codename}": p
        for p in permission_model.objects.using(using)
        .filter(content_type__app_label__in=app_labels)
        .select_related("content_type")
    }
    for name, perms in STAFF_GROUPS.items():
        group, _ = group_model.objects.using(using).get_or_create(name=name)
        group.permissions.set([by_name[perm] for perm in perms if perm in by_name])
