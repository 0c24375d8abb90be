"""Input pipeline vs model throughput of the tiny BERT / ELECTRA trainer.

Usage: python benchmarks/bench_train.py [ROOT] [--steps N] [--batch B] [--flavours bert,electra]
        [--masking static|dynamic]

ROOT is a pipeline output root holding tfrecords/{bert,electra}-128/ and
vocab/ (default output/demo, written by `python -m pipeline run`). For 1 and
2 replicas (logical CPU devices under MirroredStrategy when there is no GPU),
each in its own subprocess because devices can be split only before
TensorFlow initialises:

- input examples/s: the distributed training dataset alone (parse, shuffle,
  ELECTRA's dynamic masking, and BERT's with `--masking dynamic`, whose ROOT
  then holds records written with `tfrecords.masking: dynamic`; split across
  replicas), N global batches pulled
  inside one tf.function after a warm-up that fills the shuffle buffer;
- model examples/s: `train()`'s own figure for N training steps (input
  included, the first window with its tracing excluded).

The input pipeline must never be the bottleneck: ratio = input / model
should stay well above 1.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

VOCAB = {"bert": "vocab/bert/vocab.txt", "electra": "vocab/electra/vocab.txt"}


def input_rate(strategy, settings, patterns, special, steps: int) -> float:
    """Global examples/s of the distributed training dataset alone."""
    import tensorflow as tf

    from components.trainer import inputs

    iterator = iter(inputs.distributed_dataset(strategy, patterns, settings, True, special))

    @tf.function
    def pull(iterator, n):
        total = tf.constant(0, tf.int64)
        for _ in tf.range(n):
            per_replica = strategy.run(
                lambda f: tf.reduce_sum(tf.cast(f["input_mask"], tf.int64)), (next(iterator),)
            )
            total += strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        return total

    pull(iterator, tf.constant(max(steps // 2, 5)))  # trace, fill the shuffle buffer
    t0 = time.perf_counter()
    pull(iterator, tf.constant(steps)).numpy()
    return steps * settings.global_batch_size / (time.perf_counter() - t0)


def child(args) -> None:
    from components.trainer.strategy import configure_devices

    configure_devices(args.replicas)
    from components.trainer.settings import TrainSettings
    from components.trainer.strategy import make_strategy
    from components.trainer.train import resolve_vocab, train

    results = []
    for flavour in args.flavours.split(","):
        data = os.path.join(args.root, "tfrecords", f"{flavour}-128", "Split-train", "*")
        settings = TrainSettings(
            model_type=flavour,
            train_steps=args.steps,
            summary_every=max(args.steps // 5, 1),
            checkpoint_every=args.steps,
            eval_steps=0,
            global_batch_size=args.batch,
            masking=args.masking if flavour == "bert" else "static",
        )
        settings, _, special = resolve_vocab(settings, os.path.join(args.root, VOCAB[flavour]))
        strategy = make_strategy()
        rate_in = input_rate(strategy, settings, data, special, args.steps)
        with tempfile.TemporaryDirectory() as tmp:
            metrics = train(settings, data, [], f"{tmp}/ckpt", f"{tmp}/export", f"{tmp}/logs")
        results.append(
            {
                "flavour": flavour,
                "replicas": metrics["replicas"],
                "strategy": metrics["strategy"],
                "input_examples_per_s": rate_in,
                "model_examples_per_s": metrics["examples_per_second"],
            }
        )
    print("RESULT " + json.dumps(results), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", nargs="?", default=str(ROOT / "output" / "demo"))
    parser.add_argument("--steps", type=int, default=100, help="Timed steps (global batches).")
    parser.add_argument("--batch", type=int, default=16, help="Global batch size.")
    parser.add_argument("--flavours", default="bert,electra")
    parser.add_argument("--masking", default="static", choices=("static", "dynamic"), help="BERT records")
    parser.add_argument("--replicas", type=int, help=argparse.SUPPRESS)  # child mode
    args = parser.parse_args(argv)
    if args.replicas:
        return child(args)

    print(
        f"tiny models, global batch {args.batch}, {args.steps} steps, data {args.root}, "
        f"BERT masking {args.masking}"
    )
    print(f"{'flavour':8} {'replicas':>8} {'input ex/s':>11} {'model ex/s':>11} {'input/model':>12}")
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    for replicas in (1, 2):
        command = [
            sys.executable,
            __file__,
            args.root,
            "--steps",
            str(args.steps),
            "--batch",
            str(args.batch),
        ]
        command += ["--flavours", args.flavours, "--replicas", str(replicas), "--masking", args.masking]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
        if done.returncode or not lines:
            sys.exit(f"replicas={replicas} failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
        for r in json.loads(lines[-1][len("RESULT ") :]):
            ratio = r["input_examples_per_s"] / r["model_examples_per_s"]
            print(
                f"{r['flavour']:8} {r['replicas']:>8} {r['input_examples_per_s']:>11.0f} "
                f"{r['model_examples_per_s']:>11.0f} {ratio:>12.1f}"
            )


if __name__ == "__main__":
    main()
