"""Chat identities on the user's admin page: whose Slack or Mattermost account this is.

Django's own User admin, with one more inline. Links and unlinks go through
`incidents.paging.actions.identities` (audit record, one's own or with the permission).
"""

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError

from incidents.core.errors import DomainError
from incidents.models import ChatIdentity
from incidents.paging.actions import identities

User = get_user_model()


class ChatIdentityInline(admin.TabularInline):
    model = ChatIdentity
    extra = 0
    fields = ("provider", "external_id", "created_at")
    readonly_fields = ("created_at",)
    verbose_name = "chat identity"
    verbose_name_plural = (
        "chat identities (their Slack / Mattermost commands and clicks act as this user)"
    )

    def has_change_permission(self, request, obj=None):
        return False  # unlink and link again: a change would be a different account

    def has_add_permission(self, request, obj=None):
        return obj is not None and (
            obj.pk == request.user.pk or request.user.has_perm("incidents.add_chatidentity")
        )

    def has_delete_permission(self, request, obj=None):
        return obj is not None and (
            obj.pk == request.user.pk or request.user.has_perm("incidents.delete_chatidentity")
        )


class TocsinUserAdmin(UserAdmin):
    inlines = [*UserAdmin.inlines, ChatIdentityInline]

    def save_formset(self, request, form, formset, change):
        if formset.model is not ChatIdentity:
            return super().save_formset(request, form, formset, change)
        # What the admin's history message reads, as formset.save() would have set it.
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        for deleted in formset.deleted_forms:
            if deleted.instance.pk is not None:
                formset.deleted_objects.append(deleted.instance)
                identities.chat_identity_remove(identity=deleted.instance, actor=request.user)
        for inline_form in formset.extra_forms:
            if not inline_form.has_changed() or inline_form in formset.deleted_forms:
                continue
            added = identities.chat_identity_add(
                user=form.instance,
                actor=request.user,
                provider=inline_form.cleaned_data["provider"],
                external_id=inline_form.cleaned_data["external_id"],
            )
            formset.new_objects.append(added)
        return None

    def get_formsets_with_inlines(self, request, obj=None):
        for formset, inline in super().get_formsets_with_inlines(request, obj):
            if inline.model is ChatIdentity:
                formset.clean = _checked(formset.clean)
            yield formset, inline


def _checked(clean):
    """Refuse, in the form, what the domain function would refuse (a bad or taken id)."""

    def checking(formset):
        clean(formset)
        for inline_form in formset.extra_forms:
            if not inline_form.has_changed() or not hasattr(inline_form, "cleaned_data"):
                continue
            try:
                identities.clean_external_id(inline_form.cleaned_data.get("external_id", ""))
            except DomainError as error:
                inline_form.add_error("external_id", error.message)
                raise ValidationError(error.message) from None

    return checking


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, TocsinUserAdmin)
