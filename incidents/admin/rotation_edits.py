"""The confirmation step of a change of a rotation's people on the schedule page.

Saving the schedule form with new participants for an existing layer first shows the shifts
that move (before -> after) from the chosen moment; "Save these changes" posts the same form
again, confirmed, and the usual save runs (`rotations.rotation_set_participants`).
"""

from zoneinfo import ZoneInfo

from django import forms
from django.contrib.admin.utils import unquote
from django.template.response import TemplateResponse

from incidents.core.formatting import format_time
from incidents.models import Rotation
from incidents.oncall import rotations

CONFIRM = "_confirm_participants"  # posted by the confirmation step


def local_time(instant, tz) -> str:
    return format_time(instant, tz)


class MomentField(forms.DateTimeField):
    """When an edit applies: not a value of the row, so it never counts as a change of it."""

    def has_changed(self, initial, data):
        return False


class ConfirmParticipantsMixin:
    """For a ModelAdmin of schedules whose inlines include the rotations."""

    def change_view(self, request, object_id, form_url="", extra_context=None):
        if request.method == "POST" and CONFIRM not in request.POST:
            schedule = self.get_object(request, unquote(object_id))
            plans = self._participant_plans(request, schedule) if schedule else []
            if plans:
                return self._confirm_participants(request, schedule, plans)
        return super().change_view(request, object_id, form_url, extra_context)

    def _participant_plans(self, request, schedule) -> list:
        """For a valid POST of the change form: the plans of the rotations whose people change."""
        if not self.has_change_permission(request, schedule):
            return []
        form = self.get_form(request, schedule, change=True)(
            request.POST, request.FILES, instance=schedule
        )
        if not form.is_valid():
            return []
        plans = []
        for formset_class, inline in self.get_formsets_with_inlines(request, schedule):
            if inline.model is not Rotation:
                continue
            prefix = formset_class.get_default_prefix()
            formset = formset_class(**self.get_formset_kwargs(request, schedule, inline, prefix))
            if not formset.is_valid():
                return []
            for rotation_form in formset.forms:
                rotation = rotation_form.instance
                if not rotation.pk or rotation_form in formset.deleted_forms:
                    continue
                if not Rotation.objects.filter(pk=rotation.pk, participants__isnull=False).exists():
                    continue
                plan = rotations.rotation_participants_plan(
                    rotation=rotation,
                    users=rotation_form.cleaned_data["participant_usernames"],
                    effective_from=rotation_form.cleaned_data.get("effective_from"),
                )
                if plan.changed:
                    plans.append(plan)
        return plans

    def _confirm_participants(self, request, schedule, plans):
        """The confirmation step: the shifts that move, before -> after; "Save" posts again."""
        tz = ZoneInfo(schedule.time_zone)
        changes = [
            {
                "rotation": plan.rotation.name,
                "effective": local_time(plan.effective_from, tz),
                "before": ", ".join(plan.name(i) for i in plan.before),
                "after": ", ".join(plan.name(i) for i in plan.after),
                "moves": [
                    {
                        "start": local_time(move.start, tz),
                        "end": local_time(move.end, tz),
                        "before": plan.name(move.before),
                        "after": plan.name(move.after),
                    }
                    for move in plan.moves
                ],
            }
            for plan in plans
        ]
        resend = [
            (key, value)
            for key, values in request.POST.lists()
            if key not in {"csrfmiddlewaretoken", "_save"}  # "Save and continue" is kept
            for value in values
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": schedule,
            "schedule": schedule,
            "title": f"Check the shifts that move on {schedule}",
            "changes": changes,
            "resend": resend,
            "confirm": CONFIRM,
            "horizon_weeks": rotations.HORIZON.days // 7,
        }
        return TemplateResponse(
            request, "admin/incidents/schedule/confirm_participants.html", context
        )
