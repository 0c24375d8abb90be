"""Seconds and peak memory of exporting an untrained base-size model in all three formats.

Usage: python benchmarks/bench_export.py [--flavour bert|electra] [--vocab-size 21400] [--out DIR]

Builds KorPatBERT's BERT-base (12 layers, hidden 768, 12 heads, vocab 21,400:
~110M parameters) untrained, float32, on CPU, then times the trainer's
export (`components.trainer.train.export_encoder`): saved_model/, the
object-based checkpoints, config.json, google/ (Google-named checkpoint) and
hf/ (model.safetensors, tokenizer files, model card). Each flavour runs in a
child process so that its peak RSS (ru_maxrss) is its own; the figure
includes TensorFlow and the model itself. Target: under 60 s and 3 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(flavour: str, vocab_size: int, out: str) -> dict:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from components.model_formats.package import dummy_features
    from components.trainer.models import build_pretrainer
    from components.trainer.settings import TrainSettings
    from components.trainer.train import export_encoder, model_config

    os.makedirs(out, exist_ok=True)
    vocab = os.path.join(out, "vocab.txt")
    with open(vocab, "w", encoding="utf-8") as f:
        f.write(
            "\n".join(
                ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"t{i}" for i in range(vocab_size - 5)]
            )
        )
        f.write("\n")
    settings = TrainSettings(model_type=flavour, model_size="base", vocab_size=vocab_size, vocab_path=vocab)
    t0 = time.time()
    model, encoder = build_pretrainer(settings)
    model(dummy_features(), training=False)
    built = time.time() - t0
    parameters = int(sum(v.shape.num_elements() for v in model.weights))
    rss_built = rss_mb()
    export = os.path.join(out, "export")
    t0 = time.time()
    export_encoder(encoder, model_config(settings), export, 0, 128, vocab, {}, model, settings)
    seconds = time.time() - t0
    sizes = {}
    for sub in ("saved_model", "checkpoint", "google", "hf"):
        folder = os.path.join(export, sub)
        sizes[sub] = round(
            sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(folder) for n in names)
            / 2**20,
            1,
        )
    return {
        "flavour": flavour,
        "parameters": parameters,
        "build_seconds": round(built, 1),
        "export_seconds": round(seconds, 1),
        "peak_rss_mb_after_build": round(rss_built),
        "peak_rss_mb": round(rss_mb()),
        "sizes_mb": sizes,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flavour", default="bert", help="bert, electra or bert,electra")
    parser.add_argument("--vocab-size", type=int, default=21400)
    parser.add_argument("--out", default=None, help="Scratch folder (default: a temp folder, removed).")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.vocab_size, args.out)))
        return 0
    for flavour in args.flavour.split(","):
        scratch = args.out or tempfile.mkdtemp(prefix="bench_export_")
        try:
            command = [sys.executable, __file__, "--one", flavour, "--vocab-size", str(args.vocab_size)]
            done = subprocess.run(
                [*command, "--out", os.path.join(scratch, flavour)], capture_output=True, text=True
            )
            if done.returncode:
                print(done.stderr[-3000:], file=sys.stderr)
                return done.returncode
            print(done.stdout.strip().splitlines()[-1], flush=True)
        finally:
            if not args.out:
                shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
