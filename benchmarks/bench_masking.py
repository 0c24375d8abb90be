"""Static against dynamic masking: MLM and NSP loss curves of the same tiny BERT, same steps.

Usage:
    python benchmarks/bench_masking.py STATIC_ROOT DYNAMIC_ROOT [--steps 300] [--every 30]
        [--batch 16] [--size tiny] [--seed 0]

STATIC_ROOT and DYNAMIC_ROOT are pipeline output roots of the same corpus and
vocab, whose tfrecords stage ran with `tfrecords.masking: static` (the
default) and `dynamic`:

    python -m pipeline run --to tfrecords                  # output/demo
    python -m pipeline run --to tfrecords --set output_root=/tmp/masking-demo \\
        --set tfrecords.masking=dynamic

Each run is the trainer's own command (`python -m components.trainer`, one
CPU replica, the same settings and seed but the masking), in its own process.
The script reads the train and eval summaries the trainer writes
(TensorBoard event files) and prints, per summary window, the mean MLM and NSP
losses of both, then the eval figures after the last step (eval batches are
masked like the training ones: static records as written, dynamic ones by the
same seeded masking).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pathlib
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent


def scalars(log_dir: str) -> dict[str, dict[int, float]]:
    """{tag: {step: value}} of the event files under log_dir."""
    import tensorflow as tf

    out: dict[str, dict[int, float]] = {}
    for path in sorted(glob.glob(os.path.join(log_dir, "**", "events.out.tfevents.*"), recursive=True)):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                number = (
                    float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else value.simple_value
                )
                out.setdefault(value.tag, {})[event.step] = number
    return out


def train(root: str, masking: str, args, work: str) -> tuple[dict, dict]:
    """One trainer run -> (train scalars, its METRICS)."""
    data = os.path.join(root, "tfrecords", "bert-128")
    settings = {
        "model_type": "bert",
        "model_size": args.size,
        "train_steps": args.steps,
        "summary_every": args.every,
        "checkpoint_every": args.steps,
        "eval_steps": args.eval_steps,
        "global_batch_size": args.batch,
        "seed": args.seed,
        "masking": masking,
    }
    folder = os.path.join(work, masking)
    command = [sys.executable, "-m", "components.trainer", "--settings", json.dumps(settings)]
    command += [
        "--train",
        os.path.join(data, "Split-train", "*"),
        "--eval",
        os.path.join(data, "Split-eval", "*"),
    ]
    command += ["--vocab", os.path.join(root, "vocab", "bert", "vocab.txt"), "--cpu-replicas", "1"]
    command += ["--checkpoint-dir", f"{folder}/ckpt", "--export-dir", f"{folder}/export"]
    command += ["--log-dir", f"{folder}/logs"]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("METRICS ")]
    if done.returncode or not lines:
        sys.exit(f"{masking} run failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return scalars(os.path.join(folder, "logs", "train")), json.loads(lines[-1][len("METRICS ") :])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("static_root")
    parser.add_argument("dynamic_root")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--every", type=int, default=30, help="Steps per summary window.")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--eval-steps", type=int, default=10)
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        static, static_metrics = train(args.static_root, "static", args, work)
        dynamic, dynamic_metrics = train(args.dynamic_root, "dynamic", args, work)
    print(f"tiny BERT, global batch {args.batch}, {args.steps} steps, 1 CPU replica, seed {args.seed}")
    print(f"{'step':>5} {'static mlm':>10} {'dynamic mlm':>11} {'static nsp':>10} {'dynamic nsp':>11}")
    for step in sorted(static.get("mlm_loss", {})):
        print(
            f"{step:>5} {static['mlm_loss'][step]:>10.3f} {dynamic['mlm_loss'].get(step, float('nan')):>11.3f} "
            f"{static['nsp_loss'][step]:>10.3f} {dynamic['nsp_loss'].get(step, float('nan')):>11.3f}"
        )
    keys = ("eval_mlm_loss", "eval_mlm_accuracy", "eval_nsp_loss", "eval_nsp_accuracy", "examples_per_second")
    for name, metrics in (("static", static_metrics), ("dynamic", dynamic_metrics)):
        shown = {k: round(metrics[k], 4) for k in keys if isinstance(metrics.get(k), float | int)}
        print(f"{name}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
