"""Who may do what through the API: Django's model permissions, exactly as in the admin.

Reading takes an authenticated account (read-only tokens for dashboards).
Writing takes the permission the admin asks for the same change: POST
``add_<model>``, PUT/PATCH ``change_<model>``, DELETE ``delete_<model>`` (DRF's
``DjangoModelPermissions``, with reads open to every account). Being staff
grants nothing by itself. A view whose write touches more than one model names
its permissions (``required_permissions``); actions that are not plain writes
have their own: recording verdicts ``clipanalysis.review_item``, activating a
model ``clipanalysis.activate_modelversion``. Groups bundle them (migrations:
"Catalog systems", "Reviewers", "Operators").
"""

from __future__ import annotations

from rest_framework.exceptions import MethodNotAllowed
from rest_framework.permissions import SAFE_METHODS, BasePermission, DjangoModelPermissions

REVIEW_PERMISSION = "clipanalysis.review_item"
ACTIVATE_PERMISSION = "clipanalysis.activate_modelversion"


class ModelPermissions(DjangoModelPermissions):
    message = "This account may not make this change (it lacks the model permission)."
    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": [],
        "HEAD": [],
        "OPTIONS": [],
    }

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if getattr(view, request.method.lower(), None) is None:
            return True  # an undeclared method: the view answers 405
        return user.has_perms(self.required_for(request.method, view))

    def required_for(self, method: str, view) -> list[str]:
        named = getattr(view, "required_permissions", None) or {}
        if method in named:
            return list(named[method])
        if method in SAFE_METHODS:
            return []
        if method not in self.perms_map:
            raise MethodNotAllowed(method)
        model = getattr(view, "write_model", None) or view.get_queryset().model
        return self.get_required_permissions(method, model)


class HasPermission(BasePermission):
    """An authenticated account holding one named permission."""

    permission = ""

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.has_perm(self.permission))


class CanRecordVerdicts(HasPermission):
    permission = REVIEW_PERMISSION
    message = f"Recording verdicts needs the review permission ({REVIEW_PERMISSION})."


class CanActivateModels(HasPermission):
    permission = ACTIVATE_PERMISSION
    message = f"Activating a model needs its own permission ({ACTIVATE_PERMISSION})."
