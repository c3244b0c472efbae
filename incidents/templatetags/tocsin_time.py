from django import template

from incidents.core.formatting import format_time

register = template.Library()


@register.filter
def stamp(value, tz=None):
    """`{{ moment|stamp }}` or `{{ moment|stamp:schedule.time_zone }}`: "2026-12-01 21:40 UTC"."""
    return format_time(value, tz or None)
