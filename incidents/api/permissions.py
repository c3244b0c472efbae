"""The API's permission classes. Incident operations ask incidents.core.policy."""

from rest_framework.permissions import BasePermission, DjangoModelPermissions

from incidents.core import policy


class ModelPermissions(DjangoModelPermissions):
    """Authenticated, and reading needs the model's view permission (the Viewer group has it)."""

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


def _answer(permission: BasePermission, request, action: policy.Action) -> bool:
    if policy.may(request.user, action):
        return True
    # An anonymous request is told to authenticate (401) by DRF; the rest read what they lack.
    permission.message = policy.refusal(action, user=request.user)
    return False


def allowed(action: policy.Action) -> type[BasePermission]:
    """A permission class answering with `policy.may(user, action)`.

    For actions that also depend on the incident or the target status (a status change, an
    update that moves the incident), the view calls `policy.check` once it has both.
    """

    class Allowed(BasePermission):
        def has_permission(self, request, view):
            if action == policy.Action.MOVE:
                # The status is in the body: the view checks the move; here, seeing incidents.
                return _answer(self, request, policy.Action.VIEW)
            return _answer(self, request, action)

    Allowed.__name__ = f"May_{action.value}"
    return Allowed


def allowed_by_method(actions: dict[str, policy.Action]) -> type[BasePermission]:
    """One action per HTTP method (GET reads, POST writes...). HEAD, OPTIONS and methods not
    named ask GET's action (an unknown method then answers 405, not 403)."""

    class AllowedByMethod(BasePermission):
        def has_permission(self, request, view):
            return _answer(self, request, actions.get(request.method) or actions["GET"])

    return AllowedByMethod
