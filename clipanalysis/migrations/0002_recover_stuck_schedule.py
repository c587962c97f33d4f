"""Run the stuck-work sweeper every minute through django-q2's scheduler."""

from django.db import migrations


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="recover_stuck_analyses",
        defaults={
            "func": "clipanalysis.tasks.recover_stuck",
            "schedule_type": "I",  # minutes
            "minutes": 1,
            "repeats": -1,
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="recover_stuck_analyses").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("clipanalysis", "0001_initial"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
