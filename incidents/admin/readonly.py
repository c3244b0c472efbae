from django.contrib import admin


class ReadOnlyAdminMixin:
    """For a record only the domain writes: staff may list and read it, never add, change or
    delete it. Mix it in before `admin.ModelAdmin` or an inline class (`TabularInline`,
    `StackedInline`); the signatures take the inline's `obj` too."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """A read-only ModelAdmin: `ReadOnlyAdminMixin` on `admin.ModelAdmin`."""
