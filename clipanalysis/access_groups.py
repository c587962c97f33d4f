"""The groups that bundle permissions, one list each (the migrations and tests use them).

The API and the admin decide with the same Django model permissions
(``config.api.permissions``), so a group means the same on both:

- **Catalog systems** write products and images (add, change, delete) and read
  everything else; they do not review or activate models.
- **Reviewers** record verdicts and correct descriptions (``clipanalysis.review``).
- **Operators** also register and activate model versions (activation re-scores
  the whole catalog, so it has its own permission).
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db.models import Q

READ_EVERYTHING = [
    ("catalog", "view_product"),
    ("catalog", "view_productimage"),
    ("clipanalysis", "view_analysisresult"),
    ("clipanalysis", "view_reviewitem"),
    ("clipanalysis", "view_verdict"),
    ("clipanalysis", "view_modelversion"),
]
CATALOG_WRITERS_GROUP = "Catalog systems"
CATALOG_WRITER_PERMISSIONS = [
    *READ_EVERYTHING,
    ("catalog", "add_product"),
    ("catalog", "change_product"),
    ("catalog", "delete_product"),
    ("catalog", "add_productimage"),
    ("catalog", "change_productimage"),
    ("catalog", "delete_productimage"),
]
OPERATORS_GROUP = "Operators"
OPERATOR_PERMISSIONS = [
    *READ_EVERYTHING,
    ("clipanalysis", "add_modelversion"),
    ("clipanalysis", "change_modelversion"),
    ("clipanalysis", "activate_modelversion"),
]


def ensure_group(name: str, wanted: list[tuple[str, str]], apps=global_apps):
    """Create the group with exactly these permissions added (idempotent; migrations too).

    Permissions are created first: in a fresh database they otherwise appear
    only after all migrations ran.
    """
    for app_label in {app_label for app_label, _ in wanted}:
        app_config = apps.get_app_config(app_label)
        app_config.models_module = getattr(app_config, "models_module", None) or True
        create_permissions(app_config, verbosity=0, apps=apps)
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    group, _ = group_model.objects.get_or_create(name=name)
    query = Q()
    for app_label, codename in wanted:
        query |= Q(content_type__app_label=app_label, codename=codename)
    permissions = list(permission_model.objects.filter(query))
    missing = set(wanted) - {(p.content_type.app_label, p.codename) for p in permissions}
    if missing:
        raise LookupError(f"Permissions not found: {sorted(missing)}")
    group.permissions.add(*permissions)
    return group


def ensure_catalog_writers_group(apps=global_apps):
    return ensure_group(CATALOG_WRITERS_GROUP, CATALOG_WRITER_PERMISSIONS, apps)


def ensure_operators_group(apps=global_apps):
    return ensure_group(OPERATORS_GROUP, OPERATOR_PERMISSIONS, apps)
