"""Run every benchmark whose figures the README reports (takes ~35 minutes on 2 cores).

1. scoring throughput: quality checks and CLIP, fp32 vs bf16; catalog-scale scoring
   (model only vs the naive loop vs ``score_catalog``, re-score after an edit,
   near-duplicate look-up at growing catalog sizes, peak RSS at 1,000 and 10,000 images);
2. demo model: a fresh build (its time, against the 5-minute target), then ROC-AUC
   per mismatch type on 1,000 unseen synthetic pairs;
3. attribute explanations: 1,000 single-attribute swaps on the demo model, confusion
   table, with the default vocabularies and with the demo catalog's own words;
4. learning from verdicts: ~300 pattern-swap verdicts, fine-tune, before/after AUC;
   queue order: real problems among the first queued items of a 200-product demo catalog;
5. exposure: real photographs, their over- and under-exposed copies, demo packshots;
6. load: 16 clients on ``/upload`` under gunicorn for 30 s, SQLite (and PostgreSQL when
   ``DATABASE_URL`` names one).

The demo model is built afresh into a temporary directory (the build is seeded, so
it is the model ``serve`` builds), never taken from a cache that may be older.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The seed of the README's demo-model table: a synthetic set the build never saw.
DEMO_EVALUATION_SEED = "20251"


def run(*command: str) -> None:
    print(f"\n$ {' '.join(command)}", flush=True)
    subprocess.run([sys.executable, *command], cwd=ROOT, check=True, env=os.environ)


def main() -> None:
    run("benchmarks/scoring_throughput.py")
    run("benchmarks/catalog_scoring.py")
    with tempfile.TemporaryDirectory(prefix="benchmark-") as workdir:
        demo_dir = str(Path(workdir) / "demo-clip")
        run("manage.py", "build_demo_model", "--output", demo_dir)  # prints its time
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
        for vocabulary in ("default", "demo"):
            run(
                "benchmarks/attribute_explanations.py",
                "--model",
                demo_dir,
                "--vocabulary",
                vocabulary,
            )
        run("benchmarks/finetune_from_verdicts.py", "--model", demo_dir)
        run("benchmarks/demo_queue_order.py", "--model", demo_dir)
    run("benchmarks/exposure.py")
    run("benchmarks/upload_load.py", "--database", "sqlite", "--clients", "16", "--seconds", "30")
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        run(
            "benchmarks/upload_load.py",
            "--database",
            "postgres",
            "--clients",
            "16",
            "--seconds",
            "30",
        )


if __name__ == "__main__":
    main()
