"""Status page subscribers: who hears about public updates."""

from django.contrib import admin, messages
from django.db import transaction
from django.utils.html import format_html

from incidents.models import Subscriber
from incidents.statuspage.subscribers import subscriber_unsubscribe


@admin.register(Subscriber)
class SubscriberAdmin(admin.ModelAdmin):
    list_display = ["email", "state", "service_list", "created_at", "confirmed_at"]
    list_filter = [
        ("confirmed_at", admin.EmptyFieldListFilter),
        ("unsubscribed_at", admin.EmptyFieldListFilter),
        "services",
    ]
    search_fields = ["email"]
    readonly_fields = ["created_at", "confirmed_at", "unsubscribed_at"]
    filter_horizontal = ["services"]
    actions = ["unsubscribe"]
    date_hierarchy = "created_at"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("services")

    @admin.display(description="State")
    def state(self, subscriber: Subscriber):
        if subscriber.unsubscribed_at:
            return format_html('<span class="tocsin-muted">{}</span>', "Unsubscribed")
        if subscriber.confirmed_at is None:
            return "Awaiting confirmation"
        return "Subscribed"

    @admin.display(description="Services")
    def service_list(self, subscriber: Subscriber) -> str:
        names = [s.display_name for s in subscriber.services.all()]
        return ", ".join(names) or "All public services"

    @admin.action(description="Unsubscribe selected addresses", permissions=["change"])
    def unsubscribe(self, request, queryset):
        with transaction.atomic():
            for subscriber in queryset:
                subscriber_unsubscribe(token=subscriber.token)
        self.message_user(
            request, f"Unsubscribed {queryset.count()} address(es).", messages.SUCCESS
        )
