"""GPU pretraining throughput: BERT-base / ELECTRA-base at seq 128 and 512, mixed precision + XLA.

Usage:
    python benchmarks/bench_gpu_train.py [ROOT] [--models bert,electra] [--seq 128,512]
        [--size base] [--batch-per-gpu 32] [--steps 100] [--warmup-steps 10]
        [--mixed on|off] [--xla on|off] [--masking static|dynamic]

ROOT is a pipeline output root holding tfrecords/<model>-<seq>/Split-train/
and vocab/{bert,electra}/vocab.txt (default output/demo). The demo writes
bert-128 and electra-128; for seq 512 run it with all four outputs:

    python -m pipeline run --to tfrecords \\
        --set 'tfrecords.outputs=[bert-128,bert-512,electra-128,electra-512]'

Everything runs in this process under the trainer's strategy
(components/trainer/strategy.make_strategy: MirroredStrategy over every
visible GPU), with the trainer's own pieces: settings, vocab check, input
pipeline (inputs.distributed_dataset, dynamic masking included), model and
optimizer (train.build_for_training) and training step
(train.make_train_window, XLA on the forward and backward pass with --xla).
For each (model, seq): `--warmup-steps` steps (tracing, XLA compilation,
the shuffle buffer), then `--steps` timed steps in one tf.function; then the
input pipeline alone for the same number of batches. It prints sequences/s
in all and per GPU, the input pipeline's own rate and input / model (the
input must stay well above 1), and the last loss (finite: it trained).

Reference, beside the figures: NVIDIA's TF2 BERT examples report ~206
sequences/s per V100 and ~486 per A100 for BERT-Large phase 1 (seq 128)
with AMP. BERT-base has about a third of BERT-Large's parameters and compute
per sequence, so expect roughly three times those rates at seq 128.

On a machine without GPUs it runs on CPU (tests/components/test_train_dynamic.py
runs a tiny model for a few steps), so the script is known to work before a
GPU is lent.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pathlib
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent

VOCAB = {"bert": "vocab/bert/vocab.txt", "electra": "vocab/electra/vocab.txt"}
# NVIDIA DeepLearningExamples, TensorFlow2 BERT, pretraining phase 1 (BERT-Large, seq 128, AMP).
REFERENCE = "NVIDIA TF2 BERT-Large phase 1, AMP: ~206 seq/s per V100, ~486 seq/s per A100"


def input_rate(strategy, settings, patterns, special, steps: int) -> float:
    """Global sequences/s of the distributed training dataset alone (masking included)."""
    import tensorflow as tf

    from components.trainer import inputs

    iterator = iter(inputs.distributed_dataset(strategy, patterns, settings, True, special))

    def tokens(features):
        return tf.reduce_sum(tf.cast(features["input_mask"], tf.int64))

    @tf.function
    def pull(iterator, n):
        total = tf.constant(0, tf.int64)
        for _ in tf.range(n):
            per_replica = strategy.run(tokens, (next(iterator),))
            total += strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)
        return total

    pull(iterator, tf.constant(max(steps // 2, 2)))  # trace, fill the shuffle buffer
    t0 = time.perf_counter()
    pull(iterator, tf.constant(steps)).numpy()
    return steps * settings.global_batch_size / (time.perf_counter() - t0)


def max_predictions(model: str, seq: int) -> int:
    """What the tfrecords stage writes (Google's 20 / 76) or ELECTRA masks (int(0.155 * seq))."""
    from pipeline.layout import DEFAULT_MAX_PREDICTIONS

    if model == "bert":
        return DEFAULT_MAX_PREDICTIONS.get(seq, round(seq * 0.15))
    return int((0.15 + 0.005) * seq)


def run_one(args, model: str, seq: int) -> dict | None:
    import tensorflow as tf
    import tf_keras

    from components.trainer.settings import TrainSettings
    from components.trainer.strategy import make_strategy
    from components.trainer.train import build_for_training, make_train_window, resolve_vocab

    data = os.path.join(args.root, "tfrecords", f"{model}-{seq}", "Split-train", "*")
    if not tf.io.gfile.glob(data):
        print(f"skip {model}-{seq}: no records at {data}", flush=True)
        return None
    tf_keras.backend.clear_session()
    strategy = make_strategy()
    replicas = strategy.num_replicas_in_sync
    gpus = len(tf.config.list_logical_devices("GPU"))
    mixed = args.mixed == "on"
    tf_keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    settings = TrainSettings(
        model_type=model,
        model_size=args.size,
        seq_length=seq,
        max_predictions=max_predictions(model, seq),
        train_steps=args.warmup_steps + args.steps,
        warmup_steps=min(args.warmup_steps, args.warmup_steps + args.steps - 1),
        eval_steps=0,
        global_batch_size=args.batch_per_gpu * replicas,
        mixed_precision=args.mixed,
        masking=args.masking if model == "bert" else "static",
        shuffle_buffer=args.shuffle_buffer,
        seed=args.seed,
    )
    settings, _, special = resolve_vocab(settings, os.path.join(args.root, VOCAB[model]))
    with strategy.scope():
        pretrainer, _, _, optimizer = build_for_training(settings, mixed)
    window = make_train_window(settings, strategy, pretrainer, optimizer, mixed, jit_compile=args.xla == "on")
    iterator = iter(inputs_dataset(strategy, data, settings, special))
    t0 = time.perf_counter()
    window(iterator, tf.constant(args.warmup_steps))["loss"].numpy()
    warmup_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    totals = window(iterator, tf.constant(args.steps))
    loss = float(totals["loss"]) / args.steps
    seconds = time.perf_counter() - t0
    model_rate = args.steps * settings.global_batch_size / seconds
    in_rate = input_rate(strategy, settings, data, special, args.steps)
    return {
        "model": model,
        "size": args.size,
        "seq": seq,
        "masking": settings.masking,
        "replicas": replicas,
        "gpus": gpus,
        "global_batch": settings.global_batch_size,
        "steps": args.steps,
        "mixed": mixed,
        "xla": args.xla == "on",
        "warmup_s": round(warmup_s, 1),
        "seq_per_s": model_rate,
        "seq_per_s_per_device": model_rate / replicas,
        "input_seq_per_s": in_rate,
        "input_over_model": in_rate / model_rate,
        "loss": loss,
    }


def inputs_dataset(strategy, data, settings, special):
    from components.trainer import inputs

    return inputs.distributed_dataset(strategy, data, settings, True, special, seed=settings.seed)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", nargs="?", default=str(ROOT / "output" / "demo"))
    parser.add_argument("--models", default="bert,electra")
    parser.add_argument("--seq", default="128,512", help="Sequence lengths, comma-separated.")
    parser.add_argument("--size", default="base", choices=("tiny", "small", "base"))
    parser.add_argument("--batch-per-gpu", type=int, default=32, help="Per replica (GPU, or CPU).")
    parser.add_argument("--steps", type=int, default=100, help="Timed steps.")
    parser.add_argument("--warmup-steps", type=int, default=10, help="Untimed steps first (compilation).")
    parser.add_argument("--mixed", default="on", choices=("on", "off"), help="mixed_float16.")
    parser.add_argument("--xla", default="on", choices=("on", "off"), help="XLA on the replica step.")
    parser.add_argument("--masking", default="static", choices=("static", "dynamic"))
    parser.add_argument("--shuffle-buffer", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cpu-replicas", type=int, default=1, help="Logical CPUs when there is no GPU.")
    args = parser.parse_args(argv)

    from components.trainer.strategy import configure_devices

    configure_devices(args.cpu_replicas)  # before TensorFlow starts; no effect with GPUs
    import tensorflow as tf

    devices = [d.physical_device_desc or d.name for d in tf.config.list_logical_devices("GPU")]
    print(f"data {args.root}; GPUs: {len(devices)} {devices or '(none: CPU)'}", flush=True)
    print(
        f"{'model':8} {'size':5} {'seq':>4} {'mask':8} {'dev':>3} {'batch':>5} {'seq/s':>9} "
        f"{'seq/s/dev':>9} {'input/s':>9} {'in/model':>8} {'loss':>7}"
    )
    results = []
    for model in args.models.split(","):
        for seq in (int(s) for s in args.seq.split(",")):
            r = run_one(args, model, seq)
            if r is None:
                continue
            results.append(r)
            print(
                f"{r['model']:8} {r['size']:5} {r['seq']:>4} {r['masking']:8} {r['replicas']:>3} "
                f"{r['global_batch']:>5} {r['seq_per_s']:>9.1f} {r['seq_per_s_per_device']:>9.1f} "
                f"{r['input_seq_per_s']:>9.1f} {r['input_over_model']:>8.1f} {r['loss']:>7.3f}",
                flush=True,
            )
    print(f"reference: {REFERENCE}")
    print("RESULT " + json.dumps(results), flush=True)
    return 0 if results and all(math.isfinite(r["loss"]) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
