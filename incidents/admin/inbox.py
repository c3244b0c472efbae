"""The ingest inbox: every accepted ingestion request, pending or applied, read-only.

Rows are written by incidents.alerts.inbox only. Staff see what waits, what keeps failing
(attempts and the last error) and what applying did; "Retry now" makes pending rows due at once
(`inbox_retry_now`). Only a superuser may delete rows (retention deletes applied ones anyway).
"""

from django.contrib import admin, messages
from django.db.models import Q
from django.utils.text import Truncator

from incidents.admin.readonly import ReadOnlyAdmin
from incidents.alerts.inbox import inbox_retry_now
from incidents.core.formatting import badge
from incidents.models import InboxEvent, InboxState

RETRY_PERMISSION = "incidents.change_inboxevent"

# The state a row shows, each with the rows it selects: the one definition the badge and the
# filter share.
STATES: dict[str, tuple[str, Q]] = {
    "pending": ("Pending", Q(state=InboxState.PENDING, attempts=0)),
    "retrying": ("Retrying", Q(state=InboxState.PENDING, attempts__gt=0)),
    "applied": ("Applied", Q(state=InboxState.APPLIED) & ~Q(success=False)),
    "failed": ("Applied, failed", Q(state=InboxState.APPLIED, success=False)),
}


def shown_state(row: InboxEvent) -> str:
    if row.state == InboxState.PENDING:
        return "retrying" if row.attempts else "pending"
    return "failed" if row.success is False else "applied"


class InboxStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        # "waiting" is every pending row, retried or not (the admin home links to it).
        return [("waiting", "Pending (all)")] + [(key, label) for key, (label, _) in STATES.items()]

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return queryset.filter(state=InboxState.PENDING)
        if self.value() in STATES:
            return queryset.filter(STATES[self.value()][1])
        return queryset


@admin.register(InboxEvent)
class InboxEventAdmin(ReadOnlyAdmin):
    list_display = (
        "received_at",
        "integration",
        "action",
        "event_count",
        "state_badge",
        "attempts",
        "error",
        "result",
        "applied_at",
    )
    list_filter = (InboxStateFilter, "integration")
    list_select_related = ("integration",)
    search_fields = ("=request_id", "alias")
    date_hierarchy = "received_at"
    list_per_page = 100
    show_full_result_count = False  # a count of the whole table on every page is not needed
    fields = readonly_fields = [
        "request_id",
        "integration",
        "action",
        "alias",
        "received_at",
        "state_badge",
        "attempts",
        "not_before",
        "last_error",
        "applied_at",
        "success",
        "result",
        "alert_id",
        "incident_ids",
        "event_count",
        "events",
    ]
    actions = ("retry_now",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        match = request.resolver_match
        if match is not None and match.url_name == "incidents_inboxevent_changelist":
            # A row may hold thousands of events: the list shows only their number.
            queryset = queryset.defer("events")
        return queryset

    def has_delete_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    def has_retry_permission(self, request):
        return request.user.has_perm(RETRY_PERMISSION)

    @admin.display(description="state", ordering="state")
    def state_badge(self, row: InboxEvent):
        key = shown_state(row)
        return badge("inbox", key, STATES[key][0])

    @admin.display(description="last error")
    def error(self, row: InboxEvent):
        return Truncator(row.last_error).chars(80) or "—"

    @admin.action(description="Retry selected pending rows now", permissions=["retry"])
    def retry_now(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        made_due = inbox_retry_now(ids=ids)
        self.message_user(
            request,
            f"{made_due} pending row(s) are due now; an ingest worker applies them next.",
            messages.SUCCESS,
        )
        if made_due < len(ids):
            self.message_user(
                request,
                f"{len(ids) - made_due} selected row(s) were applied already: nothing to retry.",
                messages.WARNING,
            )
