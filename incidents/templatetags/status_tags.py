from django import template

from incidents.core.texts import humanize_duration
from incidents.statuspage import selectors

register = template.Library()


@register.simple_tag
def public_title(incident) -> str:
    return selectors.public_title(incident)


@register.filter
def public_duration(incident) -> str:
    return humanize_duration(incident.age())
