"""Admin actions the user is not offered are refused with 403, the same on every list."""

from django.core.exceptions import PermissionDenied


class RefuseUnofferedActions:
    """A POST naming an action the user is not offered answers 403 (Django re-renders the list).

    Mixed into every admin whose actions act on incidents, so the answer is the same on each.
    """

    def changelist_view(self, request, extra_context=None):
        action = request.POST.get("action") if request.method == "POST" else None
        if action and action not in self.get_actions(request):
            raise PermissionDenied
        return super().changelist_view(request, extra_context)
