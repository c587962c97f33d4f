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


def run(*command: str) -> None:
    print(f"\n$ {' '.join(command)}", flush=True)
    subprocess.run([sys.executable, *command], cwd=ROOT, check=True, env=os.environ)


def main() -> None:
    demo_dir = os.environ.get("DEMO_MODEL_DIR", str(ROOT / "var" / "models" / "demo-clip"))
    run("benchmarks/scoring_throughput.py")
    if not (Path(demo_dir) / "config.json").is_file():
        run("manage.py", "build_demo_model", "--output", demo_dir)
    run(
        "manage.py",
        "evaluate_model",
        "--model",
        demo_dir,
        "--synthetic",
        "--seed",
        "777",
        "--n",
        "1000",
    )
    run("benchmarks/finetune_from_verdicts.py", "--model", demo_dir)


if __name__ == "__main__":
    main()
