"""Stage `dictionary` at KorPatBERT's scale: build and compile a user dictionary of N entries.

    .venv/bin/python benchmarks/bench_dictionary.py [--entries 1000000] [--keep DIR]

Makes N distinct synthetic nouns (2-8 Hangul syllables; a fifth are compounds
with their parts; some end in Latin letters or digits), builds the rows with
the stage's own functions (`csv_row`, `merge_entries`, `write_entries`),
compiles them with python-mecab-ko's bundled `mecab-dict-index`
(`compile_user_dictionary`, a child process) and loads the result. Prints the
time and peak memory of each step. KorPatBERT's pat_all_mecab_dic.csv has
6,663,693 entries. Not a test: run on demand and record the figures.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time

from pipeline.io.memory import PeakMemory
from pipeline.text import mecab_dictionary, user_dictionary


def _syllables(rng: random.Random, n: int) -> str:
    return "".join(chr(0xAC00 + rng.randrange(11172)) for _ in range(n))


def synthetic_entries(n: int, seed: int = 0):
    """n Entry objects with distinct surfaces (plus some duplicates, as real sources have)."""
    rng = random.Random(seed)
    seen: set[str] = set()
    while len(seen) < n:
        kind = rng.random()
        if kind < 0.2:
            parts = tuple(_syllables(rng, rng.randint(1, 3)) for _ in range(rng.randint(2, 3)))
            surface = "".join(parts)
        elif kind < 0.25:
            parts, surface = (
                (),
                _syllables(rng, rng.randint(1, 4)) + rng.choice(["LED", "PCM", "2", "10", "GaN"]),
            )
        else:
            parts, surface = (), _syllables(rng, rng.randint(2, 8))
        seen.add(surface)
        row = mecab_dictionary.csv_row(surface, "NNP", parts)
        yield user_dictionary.Entry(surface, mecab_dictionary.format_csv_line(row), "extracted")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--keep", help="write user.csv and user.dic into this folder")
    args = parser.parse_args(argv)
    work = args.keep or tempfile.mkdtemp(prefix="bench_dictionary_")
    os.makedirs(work, exist_ok=True)
    csv_path, dic_path = os.path.join(work, "user.csv"), os.path.join(work, "user.dic")

    with PeakMemory() as memory:
        started = time.time()
        entries, duplicates = user_dictionary.merge_entries([synthetic_entries(args.entries)])
        user_dictionary.write_entries(entries, csv_path)
        build_seconds = time.time() - started
    csv_mb = os.path.getsize(csv_path) / 2**20
    print(
        f"rows:    {len(entries):,} entries ({sum(duplicates.values()):,} duplicates dropped), "
        f"user.csv {csv_mb:.0f} MB, built in {build_seconds:.1f} s, "
        f"peak RSS {memory.peak_rss / 2**20:.0f} MiB (+{memory.grown_bytes / 2**20:.0f} MiB)"
    )
    del entries

    compiled = user_dictionary.compile_user_dictionary(csv_path, dic_path)
    print(
        f"compile: {compiled['compile_seconds']:.1f} s, peak RSS {compiled['compile_peak_rss_mb']:.0f} MiB "
        f"(mecab-dict-index child), user.dic {os.path.getsize(dic_path) / 2**20:.0f} MB"
    )

    import mecab

    started = time.time()
    tagger = mecab.MeCab(user_dictionary_path=dic_path)
    tagger.parse("본 발명은 합성세제액에 관한 것이다.")
    print(f"load:    {time.time() - started:.2f} s to load user.dic and parse a sentence")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
