from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record that only the domain writes: staff may list and read it, nothing more."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
