"""Who may do what through the API.

Everyone authenticated reads (read-only tokens for dashboards). Writing takes
a writer: staff, a member of the "Catalog systems" group, or a user holding
the model's add/change/delete permission. Verdicts take the review
permission; activating a model takes staff.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

WRITER_GROUP = "Catalog systems"
METHOD_ACTIONS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def in_writer_group(user) -> bool:
    """Cached on the user object: one query per request, not one per check."""
    cached = getattr(user, "_in_catalog_writer_group", None)
    if cached is None:
        cached = user.groups.filter(name=WRITER_GROUP).exists()
        user._in_catalog_writer_group = cached
    return cached


def may_write(user, model, method: str) -> bool:
    if not (user and user.is_authenticated):
        return False
    if user.is_staff or user.is_superuser or in_writer_group(user):
        return True
    action = METHOD_ACTIONS.get(method.upper(), "change")
    opts = model._meta
    return user.has_perm(f"{opts.app_label}.{action}_{opts.model_name}")


class CatalogWriteAccess(BasePermission):
    """Reads for any authenticated user; writes for writers (also per object)."""

    message = "This token may only read; writing needs a catalog-system (writer) account."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        return may_write(request.user, write_model(view), request.method)

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return may_write(request.user, type(obj), request.method)


def write_model(view):
    model = getattr(view, "write_model", None)
    if model is None:
        model = view.get_queryset().model
    return model


class CanRecordVerdicts(BasePermission):
    message = "Recording verdicts needs the review permission (clipanalysis.review_item)."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return user.is_staff or user.has_perm("clipanalysis.review_item")


class IsStaff(BasePermission):
    message = "Only staff may do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)
