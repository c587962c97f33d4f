"""Run every benchmark whose figures the README reports (takes ~15 minutes on 2 cores).

1. scoring throughput: quality checks and CLIP, fp32 vs bf16;
2. demo-model quality: ROC-AUC per mismatch type on 1,000 unseen synthetic pairs
   (builds the demo model first if it is missing);
3. learning from verdicts: ~300 pattern-swap verdicts, fine-tune, before/after AUC.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The seed of the README's demo-model table: a synthetic set the build never saw.
DEMO_EVALUATION_SEED = "20251"


def run(*command: str) -> None:
    print(f"\n$ {' '.join(command)}", flush=True)
    subprocess.run([sys.executable, *command], cwd=ROOT, check=True, env=os.environ)


def demo_model_dir() -> str:
    """``settings.DEMO_MODEL_DIR``, where ``serve`` and ``build_demo_model`` keep the model."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django
    from django.conf import settings

    django.setup()
    return str(settings.DEMO_MODEL_DIR)


def main() -> None:
    demo_dir = demo_model_dir()
    run("benchmarks/scoring_throughput.py")
    run("manage.py", "build_demo_model")  # once: an existing model is kept
    run(
        "manage.py",
        "evaluate_model",
        "--model",
        demo_dir,
        "--synthetic",
        "--seed",
        DEMO_EVALUATION_SEED,
        "--n",
        "1000",
    )
    run("benchmarks/finetune_from_verdicts.py", "--model", demo_dir)


if __name__ == "__main__":
    main()
