"""The incident's "Page someone" page: people or schedules' on-call, paged now.

A page of its own (reached from the incident page and its red "nobody is being paged" banner),
gated by the policy's "page" action; the work is `incidents.paging.fallback.incident_page`.
"""

from django import forms
from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from incidents.core import policy
from incidents.core.errors import DomainError
from incidents.core.formatting import person_label
from incidents.core.timeline import actor_label
from incidents.models import Schedule
from incidents.oncall.compute import load_specs, spec_oncall
from incidents.paging.fallback import incident_page


class PageSomeoneForm(forms.Form):
    users = forms.ModelMultipleChoiceField(
        queryset=get_user_model().objects.none(),
        required=False,
        label="People",
        widget=forms.CheckboxSelectMultiple,
    )
    schedules = forms.ModelMultipleChoiceField(
        queryset=Schedule.objects.none(),
        required=False,
        label="On-call of",
        widget=forms.CheckboxSelectMultiple,
        help_text="Pages whoever is on call for the schedule right now.",
    )
    message = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
        help_text="Optional: why you need them. It goes in the page and the timeline.",
    )

    def __init__(self, *args, now=None, **kwargs):
        super().__init__(*args, **kwargs)
        now = now or timezone.now()
        self.fields["users"].queryset = (
            get_user_model().objects.filter(is_active=True, is_staff=True).order_by("username")
        )
        self.fields["users"].label_from_instance = person_label
        schedules = Schedule.objects.order_by("name")
        self.fields["schedules"].queryset = schedules
        oncall = _oncall_names(list(schedules), now)
        self.fields["schedules"].label_from_instance = lambda schedule: (
            f"{schedule.name}: {oncall.get(schedule.pk) or 'nobody on call'}"
        )

    def clean(self):
        data = super().clean()
        if not data.get("users") and not data.get("schedules"):
            raise forms.ValidationError("Choose at least one person or schedule to page.")
        return data


def _oncall_names(schedules: list[Schedule], now) -> dict[int, str]:
    """Who is on call for each schedule now, by name, in a fixed number of queries."""
    specs = load_specs(schedules)
    ids = {s.pk: spec_oncall(specs[s.pk], now) for s in schedules if s.pk in specs}
    users = get_user_model().objects.in_bulk({i for found in ids.values() for i in found})
    return {
        pk: ", ".join(actor_label(users[i]) for i in found if i in users)
        for pk, found in ids.items()
    }


def may_page(request, incident=None) -> bool:
    return policy.may(request.user, policy.Action.PAGE, incident=incident)


def page_someone_view(model_admin, request, object_id):
    incident = model_admin.get_object(request, unquote(object_id))
    if incident is None:
        raise Http404(f"No incident with id {object_id!r}.")
    if not may_page(request, incident):
        raise PermissionDenied
    change_url = reverse("admin:incidents_incident_change", args=[incident.pk])
    form = PageSomeoneForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            queued = incident_page(
                incident=incident,
                users=form.cleaned_data["users"],
                schedules=form.cleaned_data["schedules"],
                message=form.cleaned_data["message"],
                actor=request.user,
            )
        except DomainError as error:
            form.add_error(None, str(error))
        else:
            names = sorted({n.recipient for n in queued})
            if names:
                model_admin.log_change(request, incident, f"Paged {', '.join(names)}.")
                model_admin.message_user(
                    request,
                    f"Paged {', '.join(names)} for {incident.reference}; they are responders now.",
                    messages.SUCCESS,
                )
            else:
                model_admin.message_user(
                    request,
                    "Nobody could be paged: nobody on call, or no way to reach them. "
                    "See the timeline.",
                    messages.WARNING,
                )
            return HttpResponseRedirect(change_url)
    context = {
        **model_admin.admin_site.each_context(request),
        "opts": model_admin.opts,
        "title": f"Page someone for {incident.reference}",
        "subtitle": incident.title,
        "original": incident,
        "form": form,
        "change_url": change_url,
        "media": model_admin.media + form.media,
    }
    return TemplateResponse(request, "admin/incidents/incident/page_someone.html", context)
