"""People in templates, named as everywhere else (incidents.core.formatting).

{% load tocsin_people %}
{{ run.started_by|person }}     Alice Nguyen (or alice, without a full name)
"""

from django import template

from incidents.core.formatting import person_name

register = template.Library()


@register.filter
def person(user, fallback: str = "") -> str:
    """The person's name; `fallback` (`{{ owner|person:"no owner" }}`) when there is nobody."""
    return person_name(user) if user else fallback
