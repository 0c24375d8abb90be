"""Fine-tune and inference throughput (examples/s) of `python -m pipeline evaluate` per task.

Usage: python benchmarks/bench_evaluate.py --model EXPORT_DIR [--config pipeline.yaml] [--tasks ner,cls,qa]

Runs each task in-process on the demo data with pipeline.yaml's `evaluate:` settings (the
demo's: 4 epochs, batch 16, 128 tokens) and prints, per task, the seconds to load the model,
to fine-tune and to predict, and examples per second for both (QA counts windows: one
question over a long paragraph is several examples). TensorFlow's import is not counted.
The figures depend on how busy the CPU is: say so beside them.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="an export (or any model folder)")
    parser.add_argument("--config", default=str(ROOT / "pipeline.yaml"))
    parser.add_argument("--tasks", default="ner,cls,qa")
    args = parser.parse_args()
    from pipeline import logs

    logs.configure(verbose=False)  # before TensorFlow starts: the figures without library noise
    import tensorflow  # noqa: F401  (imported before the clock starts)

    from components.tasks.evaluate import run_task
    from pipeline.config import load_config, resolve_path

    config = load_config(args.config)
    settings = config.evaluate
    print(f"model {args.model}; cores {os.cpu_count()}; settings {settings}")
    print(
        f"{'task':<5}{'train ex':>9}{'test ex':>9}{'total s':>9}{'fit s':>8}{'predict s':>10}"
        f"{'train ex/s':>12}{'predict ex/s':>14}  score"
    )
    for task in args.tasks.split(","):
        started = time.perf_counter()
        report = run_task(task, args.model, resolve_path(config, getattr(settings, f"{task}_data")), settings)
        total = time.perf_counter() - started
        t, e = report["throughput"], report["examples"]
        score = {"cls": "accuracy", "ner": "f1", "qa": "f1"}[task]
        train_n = e.get("train_windows", e["train"])
        test_n = e.get("test_windows", e["test"])
        print(
            f"{task:<5}{train_n:>9}{test_n:>9}{total:>9.1f}{t['train_seconds']:>8.1f}{t['predict_seconds']:>10.1f}"
            f"{t['train_examples_per_second']:>12.1f}{t['predict_examples_per_second']:>14.1f}"
            f"  {score} {report[score]} (baseline {report['baseline'][score if task != 'qa' else 'f1']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
