"""Refit every model's calibration from reviewer verdicts once a day (django-q2 scheduler)."""

from django.db import migrations


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="fit_calibrations",
        defaults={
            "func": "training.calibration.fit_calibrations",
            "schedule_type": "D",  # daily
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="fit_calibrations").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0002_synthetic_truth"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
