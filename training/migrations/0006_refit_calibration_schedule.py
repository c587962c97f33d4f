"""Refit the active model's calibration hourly once enough new verdicts arrived."""

from django.db import migrations


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="refit_calibration_after_new_verdicts",
        defaults={
            "func": "training.calibration.refit_after_new_verdicts",
            "schedule_type": "H",  # hourly
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(
        name="refit_calibration_after_new_verdicts"
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("training", "0005_improvement_run")]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
