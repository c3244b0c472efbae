"""The incident's pages of its own: status moves, take command, post an update, page someone.

What each page offers and what its POST may do are the same question to the policy
(incidents.core.policy); the work is the lifecycle's domain functions, with actor=request.user.
"""

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from incidents.admin.display import target_states
from incidents.admin.forms import MoveForm, PostUpdateForm
from incidents.admin.paging import page_someone_view
from incidents.core import policy
from incidents.core.choices import ALLOWED_TRANSITIONS, IncidentStatus, UpdateStatus
from incidents.core.errors import DomainError
from incidents.core.formatting import severity_badge, status_badge, update_phase
from incidents.core.lifecycle import (
    incident_assign_commander,
    incident_reopen,
    incident_transition,
    status_update_post,
)
from incidents.core.texts import humanize_duration, status_update_template
from incidents.core.timeline import actor_label
from incidents.models import Incident
from incidents.paging.fallback import nobody_paged_reason

Action = policy.Action


class IncidentPagesMixin:
    """Mixed into IncidentAdmin."""

    def _may_move(self, request, incident, to: str) -> bool:
        return policy.may(request.user, Action.MOVE, incident=incident, to=to)

    def get_urls(self):
        info = (self.opts.app_label, self.opts.model_name)
        return [
            path(
                "<path:object_id>/move/",
                self.admin_site.admin_view(self.move_view),
                name="{}_{}_move".format(*info),
            ),
            path(
                "<path:object_id>/take-command/",
                self.admin_site.admin_view(self.take_command_view),
                name="{}_{}_take_command".format(*info),
            ),
            path(
                "<path:object_id>/post-update/",
                self.admin_site.admin_view(self.post_update_view),
                name="{}_{}_post_update".format(*info),
            ),
            path(
                "<path:object_id>/page/",
                self.admin_site.admin_view(self.page_someone_view),
                name="{}_{}_page".format(*info),
            ),
            *super().get_urls(),
        ]

    def _get_incident(self, request, object_id) -> Incident:
        # Acting on an incident needs seeing it: refused before anything is read or checked.
        if not self.has_view_permission(request):
            raise PermissionDenied
        incident = self.get_object(request, unquote(object_id))
        if incident is None:
            raise Http404(f"No incident with id {object_id!r}.")
        return incident

    def _change_url(self, incident) -> str:
        return reverse("admin:incidents_incident_change", args=[incident.pk])

    def change_view(self, request, object_id, form_url="", extra_context=None):
        incident = self.get_object(request, unquote(object_id))
        if incident is not None:
            extra_context = {**(extra_context or {}), "panel": self._panel(request, incident)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _panel(self, request, incident) -> dict:
        """What the status panel above the change form shows and offers."""
        now = timezone.now()
        allowed = ALLOWED_TRANSITIONS[incident.status]
        is_resolved = incident.status == IncidentStatus.RESOLVED
        moves = [
            (status.value, status.label)
            for status in IncidentStatus
            if status in allowed
            and status != incident.status
            and not is_resolved
            and self._may_move(request, incident, status)
        ]
        if is_resolved:
            age = f"resolved after {humanize_duration(incident.age(now))}"
        else:
            age = f"open for {humanize_duration(incident.age(now))}"
        return {
            "severity": severity_badge(incident.severity),
            "status": status_badge(incident.status),
            "age": age,
            "commander": actor_label(incident.commander) if incident.commander else None,
            "targets": target_states(incident, now),
            "moves": moves,
            "can_reopen": is_resolved
            and self._may_move(request, incident, IncidentStatus.INVESTIGATING),
            "move_url": reverse("admin:incidents_incident_move", args=[incident.pk]),
            "take_command_url": reverse("admin:incidents_incident_take_command", args=[incident.pk])
            if self.has_command_permission(request, incident)
            and incident.commander_id != request.user.pk
            else None,
            "post_update_url": reverse("admin:incidents_incident_post_update", args=[incident.pk])
            if policy.may(request.user, Action.POST_INTERNAL_UPDATE, incident=incident)
            else None,
            "nobody_paged": nobody_paged_reason(incident),
            "page_url": reverse("admin:incidents_incident_page", args=[incident.pk])
            if policy.may(request.user, Action.PAGE, incident=incident) and not is_resolved
            else None,
        }

    def page_someone_view(self, request, object_id):
        return page_someone_view(self, request, object_id)

    def move_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        incident = self._get_incident(request, object_id)
        form = MoveForm(request.POST)
        if not form.is_valid():
            self.message_user(request, "Choose one of the offered statuses.", messages.ERROR)
            return HttpResponseRedirect(self._change_url(incident))
        to, reason = form.cleaned_data["to"], form.cleaned_data["reason"]
        if not self._may_move(request, incident, to):
            raise PermissionDenied
        try:
            if incident.status == IncidentStatus.RESOLVED and to == IncidentStatus.INVESTIGATING:
                incident = incident_reopen(incident=incident, reason=reason, actor=request.user)
            else:
                incident = incident_transition(
                    incident=incident, to=to, reason=reason, actor=request.user
                )
        except DomainError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            label = IncidentStatus(incident.status).label
            self.log_change(request, incident, f"Moved to {label}.")
            self.message_user(request, f"{incident.reference} is now {label}.", messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(incident))

    def take_command_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        incident = self._get_incident(request, object_id)
        if not self.has_command_permission(request, incident):
            raise PermissionDenied
        incident_assign_commander(incident=incident, commander=request.user, actor=request.user)
        self.log_change(request, incident, "Took command.")
        self.message_user(request, f"You command {incident.reference}.", messages.SUCCESS)
        return HttpResponseRedirect(self._change_url(incident))

    def _public_preview(self, incident, data) -> dict:
        """What the status page will show once this update is published."""
        from incidents.statuspage.selectors import public_title

        services = list(incident.services.filter(is_public=True))
        incident.public_services = services
        shown = Incident(public_title=data["public_title"] or incident.public_title)
        shown.public_services = services
        return {
            "title": public_title(shown),
            "status": UpdateStatus(data["status"]).label,
            "message": data["message"],
            "services": services,
        }

    def post_update_view(self, request, object_id):
        incident = self._get_incident(request, object_id)
        if not policy.may(request.user, Action.POST_INTERNAL_UPDATE, incident=incident):
            raise PermissionDenied
        preview = None
        if request.method == "POST":
            form = PostUpdateForm(request.POST)
            if form.is_valid() and "edit" not in request.POST:
                data = form.cleaned_data
                # The same rule as the API's: an update that moves the incident (resolves it,
                # say) needs that move's permission as well as the update's.
                if not policy.may_update(
                    request.user, incident=incident, public=data["public"], status=data["status"]
                ):
                    raise PermissionDenied
                if data["public"] and not data["confirmed"]:
                    preview = self._public_preview(incident, data)
                else:
                    try:
                        update = status_update_post(
                            incident=incident,
                            message=data["message"],
                            status=data["status"],
                            public=data["public"],
                            public_title=data["public_title"] if data["public"] else None,
                            actor=request.user,
                        )
                    except DomainError as error:
                        form.add_error(
                            error.field if error.field in form.fields else None, str(error)
                        )
                    else:
                        audience = "a public" if update.public else "an internal"
                        self.message_user(
                            request,
                            f"Posted {audience} update on {incident.reference} "
                            f"({update.get_status_display()}).",
                            messages.SUCCESS,
                        )
                        return HttpResponseRedirect(self._change_url(incident))
        else:
            status = request.GET.get("status")
            if status not in UpdateStatus.values:
                status = update_phase(incident.status)
            public = request.GET.get("public") in ("1", "true", "on")
            form = PostUpdateForm(
                initial={
                    "status": status,
                    "public": public,
                    "public_title": incident.public_title,
                    "message": status_update_template(
                        incident=incident, status=status, public=public
                    ),
                }
            )
        base = reverse("admin:incidents_incident_post_update", args=[incident.pk])
        templates = [
            (label, f"{base}?status={value}&public=0", f"{base}?status={value}&public=1")
            for value, label in UpdateStatus.choices
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Post an update on {incident.reference}",
            "subtitle": incident.title,
            "original": incident,
            "form": form,
            "templates": templates,
            "preview": preview,
            "change_url": self._change_url(incident),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/incidents/incident/post_update.html", context)
