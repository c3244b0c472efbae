"""Inlines that show an incident's newest rows and link to the full list.

A 600-alert Alertmanager group made a page with every alert inline; an inline built from
`BoundedInline` shows `limit` rows (two queries whatever the total) and a "See all" link.
"""

from django.contrib import admin
from django.forms.models import BaseInlineFormSet
from django.urls import reverse

INLINE_LIMIT = 20


class NewestRowsFormSet(BaseInlineFormSet):
    limit = INLINE_LIMIT
    newest_order: tuple[str, ...] = ("-pk",)
    oldest_first = False
    see_all_url = ""
    rows_name = "rows"

    def get_queryset(self):
        if not hasattr(self, "_queryset"):
            rows = self.queryset.order_by(*self.newest_order)
            shown = list(rows[: self.limit])
            self.total_rows = rows.count() if len(shown) == self.limit else len(shown)
            self._queryset = shown[::-1] if self.oldest_first else shown
        return self._queryset

    @property
    def hidden_rows(self) -> int:
        self.get_queryset()
        return self.total_rows - len(self._queryset)


class BoundedInline:
    """Mixin for a read-only TabularInline: the newest rows, then a link to all of them.

    Subclasses set `newest_order` (newest first), `oldest_first` (the display order of the
    rows shown) and `changelist` (the admin URL name listing every row, filtered by incident).
    """

    formset = NewestRowsFormSet
    template = "admin/incidents/bounded_inline.html"
    limit = INLINE_LIMIT
    newest_order: tuple[str, ...] = ("-pk",)
    oldest_first = False
    changelist = ""
    rows_name = ""  # "See all 600 <rows_name>"; the inline's verbose_name_plural if empty

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.limit, formset.newest_order = self.limit, self.newest_order
        formset.oldest_first = self.oldest_first
        formset.rows_name = self.rows_name or self.verbose_name_plural
        if obj is not None and self.changelist:
            formset.see_all_url = f"{reverse(self.changelist)}?incident={obj.number}"
        return formset


class IncidentFilter(admin.SimpleListFilter):
    """`?incident=42`: the rows of incident 42, as the incident page's "See all" links open."""

    title = "incident"
    parameter_name = "incident"

    def lookups(self, request, model_admin):
        # Only the chosen incident: a list of every incident would be a page of its own. (A
        # filter with no choices is not applied, so an unknown value still gets one.)
        value = self.value()
        return [(value, f"INC-{value}" if value.isdigit() else value)] if value else []

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(incident__number=int(value))
