from django import template
from django.contrib.auth.models import AnonymousUser

from postmortems.dashboard import operations_dashboard

register = template.Library()


@register.inclusion_tag("postmortems/dashboard.html", takes_context=True)
def ops_dashboard(context):
    """The admin home's operations dashboard (see postmortems.dashboard)."""
    request = context.get("request")
    # Each part shows only to whom may read it; no request, no user: nothing to show.
    user = getattr(request, "user", None) or AnonymousUser()
    return {"dash": operations_dashboard(user=user), "request": request}
