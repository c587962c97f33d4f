from django.core.management.base import BaseCommand

from training.seeding import detection_report


class Command(BaseCommand):
    help = (
        "How well current results catch the demo catalog's deliberate mismatches; a product "
        "whose description a reviewer corrected is judged by its corrected text."
    )

    def handle(self, *args, **options) -> None:
        report = detection_report()
        auc = "n/a" if report.roc_auc is None else f"{report.roc_auc:.3f}"
        self.stdout.write(
            f"Scored {report.scored} synthetic products ({report.pending} not finished; "
            f"{report.corrected} judged by their reviewer-corrected text).\n"
            f"ROC-AUC of similarity (mismatch vs match): {auc}\n"
            f"Flagged as mismatch at the model threshold: precision {report.precision:.3f}, "
            f"recall {report.recall:.3f}, F1 {report.f1:.3f}"
        )
