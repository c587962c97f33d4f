"""The model-version table takes this app's name (a rename: rows and foreign keys stay).

Its content type moves with it, so permissions granted on it and admin history keep
pointing at the same rows.
"""

from django.db import migrations


def move_content_type(apps, schema_editor, source="training", target="clipanalysis"):
    content_types = apps.get_model("contenttypes", "ContentType")
    if content_types.objects.filter(app_label=target, model="modelversion").exists():
        return
    content_types.objects.filter(app_label=source, model="modelversion").update(app_label=target)


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, source="clipanalysis", target="training")


class Migration(migrations.Migration):
    dependencies = [
        ("clipanalysis", "0004_modelversion_moves_here"),
        ("training", "0004_modelversion_moves_to_clipanalysis"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelTable(name="modelversion", table=None),
        migrations.RunPython(move_content_type, move_content_type_back),
    ]
