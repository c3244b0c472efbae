"""Delivery log and contact methods: every message Tocsin sent or tried, of every kind, with
"Retry" (through the domain's `notification_retry`)."""

from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.text import Truncator

from incidents.admin.audit import DomainAdmin
from incidents.admin.people import PeoplePickers
from incidents.admin.readonly import ReadOnlyAdmin
from incidents.admin.secrets import SecretAddressAdmin, SecretAddressForm, masked_address
from incidents.core.contacts import PERSON_KINDS, mask_address
from incidents.core.errors import DomainError
from incidents.core.formatting import badge
from incidents.models import ContactMethod, Notification, NotificationRule
from incidents.paging import personal
from incidents.paging.channels.webhook import masked_secret
from incidents.paging.delivery import account_email_notice, notification_retry


def test_queued(row: Notification) -> str:
    """What to tell someone who asked for a test notification: queued, and where to look."""
    return format_html(
        "Queued a test notification to {} of {}: see whether it arrived in the "
        '<a href="{}">delivery log</a>.',
        mask_address(row.address),
        row.recipient,
        personal.delivery_log_url(row),
    )


class NotificationRuleInline(admin.TabularInline):
    model = NotificationRule
    extra = 0
    fields = ("order", "delay")
    verbose_name = "personal rule using this method"
    verbose_name_plural = "personal rules using this method (delay after being paged)"


class ContactMethodForm(SecretAddressForm):
    person = True  # email, webhook or apprise: Slack and Mattermost buttons are for channels

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields.get("kind")
        if field is not None:
            field.choices = [(k, v) for k, v in field.choices if not k or k in PERSON_KINDS]


class PersonKindFilter(admin.SimpleListFilter):
    """The kinds a person's method can be (team-channel kinds would only ever list nothing)."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(kind.value, kind.label) for kind in PERSON_KINDS]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(ContactMethod)
class ContactMethodAdmin(PeoplePickers, SecretAddressAdmin, DomainAdmin):
    form = ContactMethodForm
    list_display = ("user", "kind", "masked_address", "label", "created_at")
    list_filter = (PersonKindFilter,)
    list_select_related = ("user",)
    # Not by address: searching it would let anyone guess a secret URL piece by piece.
    search_fields = ("user__username", "label")
    autocomplete_fields = ("user",)
    inlines = (NotificationRuleInline,)
    actions = ("send_test",)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        notice = account_email_notice(obj.user)
        if notice and not change:
            self.message_user(request, notice, messages.WARNING)

    def domain_save(self, request, obj, form, change):
        fields = {"kind": obj.kind, "address": obj.address, "label": obj.label}
        if change:
            saved = personal.contact_method_update(method=obj, actor=request.user, **fields)
        else:
            saved = personal.contact_method_add(user=obj.user, actor=request.user, **fields)
        obj.pk, obj._state.adding = saved.pk, False

    @admin.action(description="Send test notification")
    def send_test(self, request, queryset):
        for method in queryset.select_related("user"):
            try:
                row = personal.contact_method_test(method=method, actor=request.user)
            except DomainError as error:
                self.message_user(request, f"{method}: {error}", messages.WARNING)
            else:
                self.message_user(request, test_queued(row), messages.SUCCESS)

    def domain_delete(self, request, obj):
        if isinstance(obj, NotificationRule):
            personal.notification_rule_delete(rule=obj, actor=request.user)
        else:
            personal.contact_method_delete(method=obj, actor=request.user)

    def domain_save_inline(self, request, obj, inline_form, parent):
        obj.user = parent.user
        personal.notification_rule_save(rule=obj, actor=request.user)


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = (
        "created_at",
        "incident",
        "reason",
        "recipient",
        "kind",
        "status_badge",
        "attempts",
        "error",
        "sent_at",
        "due_at",
    )
    list_filter = ("status", "reason", "kind")
    list_select_related = ("incident",)
    search_fields = ("recipient", "subject", "incident__title")
    date_hierarchy = "created_at"
    # The address shows masked (a webhook URL is a credential, an email address is personal).
    fields = readonly_fields = [
        "masked_address" if f.name == "address" else f.name for f in Notification._meta.fields
    ] + ["delivery_id"]
    masked_address = staticmethod(masked_address)
    actions = ("retry",)
    list_per_page = 100

    def changelist_view(self, request, extra_context=None):
        extra_context = {"title": "Delivery log", "signing_secret": masked_secret()}
        return super().changelist_view(request, extra_context)

    def has_retry_permission(self, request):
        return request.user.has_perm("incidents.retry_notification")

    @admin.display(description="status", ordering="status")
    def status_badge(self, notification):
        return badge("notification", notification.status, notification.get_status_display())

    @admin.display(description="last error")
    def error(self, notification):
        return Truncator(notification.last_error).chars(80) or "—"

    @admin.action(description="Retry selected notifications now", permissions=["retry"])
    def retry(self, request, queryset):
        retried, refusals = 0, []
        for notification in queryset:
            try:
                notification_retry(notification=notification, actor=request.user)
            except DomainError as error:
                refusals.append(str(error))
            else:
                retried += 1
        self.message_user(request, f"Queued {retried} notification(s) again.", messages.SUCCESS)
        for refusal in refusals:
            self.message_user(request, refusal, messages.WARNING)
