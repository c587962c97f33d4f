from django.core.management.base import BaseCommand, CommandError

from clipanalysis import vocabularies
from clipanalysis.models import AttributeFamily
from clipanalysis.pipeline import reexplain


class Command(BaseCommand):
    help = (
        "Re-explain current results after an attribute-vocabulary edit, from stored image "
        "embeddings (no image-encoder call)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--family",
            action="append",
            dest="families",
            metavar="NAME",
            help="Only results this family affects (colour, material, …); repeatable. "
            "Default: every current result.",
        )

    def handle(self, *args, families=None, **options) -> None:
        if families:
            known = set(AttributeFamily.objects.values_list("name", flat=True)) or set(
                vocabularies.DEFAULT_FAMILIES
            )
            unknown = sorted(set(families) - known)
            if unknown:
                raise CommandError(
                    f"Unknown attribute family {unknown[0]!r}; choose from {sorted(known)}."
                )
        counts = reexplain(families)
        self.stdout.write(
            f"Re-explained {counts['reexplained']} result(s), {counts['changed']} changed, "
            f"{counts['skipped']} skipped (no stored embedding)."
        )
