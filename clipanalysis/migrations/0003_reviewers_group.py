"""The "Reviewers" group: review the queue and record verdicts, never delete products."""

from django.db import migrations


def create_reviewers_group(apps, schema_editor):
    # Imported here: the group's permissions have one home, shared with the tests' fixtures.
    from clipanalysis.review import ensure_reviewers_group

    ensure_reviewers_group(apps)


def remove_reviewers_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Reviewers").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("clipanalysis", "0002_recover_stuck_schedule"),
        ("catalog", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_reviewers_group, remove_reviewers_group)]
