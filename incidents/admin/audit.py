"""Configuration writes in the admin, and their audit log.

`DomainAdmin` is mixed into the admins of configuration rows: their saves and deletions (forms
and inlines) go through domain functions, a refusal from one comes back onto the form instead
of a 500, and the object's "History" page lists its audit records. `ConfigChangeAdmin` is the
"Audit log": every record, newest first, filterable by model and by actor.
"""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse

from incidents.admin.readonly import ReadOnlyAdmin
from incidents.core.audit import config_delete, config_save
from incidents.core.errors import DomainError
from incidents.models import ChangeAction, ConfigChange

HISTORY_LIMIT = 200
_REFUSAL = "_tocsin_refusal"


def _refusal_messages(error) -> list[tuple[str | None, str]]:
    if isinstance(error, DomainError):
        return [(error.field, error.message)]
    if hasattr(error, "error_dict"):
        return [(name, m) for name, items in error.message_dict.items() for m in items]
    return [(None, m) for m in error.messages]


class DomainAdmin(admin.ModelAdmin):
    """A ModelAdmin whose writes are domain calls (override `domain_save` and friends)."""

    object_history_template = "admin/audit/object_history.html"

    # --- writes: the domain, for the form and for each inline row -----------------------------

    def domain_save(self, request, obj, form, change):
        config_save(obj=obj, actor=request.user)

    def domain_delete(self, request, obj):
        config_delete(obj=obj, actor=request.user)

    def domain_save_inline(self, request, obj, inline_form, parent):
        config_save(obj=obj, actor=request.user)

    def save_model(self, request, obj, form, change):
        self.domain_save(request, obj, form, change)

    def delete_model(self, request, obj):
        self.domain_delete(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.domain_delete(request, obj)

    def save_formset(self, request, form, formset, change):
        instances = formset.save(commit=False)
        for obj in formset.deleted_objects:
            self.domain_delete(request, obj)
        forms_by_obj = {id(f.instance): f for f in formset.forms}
        for obj in instances:
            self.domain_save_inline(request, obj, forms_by_obj.get(id(obj)), form.instance)
        formset.save_m2m()

    # --- a refusal at save time goes back onto the form ----------------------------------------

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except (DomainError, ValidationError) as error:
            # The transaction rolled back; show the same form again with the refusal on it.
            setattr(request, _REFUSAL, _refusal_messages(error))
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change, **kwargs)
        refusals = getattr(request, _REFUSAL, None)
        if not refusals:
            return form_class

        class Refused(form_class):
            def clean(self):
                data = super().clean()
                for name, message in refusals:
                    self.add_error(name if name in self.fields else None, message)
                return data

        return Refused

    # --- the audit log is the history: no second record in Django's LogEntry --------------------

    def log_addition(self, request, obj, message):
        return None

    def log_change(self, request, obj, message):
        return None

    def log_deletions(self, request, queryset):
        return None

    def construct_change_message(self, request, form, formsets, add=False):
        return ""

    def history_view(self, request, object_id, extra_context=None):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        records = ConfigChange.objects.filter(
            content_type=ContentType.objects.get_for_model(self.model),
            object_id=str(obj.pk),
        ).select_related("actor")[:HISTORY_LIMIT]
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change history: {obj}",
            "subtitle": None,
            "object": obj,
            "opts": self.opts,
            "records": [(record, change_rows(record)) for record in records],
            "limit": HISTORY_LIMIT,
            "audit_log_url": reverse("admin:incidents_configchange_changelist"),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.object_history_template, context)


def change_rows(record: ConfigChange) -> list[tuple[str, object, object]]:
    """(field, before, after) for each field the record names."""
    names = list(dict.fromkeys([*record.before, *record.after]))
    return [(name, record.before.get(name), record.after.get(name)) for name in names]


class ModelFilter(admin.SimpleListFilter):
    title = "model"
    parameter_name = "model"

    def lookups(self, request, model_admin):
        ids = ConfigChange.objects.order_by().values_list("content_type", flat=True).distinct()
        types = [ContentType.objects.get_for_id(pk) for pk in ids]
        return sorted(((t.pk, t.name) for t in types), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(content_type_id=self.value())
        return queryset


class ActorFilter(admin.SimpleListFilter):
    title = "actor"
    parameter_name = "actor"

    def lookups(self, request, model_admin):
        people = get_user_model().objects.filter(
            pk__in=ConfigChange.objects.filter(actor__isnull=False).values("actor")
        )
        return [(u.pk, u.get_username()) for u in people.order_by("username")]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(actor_id=self.value())
        return queryset


@admin.register(ConfigChange)
class ConfigChangeAdmin(ReadOnlyAdmin):
    """The audit log: read-only, for those given "Can view audit record"."""

    list_display = ("at", "who", "action", "model_name", "object_link", "changes")
    list_filter = (ModelFilter, ActorFilter, "action")
    list_select_related = ("content_type",)
    search_fields = ("object_repr", "actor_label", "note")
    date_hierarchy = "at"
    ordering = ("-at", "-id")
    list_per_page = 50
    show_full_result_count = False
    fields = readonly_fields = (
        "at",
        "actor",
        "actor_label",
        "content_type",
        "object_id",
        "object_repr",
        "action",
        "note",
        "changes",
    )

    # Not `model`: a ModelAdmin's `model` is its model class.
    @admin.display(description="model", ordering="content_type")
    def model_name(self, record):
        return record.content_type.name

    @admin.display(description="who", ordering="actor_label")
    def who(self, record):
        return record.actor_label

    @admin.display(description="object")
    def object_link(self, record):
        url = None
        if record.action != ChangeAction.DELETED:
            ct = record.content_type
            try:
                url = reverse(f"admin:{ct.app_label}_{ct.model}_change", args=[record.object_id])
            except NoReverseMatch:
                url = None
        return render_to_string(
            "admin/audit/object_link.html", {"url": url, "label": record.object_repr}
        )

    @admin.display(description="before → after")
    def changes(self, record):
        return render_to_string(
            "admin/audit/changes.html", {"rows": change_rows(record), "note": record.note}
        )
