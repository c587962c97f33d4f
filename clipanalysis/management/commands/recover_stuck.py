from django.core.management.base import BaseCommand

from clipanalysis.pipeline import recover_stuck


class Command(BaseCommand):
    help = "Re-enqueue analyses whose worker died; fail those out of attempts."

    def handle(self, *args, **options) -> None:
        outcome = recover_stuck()
        self.stdout.write(f"Re-enqueued {outcome['requeued']}, failed {outcome['failed']}.")
