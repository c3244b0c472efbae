from django import template

from postmortems.dashboard import operations_dashboard

register = template.Library()


@register.inclusion_tag("postmortems/dashboard.html", takes_context=True)
def ops_dashboard(context):
    """The admin home's operations dashboard (see postmortems.dashboard)."""
    request = context.get("request")
    return {"dash": operations_dashboard(), "request": request}
