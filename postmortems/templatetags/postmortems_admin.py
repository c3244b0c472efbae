"""`{% postmortem_tool incident %}`: the incident page's link to its post-mortem."""

from django import template
from django.urls import reverse

from incidents.core.choices import IncidentStatus
from postmortems.models import Postmortem

register = template.Library()


@register.inclusion_tag("admin/postmortems/incident_tool.html", takes_context=True)
def postmortem_tool(context, incident):
    user = context["request"].user
    postmortem = Postmortem.objects.filter(incident=incident).only("pk", "status").first()
    if postmortem is not None:
        if not user.has_perm("postmortems.view_postmortem"):
            return {}
        return {
            "url": reverse("admin:postmortems_postmortem_change", args=[postmortem.pk]),
            "label": f"Post-mortem ({postmortem.get_status_display()})",
        }
    if incident.status == IncidentStatus.RESOLVED and user.has_perm("postmortems.add_postmortem"):
        return {
            "url": f"{reverse('admin:postmortems_postmortem_add')}?incident={incident.pk}",
            "label": "Start the post-mortem",
        }
    return {}
