"""Stage `tfrecords`: BERT instances per second and MB/s of morpheme text per core, at 1x and 10x.

    .venv/bin/python benchmarks/bench_tfrecords.py [--vocab output/demo/vocab/bert/vocab.txt] [--scales 1,10]
        [--dupe-factor 10,1] [--masking static,dynamic] [--output bert-128] [--morph DIR]

`--masking dynamic` writes each instance once, unmasked (dupe_factor is then
not used: one run per scale); `--output electra-128` measures the ELECTRA
output instead (no masking, no dupe factor). Together they give the share of
each output in the stage's cost (docs/dataflow.md's projection).

Copies the demo corpus's morph shards `scale` times (each copy a new set of
publications), keeps the documents per bucket constant (num_buckets = 8 x scale; 8 shards
whatever the scale: the shard writers stream), and runs the stage's `BuildPretrainingRecords` for bert-128 (dupe_factor
10 and 1, GZIP) on DirectRunner in_memory with one worker, in a child
process per scale. Prints wall and CPU seconds, instances/s and MB/s of
morpheme text per CPU second, the process's peak RSS (DirectRunner in_memory
runs everything in this one process; the exchanges go through scratch files,
so this should stay flat), and the peak Python allocation while one bucket is
built (tracemalloc: the working set a worker holds). Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc

from pipeline import layout
from pipeline.config import TfrecordsConfig
from pipeline.io import filesystems
from pipeline.stages import tfrecords as R

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

DEMO = os.path.join(REPO, "output", "demo", "morph", "sentences")


def demo_rows(morph: str = DEMO) -> list[dict]:
    """Every row of the demo corpus's morph shards."""
    return [
        r
        for p in filesystems.list_files(os.path.join(morph, "part-*.parquet"))
        for r in filesystems.iter_parquet_rows(p)
    ]


def scaled_corpus(folder: str, scale: int, morph: str = DEMO) -> float:
    """Demo morph rows copied `scale` times into 8 shards; returns MB of morpheme text."""
    rows = demo_rows(morph)
    writers = [
        filesystems.ParquetShardWriter(
            filesystems.shard_path(folder, "part", i, 8, ".parquet"), layout.morph_schema()
        )
        for i in range(8)
    ]
    size = 0
    for copy in range(scale):
        for row in rows:
            doc_id = f"{row['doc_id']}-{copy}"
            writers[filesystems.stable_shard(doc_id, 8)].add([{**row, "doc_id": doc_id}])
            size += len(row["morphemes"].encode("utf-8")) + 1
    for w in writers:
        w.close()
    return size / 1e6


def bucket_working_set(folder: str, vocab: str, config: TfrecordsConfig, scratch: str) -> tuple[float, int]:
    """Peak MB allocated while building the largest bucket's examples (tracemalloc)."""
    spec = layout.output_specs(config)[0]
    fn = R.TokenizeSentences(vocab, config, spec.flavour == "bert", scratch)  # as the stage does
    fn.setup()
    buckets: dict = {}
    for path in filesystems.list_files(os.path.join(folder, "part-*.parquet")):
        for key, ref in fn.process(path):
            buckets.setdefault(key, []).append(ref)
    key = max(buckets, key=lambda k: sum(ref.size for ref in buckets[k]))
    num_shards = {"train": config.num_shards, "eval": config.eval_num_shards}
    build = R.BuildExamples(spec, vocab, config, num_shards, scratch)
    build.setup()
    tracemalloc.start()
    made = sum(count for _, count, _ in build.process((key, buckets[key])))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 1e6, made


def run_scale(
    scale: int,
    vocab: str,
    dupe_factor: int = 10,
    shards: int = 0,
    masking: str = "static",
    output: str = "bert-128",
    morph: str = DEMO,
) -> dict:
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    tmp = tempfile.mkdtemp(prefix="bench_tfrecords_")
    folder = os.path.join(tmp, "morph")
    os.makedirs(folder)
    mb = scaled_corpus(folder, scale, morph)
    config = TfrecordsConfig(
        outputs=(output,),
        num_buckets=8 * scale,
        num_shards=shards or 8 * scale,
        eval_percent=0.0,
        dupe_factor=dupe_factor,
        masking=masking,
    )
    spec = layout.output_specs(config)[0]
    options = PipelineOptions(
        ["--runner=DirectRunner", "--direct_running_mode=in_memory", "--direct_num_workers=1"]
    )
    cpu0, t0 = time.process_time(), time.perf_counter()
    with beam.Pipeline(options=options) as p:
        _ = p | R.BuildPretrainingRecords(os.path.join(folder, "part-*.parquet"), vocab, spec, config, tmp)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    # Before TensorFlow's import (~700 MB) hides the pipeline's own peak.
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    import tensorflow as tf

    files = filesystems.list_files(os.path.join(tmp, output, "Split-train", "*.gz"))
    instances = sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP"))
    working_set, bucket_instances = bucket_working_set(folder, vocab, config, os.path.join(tmp, "ws"))
    return {
        "output": output,
        "masking": masking if spec.flavour == "bert" else None,
        "scale": scale,
        "dupe_factor": dupe_factor if spec.flavour == "bert" and masking == "static" else None,
        "morpheme_mb": round(mb, 2),
        "instances": instances,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "instances_per_cpu_s": round(instances / cpu),
        "mb_per_cpu_s": round(mb / cpu, 3),
        "peak_rss_mb": round(peak_rss),
        "bucket_working_set_mb": round(working_set, 1),
        "bucket_instances": bucket_instances,
    }


def child_result(command: list[str]) -> dict:
    """Run a benchmark's child process; its last line of output is its JSON result."""
    out = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", default=os.path.join(REPO, "output", "demo", "vocab", "bert", "vocab.txt"))
    parser.add_argument("--scales", default="1,10")
    parser.add_argument("--dupe-factor", default="10,1", help="comma-separated: one run per value and scale")
    parser.add_argument("--shards", type=int, default=8, help="train shards (0: 8 x scale)")
    parser.add_argument("--masking", default="static", help="comma-separated: static, dynamic")
    parser.add_argument("--output", default="bert-128", help="bert-128 or electra-128")
    parser.add_argument("--morph", default=DEMO, help="morph/sentences folder to copy")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    random.seed(0)
    if args.one:
        result = run_scale(
            args.one, args.vocab, int(args.dupe_factor), args.shards, args.masking, args.output, args.morph
        )
        print(json.dumps(result))
        return 0
    runs = []
    for masking in args.masking.split(","):
        if masking == "dynamic" or not args.output.startswith("bert"):
            runs.append((masking, "1"))  # no copies: the dupe factor is not used
        else:
            runs += [(masking, d) for d in args.dupe_factor.split(",")]
    for masking, dupe_factor in runs:
        results = []
        for scale in map(int, args.scales.split(",")):
            command = [sys.executable, __file__, "--one", str(scale), "--vocab", args.vocab]
            command += ["--shards", str(args.shards), "--masking", masking, "--output", args.output]
            command += ["--morph", args.morph]
            results.append(child_result([*command, "--dupe-factor", dupe_factor]))
            print(results[-1], flush=True)
        if len(results) >= 2:
            a, b = results[0], results[-1]
            print(
                f"{args.output} {a['masking'] or ''} dupe_factor {a['dupe_factor']}, "
                f"{b['scale']}x vs {a['scale']}x: "
                f"throughput {b['mb_per_cpu_s'] / a['mb_per_cpu_s']:.2f}x, "
                f"bucket working set {b['bucket_working_set_mb'] / a['bucket_working_set_mb']:.2f}x, "
                f"process RSS {b['peak_rss_mb'] / a['peak_rss_mb']:.2f}x",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
