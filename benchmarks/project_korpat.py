"""KorPatBERT's corpus, raw XML to TFRecords on Dataflow, projected from measured costs.

    .venv/bin/python benchmarks/project_korpat.py [--vocab-training-s S] [--startup-s 240]

Wall time at 64, 256 and 1024 vCPUs for 4,065,519 publications, one job per
stage against one fused job (`runner.jobs`), static against dynamic masking:

    wall = jobs x start-up + distributed vCPU-seconds / vCPUs + central steps

- distributed: each stage's marginal CPU cost per publication between 10k and
  100k synthetic publications (`benchmarks/bench_scaling.py --sizes
  1000,10000,100000`, 2 cores; the seconds below are its table in
  docs/dataflow.md), ideal scaling over the vCPUs. vocab's row (its sample,
  and its training on a sample that grows up to the cap) is counted here in
  full, an upper bound. tfrecords with `masking: dynamic` costs 0.35 of the
  static stage (`benchmarks/bench_tfrecords.py --masking static,dynamic`).
- central: steps more vCPUs do not shorten, each at the caps of a
  KorPatBERT-size run: noun scoring at `nouns.max_eojeols` (5M eojeols), the
  critical path of its 64 partition tasks (`benchmarks/bench_nouns.py
  partitions --eojeols 5000000 --partitions 64 --check`: the longest task of
  each pass, the compound parts' merge and the final write; one process on
  everything took 18x as long); the dictionary stage's whole time at 100k
  (31.6 s, which holds its compile and check); and vocab training at
  `vocab.sample_sentences` (5M sentences; `--vocab-training-s`, from
  `benchmarks/bench_vocab.py` scaled by sentences).
- start-up: Dataflow's worker pool per job, 4 minutes (a typical figure, not
  measured here: there is no cloud).
"""

from __future__ import annotations

import argparse

KORPAT_PUBLICATIONS = 4_065_519
CORES = 2  # the machine bench_scaling measured on

# bench_scaling.py --sizes 1000,10000,100000: seconds at 10k and 100k publications
# (docs/dataflow.md; ingest and clean 7 Dec, the others 24-25 Nov).
STAGE_SECONDS = {
    "ingest": (19.9, 93.1),
    "clean": (61.8, 457.6),
    "nouns": (9.3, 21.3),
    "dictionary": (15.6, 31.6),
    "morph": (34.0, 241.2),
    "vocab": (65.3, 437.6),
    "tfrecords": (157.1, 1306.9),
}
DYNAMIC_SHARE = 0.35  # tfrecords' marginal cost with masking: dynamic, against static
# bench_nouns.py partitions --eojeols 5000000 --partitions 64 --check (7 Dec 23:22-23:52 UTC,
# nothing else running): soynlp's scoring at nouns.max_eojeols as the stage runs it, a task
# per partition; one process on all eojeols took 509.1 s (the same nouns).
NOUN_SCORING_S = 27.1
DICTIONARY_S = 31.6  # the dictionary stage's whole time at 100k
VOCAB_TRAINING_S = 0.0  # set by --vocab-training-s


def vcpu_seconds(stage: str, masking: str) -> float:
    small, large = STAGE_SECONDS[stage]
    per_doc = (large - small) * CORES / 90_000
    seconds = per_doc * KORPAT_PUBLICATIONS
    return seconds * DYNAMIC_SHARE if stage == "tfrecords" and masking == "dynamic" else seconds


def project(vcpus: int, jobs: int, masking: str, central_s: float, startup_s: float) -> float:
    distributed = sum(vcpu_seconds(stage, masking) for stage in STAGE_SECONDS)
    return (jobs * startup_s + distributed / vcpus + central_s) / 3600


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--vocab-training-s", type=float, required=True, help="vocab training at 5M sentences"
    )
    parser.add_argument("--startup-s", type=float, default=240.0)
    args = parser.parse_args(argv)
    central = {
        "noun scoring (5M eojeols, 64 partitions)": NOUN_SCORING_S,
        "dictionary (compile and check)": DICTIONARY_S,
        "vocab training (5M sentences)": args.vocab_training_s,
    }
    print(f"{KORPAT_PUBLICATIONS:,} publications; start-up {args.startup_s:.0f} s per job")
    print("distributed vCPU-hours:")
    for stage in STAGE_SECONDS:
        static, dynamic = vcpu_seconds(stage, "static") / 3600, vcpu_seconds(stage, "dynamic") / 3600
        extra = f" ({dynamic:.1f} with dynamic masking)" if stage == "tfrecords" else ""
        print(f"  {stage:<11} {static:5.1f}{extra}")
    print("central steps (the longest task of each):")
    for name, seconds in central.items():
        print(f"  {name:<40} {seconds / 60:5.1f} min")
    central_s = sum(central.values())
    print(f"\n{'jobs':<24} {'masking':<8} {'64 vCPUs':>9} {'256 vCPUs':>10} {'1024 vCPUs':>11}")
    for label, jobs in (("one per stage (7)", 7), ("fused (1)", 1)):
        for masking in ("static", "dynamic"):
            walls = [project(n, jobs, masking, central_s, args.startup_s) for n in (64, 256, 1024)]
            print(f"{label:<24} {masking:<8} {walls[0]:8.2f}h {walls[1]:9.2f}h {walls[2]:10.2f}h")


if __name__ == "__main__":
    main()
