"""Badges in templates, from the one palette in incidents.core.formatting.

{% load tocsin_badges %}
{% badge "postmortem" postmortem.status postmortem.get_status_display %}
"""

from django import template

from incidents.core import formatting

register = template.Library()


@register.simple_tag
def badge(kind, value, label, title="", **kwargs):
    return formatting.badge(kind, value, label, title=title, extra_class=kwargs.get("class", ""))


@register.simple_tag
def severity_badge(severity):
    return formatting.severity_badge(severity)
