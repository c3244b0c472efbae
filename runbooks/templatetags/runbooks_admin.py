"""`{% runbooks_panel incident %}`: suggested runbooks and runs on the incident admin page."""

from django import template
from django.urls import reverse

from runbooks.admin import progress_bar
from runbooks.matching import runbooks_for_incident
from runbooks.models import Runbook, RunbookRun

register = template.Library()


@register.inclusion_tag("admin/runbooks/incident_panel.html", takes_context=True)
def runbooks_panel(context, incident):
    user = context["request"].user
    if not user.has_perm("runbooks.view_runbookrun") and not user.has_perm("runbooks.view_runbook"):
        return {"hidden": True}
    runs = list(
        RunbookRun.objects.filter(incident=incident)
        .select_related("runbook")
        .prefetch_related("checks", "runbook__steps")
        .order_by("started_at", "id")
    )
    for run in runs:
        run.progress_html = progress_bar(len(run.checks.all()), len(run.runbook.steps.all()))
    can_start = user.has_perm("runbooks.add_runbookrun")
    return {
        "incident": incident,
        "runs": runs,
        "open_runbooks": {run.runbook_id for run in runs if run.completed_at is None},
        "suggestions": runbooks_for_incident(incident, limit=3),
        "can_start": can_start,
        "all_runbooks": list(Runbook.objects.values_list("pk", "title")) if can_start else [],
        "can_view_runbook": user.has_perm("runbooks.view_runbook"),
        "start_url": reverse("admin:runbooks_runbookrun_start"),
        "csrf_token": context.get("csrf_token"),
    }
