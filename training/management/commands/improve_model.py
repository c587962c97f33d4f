from django.core.management.base import BaseCommand, CommandError

from clipanalysis.registry import active_model
from training.finetune_config import DEMO_RECIPE, PRETRAINED_RECIPE
from training.improvement import improve_model, install_schedules, recipe_for, remove_schedules
from training.management.commands._mix_options import (
    add_mix_arguments,
    heldout_fraction_from,
    mix_from,
)
from training.models import ImprovementRun


class Command(BaseCommand):
    help = (
        "The learning loop in one guarded step: export the verdicts (held-out products kept "
        "out), fine-tune the active model, compare the result with it on the held-out verdict "
        "set, and activate it only if the guard accepts it. The run is stored (admin: model "
        "improvement runs). --schedule installs the optional django-q2 schedules (weekly, and "
        "after IMPROVE_MODEL_AFTER_VERDICTS new verdicts), which run it in a worker."
    )

    def add_arguments(self, parser) -> None:
        recipes = (
            "Default: the active model's recipe ({demo} for the demo lineage, else {pretrained})."
        )
        named = (("epochs", int), ("batch_size", int), ("lr", float), ("anchor_weight", float))
        for name, kind in named:
            parser.add_argument(
                "--" + name.replace("_", "-"),
                type=kind,
                default=None,
                help=recipes.format(
                    demo=getattr(DEMO_RECIPE, name), pretrained=getattr(PRETRAINED_RECIPE, name)
                ),
            )
        parser.add_argument("--val-fraction", type=float, default=0.2)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--device", default="auto")
        parser.add_argument("--output", default=None, help="Default: MODELS_DIR/improvement-N.")
        add_mix_arguments(parser)
        parser.add_argument(
            "--schedule", action="store_true", help="Install the schedules; train nothing now."
        )
        parser.add_argument(
            "--unschedule", action="store_true", help="Remove the schedules; train nothing now."
        )

    def handle(self, *args, **options) -> None:
        if options["schedule"] or options["unschedule"]:
            if options["schedule"]:
                install_schedules()
                self.stdout.write("Scheduled improve_model: weekly, and after new verdicts.")
            else:
                self.stdout.write(f"Removed {remove_schedules()} improve_model schedule(s).")
            return
        try:
            config = recipe_for(
                active_model(),
                epochs=options["epochs"],
                batch_size=options["batch_size"],
                lr=options["lr"],
                anchor_weight=options["anchor_weight"],
                seed=options["seed"],
                device=options["device"],
            )
        except (TypeError, ValueError) as error:
            raise CommandError(str(error)) from None
        try:
            run = improve_model(
                config=config,
                mix=mix_from(options),
                heldout_fraction=heldout_fraction_from(options),
                val_fraction=options["val_fraction"],
                output_dir=options["output"],
                progress=options.get("verbosity", 1) > 1,
            )
        except Exception as error:
            raise CommandError(f"improve_model failed: {error}") from error
        if run.report.get("comparison_table"):
            self.stdout.write(run.report["comparison_table"])
        self.stdout.write(f"Run {run.pk}: {run.get_status_display()}. {run.message}")
        if run.status == ImprovementRun.Status.SKIPPED:
            raise CommandError(run.message)
