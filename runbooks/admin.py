"""Runbook admin: writing runbooks, their history, and working them on an incident.

Writes go through runbooks.services with actor=request.user; the admin turns requests into
those calls and their outcome into messages.
"""

import difflib

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from incidents.admin.readonly import ReadOnlyAdmin
from incidents.core.errors import DomainError
from incidents.core.formatting import badge
from incidents.models import Incident
from runbooks.files import dump, spec_of
from runbooks.models import (
    CauseFix,
    MatchRule,
    Runbook,
    RunbookRevision,
    RunbookRun,
    RunbookStep,
    RunStepCheck,
)
from runbooks.rendering import render_markdown
from runbooks.services import (
    runbook_mark_reviewed,
    runbook_record_revision,
    runbook_run_start,
    runbook_step_check,
)

MEDIA_CSS = {"all": ["runbooks/admin.css"]}


def _count_of(model, parent: str, outer: str):
    """A subquery counting `model` rows whose `parent` is the outer row's `outer` field."""
    return (
        model.objects.filter(**{parent: OuterRef(outer)})
        .order_by()
        .values(parent)
        .annotate(n=Count("pk"))
        .values("n")
    )


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def progress_bar(done: int, total: int) -> str:
    percent = round(100 * done / total) if total else 100
    context = {"done": done, "total": total, "percent": percent}
    return mark_safe(render_to_string("admin/runbooks/includes/progress.html", context).strip())


class NeedsReviewFilter(admin.SimpleListFilter):
    title = "review"
    parameter_name = "review"

    def lookups(self, request, model_admin):
        return [("due", "Needs review"), ("ok", "Up to date")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "due":
            return queryset.needs_review(now)
        if self.value() == "ok":
            return queryset.reviewed(now)
        return queryset


class StepInline(admin.StackedInline):
    model = RunbookStep
    fields = (("order", "instruction"), ("command", "expected"))
    extra = 0
    classes = ("rb-steps",)

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in ("instruction", "command", "expected") and field is not None:
            field.widget.attrs.update({"rows": 2, "cols": 60})
        return field


class CauseFixInline(admin.TabularInline):
    model = CauseFix
    fields = ("order", "cause", "fix")
    extra = 0

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name in ("cause", "fix") and field is not None:
            field.widget.attrs.update({"rows": 2, "cols": 40})
        return field


class MatchRuleInline(admin.TabularInline):
    model = MatchRule
    fields = ("kind", "key", "value", "weight")
    extra = 0


class RunInline(admin.TabularInline):
    """Where this runbook was worked; each row links to its checklist."""

    model = RunbookRun
    fields = ("incident_link", "started_by", "started_at", "completed_at", "checklist")
    readonly_fields = fields
    extra = 0
    can_delete = False
    max_num = 0
    verbose_name_plural = "runs on incidents"
    view_on_site = False
    ordering = ("-started_at",)

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("incident", "started_by")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="Incident")
    def incident_link(self, run):
        url = reverse("admin:incidents_incident_change", args=[run.incident_id])
        return format_html('<a href="{}">{}</a>', url, run.incident)

    @admin.display(description="Checklist")
    def checklist(self, run):
        return format_html('<a href="{}">Open</a>', run.get_absolute_url())


@admin.register(Runbook)
class RunbookAdmin(admin.ModelAdmin):
    list_display = (
        "title",
        "services_list",
        "owner",
        "step_count",
        "review_state",
        "updated_at",
    )
    list_filter = (NeedsReviewFilter, "services")
    search_fields = ("title", "symptoms", "body")
    search_help_text = "Search titles, symptoms and bodies."
    list_select_related = ("owner",)
    autocomplete_fields = ("services",)
    prepopulated_fields = {"slug": ("title",)}
    readonly_fields = ("preview", "review_info", "history")
    actions = ("mark_reviewed",)
    inlines = (StepInline, CauseFixInline, MatchRuleInline, RunInline)
    list_per_page = 50
    view_on_site = False  # its "site" page is this one
    fieldsets = (
        (None, {"fields": ("title", "slug", "services", "owner")}),
        ("What responders see", {"fields": ("symptoms", "body")}),
        ("Preview", {"fields": ("preview",), "classes": ("rb-preview-set",)}),
        ("Review", {"fields": ("review_every_days", "last_reviewed_at", "review_info")}),
        ("History", {"fields": ("history",)}),
    )

    class Media:
        css = MEDIA_CSS

    def get_queryset(self, request):
        steps = _count_of(RunbookStep, "runbook", "pk")
        return (
            super()
            .get_queryset(request)
            .with_review_due()
            .annotate(step_total=Coalesce(Subquery(steps, output_field=IntegerField()), 0))
            .prefetch_related("services")
        )

    def get_fieldsets(self, request, obj=None):
        if obj is None:
            return (*self.fieldsets[:2], ("Review", {"fields": ("review_every_days",)}))
        return self.fieldsets

    @admin.display(description="Services")
    def services_list(self, runbook):
        return ", ".join(s.name for s in runbook.services.all()) or "—"

    @admin.display(description="Steps", ordering="step_total")
    def step_count(self, runbook):
        return runbook.step_total

    @admin.display(description="Review", ordering="review_due_at")
    def review_state(self, runbook):
        due = runbook.review_due_at.strftime("%Y-%m-%d")
        if runbook.review_due_at <= timezone.now():
            return badge("review", "due", "Needs review", title=f"Due since {due}")
        return badge("review", "ok", f"Due {due}")

    @admin.display(description="Rendered body")
    def preview(self, runbook):
        if not runbook.body:
            return "—"
        return format_html('<div class="rb-markdown">{}</div>', render_markdown(runbook.body))

    @admin.display(description="Next review")
    def review_info(self, runbook):
        due = runbook.review_due_on
        state = "overdue" if runbook.review_overdue() else "due"
        reminded = (
            f"; owners reminded {runbook.review_reminded_at:%Y-%m-%d}"
            if runbook.review_reminded_at
            else ""
        )
        return f"{state} {due:%Y-%m-%d}{reminded}"

    @admin.display(description="Revisions")
    def history(self, runbook):
        count = runbook.revisions.count()
        url = (
            reverse("admin:runbooks_runbookrevision_changelist")
            + "?"
            + urlencode({"runbook__id__exact": runbook.pk})
        )
        return format_html('<a href="{}">{}</a>', url, _plural(count, "revision"))

    @admin.action(description="Mark selected runbooks as reviewed", permissions=["change"])
    def mark_reviewed(self, request, queryset):
        count = 0
        for runbook in queryset:
            runbook_mark_reviewed(runbook=runbook, actor=request.user)
            self.log_change(request, runbook, "Marked reviewed.")
            count += 1
        self.message_user(
            request, f"Marked {_plural(count, 'runbook')} as reviewed.", messages.SUCCESS
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        # The revision is taken once the inlines are saved, so it holds the whole runbook.
        summary = "Created in the admin" if not change else "Edited in the admin"
        changed = list(form.changed_data)
        for formset in formsets:
            if formset.has_changed():
                changed.append(str(formset.model._meta.verbose_name_plural))
        if change and changed:
            summary += ": " + ", ".join(changed)
        runbook_record_revision(runbook=form.instance, actor=request.user, summary=summary)


@admin.register(RunbookRevision)
class RunbookRevisionAdmin(ReadOnlyAdmin):
    """Read-only history. Each revision shows its text and a diff against the current runbook."""

    list_display = ("runbook", "number", "author", "created_at", "summary")
    list_display_links = ("runbook", "number")
    list_filter = ("runbook",)
    list_select_related = ("runbook", "author")
    search_fields = ("runbook__title", "summary")
    fields = ("runbook", "number", "author", "created_at", "summary", "diff", "file_text")
    readonly_fields = fields
    date_hierarchy = "created_at"

    class Media:
        css = MEDIA_CSS

    @admin.display(description="This revision")
    def file_text(self, revision):
        return format_html('<pre class="rb-file">{}</pre>', revision.text)

    @admin.display(description="Changes since (this revision → current)")
    def diff(self, revision):
        runbook = Runbook.objects.prefetch_related("services", "steps", "causes", "rules").get(
            pk=revision.runbook_id
        )
        current = dump(spec_of(runbook))
        lines = list(
            difflib.unified_diff(
                revision.text.splitlines(),
                current.splitlines(),
                fromfile=f"revision {revision.number}",
                tofile="current",
                lineterm="",
            )
        )

        def tone(line: str) -> str:
            if line.startswith(("+++", "---")):
                return "file"
            return {"+": "add", "-": "del", "@": "hunk"}.get(line[:1], "ctx")

        rows = [{"tone": tone(line), "text": line} for line in lines]
        html = render_to_string("admin/runbooks/includes/diff.html", {"lines": rows})
        return mark_safe(html.strip())


@admin.register(RunbookRun)
class RunbookRunAdmin(admin.ModelAdmin):
    """Runs are started from an incident and worked on their checklist page."""

    list_display = ("runbook", "incident_link", "started_by", "started_at", "progress", "open_link")
    list_filter = ("runbook",)
    list_select_related = ("runbook", "incident", "started_by")
    search_fields = ("runbook__title", "incident__title")
    date_hierarchy = "started_at"
    view_on_site = False

    class Media:
        css = MEDIA_CSS

    def get_queryset(self, request):
        checks = _count_of(RunStepCheck, "run", "pk")
        steps = _count_of(RunbookStep, "runbook", "runbook")
        return (
            super()
            .get_queryset(request)
            .annotate(
                checked=Coalesce(Subquery(checks, output_field=IntegerField()), 0),
                step_total=Coalesce(Subquery(steps, output_field=IntegerField()), 0),
            )
        )

    def has_add_permission(self, request):
        return False  # runs start from an incident ("Start runbook")

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Incident", ordering="incident__number")
    def incident_link(self, run):
        url = reverse("admin:incidents_incident_change", args=[run.incident_id])
        return format_html('<a href="{}">{}</a>', url, run.incident)

    @admin.display(description="Progress")
    def progress(self, run):
        return progress_bar(run.checked, run.step_total)

    @admin.display(description="")
    def open_link(self, run):
        return format_html('<a href="{}">Checklist</a>', run.get_absolute_url())

    def get_urls(self):
        return [
            path(
                "start/",
                self.admin_site.admin_view(self.start_view),
                name="runbooks_runbookrun_start",
            ),
            path(
                "<path:object_id>/checklist/",
                self.admin_site.admin_view(self.checklist_view),
                name="runbooks_runbookrun_checklist",
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # A run has nothing to edit: its page is the checklist.
        return HttpResponseRedirect(
            reverse("admin:runbooks_runbookrun_checklist", args=[object_id])
        )

    def start_view(self, request):
        """POST runbook=<id>&incident=<id>: start (or reopen the open) run and go to its checklist."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm("runbooks.add_runbookrun"):
            raise PermissionDenied
        try:
            runbook = get_object_or_404(Runbook, pk=int(request.POST.get("runbook", "")))
            incident = get_object_or_404(Incident, pk=int(request.POST.get("incident", "")))
        except ValueError:
            raise Http404("Choose a runbook and an incident.") from None
        run = runbook_run_start(runbook=runbook, incident=incident, actor=request.user)
        self.message_user(
            request,
            f"Runbook “{runbook.title}” is running on {incident.reference}.",
            messages.SUCCESS,
        )
        return HttpResponseRedirect(run.get_absolute_url())

    def checklist_view(self, request, object_id):
        run = (
            RunbookRun.objects.select_related("runbook", "incident", "started_by")
            .filter(pk=unquote(object_id) if str(object_id).isdigit() else None)
            .first()
        )
        if run is None:
            raise Http404(f"No runbook run with id {object_id!r}.")
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        may_check = request.user.has_perm("runbooks.add_runstepcheck")
        steps = list(run.runbook.steps.all())
        if request.method == "POST":
            if not may_check:
                raise PermissionDenied
            by_id = {str(step.pk): step for step in steps}
            ticked = [by_id[pk] for pk in request.POST.getlist("step") if pk in by_id]
            done, refusals = 0, []
            for step in ticked:
                try:
                    runbook_step_check(
                        run=run,
                        step=step,
                        actor=request.user,
                        note=request.POST.get(f"note-{step.pk}", "")[:2000],
                    )
                except DomainError as error:
                    refusals.append(str(error))
                else:
                    done += 1
            if refusals:
                self.message_user(request, " ".join(sorted(set(refusals))), messages.ERROR)
            elif done:
                self.message_user(request, f"Checked {_plural(done, 'step')}.", messages.SUCCESS)
            else:
                self.message_user(request, "Tick the steps you have done first.", messages.WARNING)
            return HttpResponseRedirect(run.get_absolute_url())

        checks = {c.step_id: c for c in run.checks.select_related("checked_by")}
        rows = [(index, step, checks.get(step.pk)) for index, step in enumerate(steps, start=1)]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": run.runbook.title,
            "subtitle": f"Runbook on {run.incident.reference}",
            "run": run,
            "rows": rows,
            "progress": progress_bar(len(checks), len(steps)),
            "may_check": may_check and run.completed_at is None,
            "causes": list(run.runbook.causes.all()),
            "symptoms": render_markdown(run.runbook.symptoms),
            "body": render_markdown(run.runbook.body),
            "incident_url": reverse("admin:incidents_incident_change", args=[run.incident_id]),
            "runbook_url": reverse("admin:runbooks_runbook_change", args=[run.runbook_id])
            if request.user.has_perm("runbooks.view_runbook")
            else None,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/runbooks/runbookrun/checklist.html", context)


@admin.register(RunStepCheck)
class RunStepCheckAdmin(ReadOnlyAdmin):
    """Every tick, for audits; read-only (ticks are made on the checklist page)."""

    list_display = ("run", "step", "checked_by", "checked_at", "note")
    list_select_related = ("run__runbook", "run__incident", "step", "checked_by")
    date_hierarchy = "checked_at"
