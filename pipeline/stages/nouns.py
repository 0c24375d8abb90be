"""Stage `nouns`: clean sentences -> nouns and compound nouns found by soynlp.

In:  `<output_root>/clean/text/part-*.txt` (one sentence per line).
Out: `nouns.parquet` and `nouns.tsv`: noun, frequency, score, compound, parts,
     sorted by frequency (descending), then noun;
     `rejects.jsonl`: every noun soynlp returned that a filter dropped, with the reason;
     `eojeol_counts.txt`: the merged `eojeol count` lines soynlp scored, sorted by eojeol;
     `scoring.json`: eojeols kept, threshold used, memory and time of the central step.

soynlp's `LRNounExtractor_v2` counts eojeols in one process, holding every count
in memory. Here Beam does the counting (one task per text shard, merged by a
combiner, pruned by `min_eojeol_count`, capped at `max_eojeols`), the merged
counts are written as a sorted text file, and one central step loads them with `EojeolCounter.load` and
lets soynlp score and extract exactly as `train_extract` would on the same
sentences (tests/test_nouns.py checks this on the demo corpus). soynlp's
scoring walks the L-R graph sequentially, so that step cannot be distributed;
its memory grows linearly with the eojeols kept (`scoring.json`, BENCHMARKS.md).

Filters (`noun_filters_v1`), applied in this order, each drop counted as
`nouns_dropped_<reason>`: low_frequency, unit, number_or_symbol,
contains_digits, punctuation, too_short, too_long, non_hangul, stopword.
Accounting: nouns_from_soynlp = nouns_written + nouns_dropped.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import heapq
import os
import re
import shutil
import tempfile
import threading
import time
import typing
import unicodedata
from collections.abc import Iterable, Iterator, Mapping

import apache_beam as beam
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import NounsConfig, PipelineConfig, resolve_path
from pipeline.io import filesystems
from pipeline.layout import NOUNS_PARQUET, NOUNS_TSV
from pipeline.run.stage import Stage, StageContext
from pipeline.text.hangul import hangul_share

NAME = "nouns"
COUNTING_VERSION = "eojeol_count_v1"
EXTRACTOR_VERSION = "soynlp_lr_noun_v2"
FILTERS_VERSION = "noun_filters_v1"

REJECTS = "rejects.jsonl"
EOJEOL_COUNTS = "eojeol_counts.txt"
SCORING_REPORT = "scoring.json"
COUNT_SHARDS_DIR = "eojeol_counts"  # under the stage's _tmp/
_RAW = CompressionTypes.UNCOMPRESSED

REASONS = (
    "low_frequency",
    "unit",
    "number_or_symbol",
    "contains_digits",
    "punctuation",
    "too_short",
    "too_long",
    "non_hangul",
    "stopword",
)


@dataclasses.dataclass(frozen=True)
class Noun:
    """One noun as soynlp scored it; `parts` is empty for a single noun."""

    noun: str
    frequency: int
    score: float
    parts: tuple[str, ...] = ()

    @property
    def compound(self) -> bool:
        return bool(self.parts)


# ------------------------------------------------------------------ counting


def line_eojeols(line: str, max_length: int) -> tuple[list[str], int]:
    """A line of clean text -> (its eojeols, how many were too long), split as soynlp splits them.

    soynlp's EojeolCounter splits on whitespace and skips eojeols longer than
    max_left_length + max_right_length; so do we.
    """
    words = line.split()
    kept = [w for w in words if len(w) <= max_length]
    return kept, len(words) - len(kept)


def keep_count(item: tuple[str, int], min_count: int) -> bool:
    """Prune an (eojeol, count) below min_count, counting distinct eojeols seen and pruned."""
    Metrics.counter(NAME, "distinct_eojeols").inc()
    if item[1] >= min_count:
        return True
    Metrics.counter(NAME, "distinct_eojeols_pruned_min_count").inc()
    return False


def metadata_path(metadata) -> str:
    return metadata.path


def count_shard(item: tuple[str, int], num_shards: int) -> tuple[int, tuple[str, int]]:
    return filesystems.stable_shard(item[0], num_shards), item


def format_count(eojeol: str, count: int) -> str:
    """One line of soynlp's `EojeolCounter.load` format."""
    return f"{eojeol} {count}\n"


def parse_count(line: str) -> tuple[str, int]:
    eojeol, count = line.rsplit(" ", 1)
    return eojeol, int(count)


def count_histogram(counts: Iterable[int]) -> dict[int, int]:
    """Counts -> {count: number of distinct eojeols with that count}."""
    histogram: dict[int, int] = {}
    for c in counts:
        histogram[c] = histogram.get(c, 0) + 1
    return histogram


def merge_histograms(histograms: Iterable[Mapping[int, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for h in histograms:
        for c, n in h.items():
            merged[c] = merged.get(c, 0) + n
    return merged


def effective_min_count(histogram: Mapping[int, int], min_count: int, max_eojeols: int) -> int:
    """The smallest threshold >= min_count that keeps at most max_eojeols distinct eojeols."""
    kept = 0
    for count in sorted((c for c in histogram if c >= min_count), reverse=True):
        if kept + histogram[count] > max_eojeols:
            return count + 1
        kept += histogram[count]
    return min_count


def _eojeol_of(line: str) -> str:
    return line.rsplit(" ", 1)[0]


def merge_count_files(paths: Iterable[str], min_count: int, outputs: Iterable) -> tuple[int, int]:
    """Merge shard files (each sorted by eojeol, disjoint) into one sorted stream.

    Writes the lines with count >= min_count to every binary file in `outputs`;
    returns (distinct eojeols kept, their total count). Streams: memory stays flat.
    """
    outputs = list(outputs)
    with contextlib.ExitStack() as stack:
        streams = [
            _text_lines(stack.enter_context(filesystems.FileSystems.open(p, compression_type=_RAW)))
            for p in paths
        ]
        kept = total = 0
        for line in heapq.merge(*streams, key=_eojeol_of):
            _, count = parse_count(line)
            if count < min_count:
                continue
            data = (line + "\n").encode("utf-8")
            for out in outputs:
                out.write(data)
            kept += 1
            total += count
    return kept, total


def _text_lines(f) -> Iterator[str]:
    for raw in f:
        line = raw.decode("utf-8").rstrip("\n")
        if line:
            yield line


# ------------------------------------------------------------------ scoring


def soynlp_extractor(config: NounsConfig):
    """A soynlp LRNounExtractor_v2 with this stage's settings (soynlp loads lazily)."""
    from soynlp.noun import LRNounExtractor_v2

    return LRNounExtractor_v2(
        max_left_length=config.max_left_length,
        max_right_length=config.max_right_length,
        verbose=False,
        extract_compound=config.extract_compound,
    )


def soynlp_nouns(scores: Mapping, components: Mapping[str, tuple[str, ...]]) -> dict[str, Noun]:
    """soynlp's `extract()` result -> {noun: Noun}.

    soynlp 0.0.493 stores compounds as (score, count) where single nouns are
    (frequency, score) (lovit/soynlp#159), so a compound's NounScore has the
    two swapped; they are put back here. Nothing else is changed.
    """
    nouns = {}
    for noun, value in scores.items():
        parts = tuple(components.get(noun, ()))
        if parts:
            frequency, score = value[1], value[0]
        else:
            frequency, score = value[0], value[1]
        nouns[noun] = Noun(noun, int(frequency), float(score), parts)
    return nouns


def extract_nouns(counts_path: str, config: NounsConfig) -> dict[str, Noun]:
    """Score a local `eojeol count` file with soynlp: the one central, sequential step.

    `min_noun_frequency` is applied by our filters, not by soynlp: 0.0.493
    compares a compound's score with it (the swap above) and would drop them all.
    """
    from soynlp.utils import EojeolCounter

    counter = EojeolCounter()
    counter.load(counts_path)
    if not len(counter):
        return {}
    extractor = soynlp_extractor(config)
    extractor.train(counter)
    scores = extractor.extract(min_noun_score=config.min_noun_score, min_noun_frequency=1)
    return soynlp_nouns(scores, getattr(extractor, "_compounds_components", {}))


def extract_nouns_single_process(sentences: Iterable[str], config: NounsConfig) -> dict[str, Noun]:
    """Plain soynlp `train_extract` on sentences: the reference the distributed path must equal."""
    extractor = soynlp_extractor(config)
    scores = extractor.train_extract(
        list(sentences),
        min_noun_score=config.min_noun_score,
        min_noun_frequency=1,
        min_eojeol_frequency=config.min_eojeol_count,
    )
    return soynlp_nouns(scores, getattr(extractor, "_compounds_components", {}))


class PeakMemory:
    """Samples this process's RSS in a thread: the peak above the starting level."""

    def __init__(self, every_s: float = 0.02) -> None:
        import psutil

        self._process = psutil.Process(os.getpid())
        self.start_rss = self.peak_rss = self._process.memory_info().rss
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)

    @property
    def grown_bytes(self) -> int:
        return self.peak_rss - self.start_rss


# ------------------------------------------------------------------ filters


@dataclasses.dataclass(frozen=True)
class NounRules:
    """The filter settings and word lists, loaded once on the launcher and shipped to workers."""

    min_frequency: int = 1
    min_length: int = 2
    max_length: int = 20
    min_hangul_ratio: float = 0.5
    allow_digits: bool = False
    stopwords: frozenset[str] = frozenset()
    stop_suffixes: tuple[str, ...] = ()
    units: frozenset[str] = frozenset()


def parse_word_list(text: str) -> list[str]:
    """One entry per line; blank lines and `#` comments ignored; NFC-normalised."""
    entries = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            entries.append(unicodedata.normalize("NFC", entry))
    return entries


def make_rules(config: NounsConfig, stop_list: str = "", units_list: str = "") -> NounRules:
    """Rules from the config section and the contents of the stop and unit lists."""
    stop_entries = parse_word_list(stop_list)
    return NounRules(
        min_frequency=config.min_noun_frequency,
        min_length=config.min_noun_length,
        max_length=config.max_noun_length,
        min_hangul_ratio=config.min_hangul_ratio,
        allow_digits=config.allow_digits,
        stopwords=frozenset(e for e in stop_entries if not e.startswith("-")),
        stop_suffixes=tuple(sorted({e[1:] for e in stop_entries if e.startswith("-") and len(e) > 1})),
        units=frozenset(parse_word_list(units_list)),
    )


_LEADING_NUMBER = re.compile(r"^[0-9][0-9.,]*")


def is_unit(word: str, units: frozenset[str]) -> bool:
    """A unit alone (mm, 중량%) or after a number (10mm, 3.5중량%)."""
    return word in units or _LEADING_NUMBER.sub("", word) in units


def noun_drop_reason(noun: Noun, rules: NounRules) -> str | None:
    """None when the noun is kept, else the first reason (in REASONS order) it is dropped."""
    word = noun.noun
    if noun.frequency < rules.min_frequency:
        return "low_frequency"
    if is_unit(word, rules.units):
        return "unit"
    if not any(ch.isalpha() for ch in word):
        return "number_or_symbol"  # 1, ①, 1.5, (2)
    if not rules.allow_digits and any(ch.isdigit() or unicodedata.category(ch) == "No" for ch in word):
        return "contains_digits"  # 제1항, 500시간
    if not all(ch.isalnum() for ch in word):
        return "punctuation"  # (c), “발명”, B-B'
    if len(word) < rules.min_length:
        return "too_short"
    if len(word) > rules.max_length:
        return "too_long"
    if hangul_share(word) < rules.min_hangul_ratio:
        return "non_hangul"
    if (
        word in rules.stopwords
        or any(part in rules.stopwords for part in noun.parts)
        or word.endswith(rules.stop_suffixes)
    ):
        return "stopword"
    return None


def filter_nouns(nouns: Mapping[str, Noun], rules: NounRules) -> tuple[list[Noun], list[tuple[Noun, str]]]:
    """-> (kept nouns sorted by frequency then noun, [(dropped noun, reason)] sorted by noun)."""
    kept, dropped = [], []
    for noun in nouns.values():
        reason = noun_drop_reason(noun, rules)
        if reason is None:
            kept.append(noun)
        else:
            dropped.append((noun, reason))
    kept.sort(key=lambda n: (-n.frequency, n.noun))
    dropped.sort(key=lambda d: d[0].noun)
    return kept, dropped


# ------------------------------------------------------------------ outputs


def noun_schema():
    import pyarrow as pa

    return pa.schema(
        [
            ("noun", pa.string()),
            ("frequency", pa.int64()),
            ("score", pa.float64()),
            ("compound", pa.bool_()),
            ("parts", pa.list_(pa.string())),
        ]
    )


def noun_row(noun: Noun) -> dict:
    return {
        "noun": noun.noun,
        "frequency": noun.frequency,
        "score": noun.score,
        "compound": noun.compound,
        "parts": list(noun.parts),
    }


def tsv_line(noun: Noun) -> str:
    return f"{noun.noun}\t{noun.frequency}\t{noun.score:.6f}\t{str(noun.compound).lower()}\t{'+'.join(noun.parts)}\n"


TSV_HEADER = "noun\tfrequency\tscore\tcompound\tparts\n"


def reject_record(noun: Noun, reason: str) -> dict:
    return {"stage": NAME, "kind": "noun", "reason": reason, **noun_row(noun)}


def write_nouns(output_dir: str, kept: list[Noun], dropped: list[tuple[Noun, str]]) -> None:
    """nouns.parquet, nouns.tsv and rejects.jsonl, through FileSystems (local or gs://)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist([noun_row(n) for n in kept], schema=noun_schema())
    with filesystems.FileSystems.create(filesystems.join(output_dir, NOUNS_PARQUET)) as f:
        pq.write_table(table, f, compression="zstd")
    with filesystems.FileSystems.create(filesystems.join(output_dir, NOUNS_TSV)) as f:
        f.write(TSV_HEADER.encode("utf-8"))
        f.write("".join(tsv_line(n) for n in kept).encode("utf-8"))
    with filesystems.FileSystems.create(filesystems.join(output_dir, REJECTS)) as f:
        filesystems.write_jsonl(f, (reject_record(n, r) for n, r in dropped))


def read_nouns(path: str) -> list[dict]:
    """Rows of a nouns.parquet (for the dictionary stage and tests)."""
    return list(filesystems.iter_parquet_rows(path))


# ------------------------------------------------------------------ Beam steps


def count_shard_path(output_dir: str, index: int, num_shards: int) -> str:
    folder = filesystems.join(output_dir, filesystems.TMP_DIR, COUNT_SHARDS_DIR)
    return filesystems.shard_path(folder, "part", index, num_shards, ".txt")


class CountFileEojeols(beam.DoFn):
    """A clean text file (one sentence per line) -> partial (eojeol, count) pairs.

    Counts in a dict while it streams the file, flushed every MAX_KEYS distinct
    eojeols so memory stays bounded: each eojeol leaves the task once per flush
    instead of once per occurrence (about twice the throughput of one Beam
    element per line or per eojeol). Files are clean's shards, so there are
    as many parallel tasks as shards.
    """

    MAX_KEYS = 500_000

    def __init__(self, max_length: int, normalize: bool = False) -> None:
        self._max_length, self._normalize = max_length, normalize

    def setup(self) -> None:
        self._preprocess = None
        if self._normalize:
            from soynlp.normalizer import normalize_sent_for_lrgraph

            self._preprocess = normalize_sent_for_lrgraph

    def process(self, path: str):
        counts: collections.Counter = collections.Counter()
        sentences = eojeols = too_long = 0
        progress = filesystems.Progress(NAME, "sentences")
        with filesystems.FileSystems.open(path, compression_type=_RAW) as f:
            for raw in f:
                line = raw.decode("utf-8")
                if self._preprocess is not None:
                    line = self._preprocess(line)
                kept, skipped = line_eojeols(line, self._max_length)
                if not (kept or skipped):
                    continue
                sentences += 1
                eojeols += len(kept) + skipped
                too_long += skipped
                counts.update(kept)
                if len(counts) >= self.MAX_KEYS:
                    yield from counts.items()
                    counts = collections.Counter()
                if sentences % 10000 == 0:
                    progress.tick(10000)
        yield from counts.items()
        progress.tick(sentences % 10000)
        Metrics.counter(NAME, "sentences_in").inc(sentences)
        Metrics.counter(NAME, "eojeols_in").inc(eojeols)
        Metrics.counter(NAME, "eojeols_too_long").inc(too_long)


class CountEojeols(beam.PTransform):
    """Paths of clean text files -> (eojeol, count) for every eojeol seen at least min_count times.

    Each file task sums its own counts, then a combiner (`CombinePerKey(sum)`)
    merges them, pre-combining on each worker before the shuffle; no step
    holds more than its share of the keys.
    """

    def __init__(self, max_length: int, min_count: int, normalize: bool = False) -> None:
        super().__init__()
        self._max_length, self._min_count, self._normalize = max_length, min_count, normalize

    def expand(self, paths):
        return (
            paths
            | "CountInFiles" >> beam.ParDo(CountFileEojeols(self._max_length, self._normalize))
            | "Sum" >> beam.CombinePerKey(sum)
            | "Prune" >> beam.Filter(keep_count, self._min_count)
        )


class WriteCountShard(beam.DoFn):
    """(index, {'counts': [(eojeol, count)...]}) -> a sorted shard file; yields its count histogram."""

    def __init__(self, output_dir: str, num_shards: int) -> None:
        self._output_dir, self._num_shards = output_dir, num_shards

    def process(self, element):
        index, grouped = element
        items = sorted(grouped["counts"])
        with filesystems.FileSystems.create(count_shard_path(self._output_dir, index, self._num_shards)) as f:
            f.write("".join(format_count(e, c) for e, c in items).encode("utf-8"))
        yield count_histogram(c for _, c in items)


# Reports are nested dicts: no inferred (flat) dict coder.
@beam.typehints.with_output_types(typing.Any)
class ScoreNouns(beam.DoFn):
    """The central step: merged count histogram -> soynlp nouns, filtered and written.

    Runs once (its input is a single combined histogram), after every count
    shard is written. Merges the shards into one sorted `eojeol count` file,
    lets soynlp score it, filters, writes the outputs and `scoring.json`.
    """

    def __init__(self, config: NounsConfig, rules: NounRules, output_dir: str, num_shards: int) -> None:
        self._config, self._rules = config, rules
        self._output_dir, self._num_shards = output_dir, num_shards

    def setup(self) -> None:
        # Loaded here, not at import: soynlp pulls in scikit-learn. Loading it
        # before the measurement keeps its footprint out of scoring_memory_mb.
        import soynlp.noun  # noqa: F401
        import soynlp.utils  # noqa: F401

    def process(self, histogram):
        config = self._config
        threshold = effective_min_count(histogram, config.min_eojeol_count, config.max_eojeols)
        above_cap = sum(n for c, n in histogram.items() if config.min_eojeol_count <= c < threshold)
        Metrics.counter(NAME, "distinct_eojeols_pruned_max_eojeols").inc(above_cap)
        local_dir = tempfile.mkdtemp(prefix="nouns_")
        try:
            local_counts = os.path.join(local_dir, EOJEOL_COUNTS)
            started = time.time()
            shards = [
                count_shard_path(self._output_dir, i, self._num_shards) for i in range(self._num_shards)
            ]
            with (
                open(local_counts, "wb") as local,
                filesystems.FileSystems.create(
                    filesystems.join(self._output_dir, EOJEOL_COUNTS)
                ) as kept_file,
            ):
                kept, total = merge_count_files(shards, threshold, (local, kept_file))
            merged = time.time()
            with PeakMemory() as memory:
                nouns = extract_nouns(local_counts, config)
            scored = time.time()
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)

        kept_nouns, dropped = filter_nouns(nouns, self._rules)
        write_nouns(self._output_dir, kept_nouns, dropped)
        Metrics.counter(NAME, "distinct_eojeols_kept").inc(kept)
        Metrics.counter(NAME, "nouns_from_soynlp").inc(len(nouns))
        Metrics.counter(NAME, "compounds_from_soynlp").inc(sum(n.compound for n in nouns.values()))
        Metrics.counter(NAME, "nouns_written").inc(len(kept_nouns))
        Metrics.counter(NAME, "compounds_written").inc(sum(n.compound for n in kept_nouns))
        Metrics.counter(NAME, "nouns_dropped").inc(len(dropped))
        for _, reason in dropped:
            Metrics.counter(NAME, f"nouns_dropped_{reason}").inc()
        report = scoring_report(config, threshold, kept, total, memory, merged - started, scored - merged)
        report["top_nouns"] = [n.noun for n in kept_nouns[:20]]
        report["top_compounds"] = ["+".join(n.parts) for n in kept_nouns if n.compound][:20]
        filesystems.write_json(filesystems.join(self._output_dir, SCORING_REPORT), report)
        yield report


def scoring_report(
    config: NounsConfig,
    threshold: int,
    kept: int,
    total: int,
    memory: PeakMemory,
    merge_seconds: float,
    scoring_seconds: float,
) -> dict:
    """What the central step needed, for the manifest (memory grows ~linearly with `eojeols_kept`)."""
    return {
        "min_eojeol_count": config.min_eojeol_count,
        "effective_min_eojeol_count": threshold,
        "max_eojeols": config.max_eojeols,
        "eojeols_kept": kept,
        "eojeol_occurrences_kept": total,
        "scoring_rss_start_mb": round(memory.start_rss / 2**20, 1),
        "scoring_rss_peak_mb": round(memory.peak_rss / 2**20, 1),
        "scoring_memory_mb": round(memory.grown_bytes / 2**20, 1),
        "scoring_bytes_per_eojeol": round(memory.grown_bytes / kept) if kept else 0,
        "merge_seconds": round(merge_seconds, 2),
        "scoring_seconds": round(scoring_seconds, 2),
    }


def write_empty_outputs(_, output_dir: str) -> dict:
    """nouns.enabled = false: empty outputs with the same layout, nothing extracted."""
    write_nouns(output_dir, [], [])
    with filesystems.FileSystems.create(filesystems.join(output_dir, EOJEOL_COUNTS)):
        pass
    report = {"enabled": False, "eojeols_kept": 0}
    filesystems.write_json(filesystems.join(output_dir, SCORING_REPORT), report)
    return report


class ExtractNouns(beam.PTransform):
    """Clean text shards (a glob) -> nouns.parquet, nouns.tsv, rejects.jsonl, eojeol_counts.txt, scoring.json.

    Counting is distributed; the count shards are joined by a stable hash of the
    eojeol and written sorted; one step then scores the merged counts with soynlp.
    """

    def __init__(
        self, text_glob: str, config: NounsConfig, rules: NounRules, output_dir: str, num_shards: int
    ):
        super().__init__()
        self._glob, self._config, self._rules = text_glob, config, rules
        self._output_dir, self._num_shards = output_dir, num_shards

    def expand(self, pipeline):
        config, n = self._config, self._num_shards
        counts = (
            pipeline
            | "Match" >> fileio.MatchFiles(self._glob)
            | "Paths" >> beam.Map(metadata_path)
            # One element per file: spread them over the workers.
            | "Spread" >> beam.Reshuffle()
            | "CountEojeols"
            >> CountEojeols(
                config.max_left_length + config.max_right_length,
                config.min_eojeol_count,
                config.ensure_normalized,
            )
            | "ShardKey" >> beam.Map(count_shard, n)
        )
        return (
            {"counts": counts}
            | "JoinShards" >> filesystems.JoinByShard(n)
            | "WriteShards" >> beam.ParDo(WriteCountShard(self._output_dir, n))
            | "Histogram" >> beam.CombineGlobally(merge_histograms)
            | "Score" >> self._score()
        )

    def _score(self) -> beam.PTransform:
        score = beam.ParDo(ScoreNouns(self._config, self._rules, self._output_dir, self._num_shards))
        # The one step that needs a big worker (~2.6 KB per kept eojeol): with
        # Dataflow Prime's right fitting only this step gets the large machine.
        if self._config.scoring_min_ram:
            score = score.with_resource_hints(min_ram=self._config.scoring_min_ram)
        return score


# ------------------------------------------------------------------ stage


def list_paths(config: PipelineConfig) -> dict[str, str]:
    """The word lists this stage reads, resolved against the config file."""
    return {
        "stop_list": resolve_path(config, config.nouns.stop_list),
        "units_list": resolve_path(config, config.nouns.units_list),
    }


def load_rules(config: PipelineConfig) -> NounRules:
    """Read the stop and unit lists (small) on the launcher; workers get them pickled."""
    paths = list_paths(config)
    return make_rules(
        config.nouns,
        filesystems.read_text_file(paths["stop_list"], "nouns.stop_list"),
        filesystems.read_text_file(paths["units_list"], "nouns.units_list"),
    )


def build(p: beam.Pipeline, ctx: StageContext) -> None:
    config = ctx.config.nouns
    if not config.enabled:
        _ = (
            p
            | "Nothing" >> beam.Create([None])
            | "WriteEmpty" >> beam.Map(write_empty_outputs, ctx.output_dir)
        )
        return
    glob = filesystems.join(ctx.upstream_dirs[layout.CLEAN], layout.TEXT, "part-*.txt")
    rules = load_rules(ctx.config)
    num_shards = ctx.upstream_section(layout.INGEST).num_shards
    _ = p | "Nouns" >> ExtractNouns(glob, config, rules, ctx.output_dir, num_shards)


def extra_files(config: PipelineConfig) -> list[str]:
    return list(list_paths(config).values()) if config.nouns.enabled else []


def finalize(ctx: StageContext) -> dict:
    return filesystems.read_json(filesystems.join(ctx.output_dir, SCORING_REPORT))


STAGE = Stage(
    name=NAME,
    upstream=(layout.CLEAN,),
    versions={"counting": COUNTING_VERSION, "extractor": EXTRACTOR_VERSION, "filters": FILTERS_VERSION},
    build=build,
    description="clean sentences -> eojeol counts (Beam) -> soynlp nouns and compounds, filtered",
    accounting=(
        "eojeols_in",
        "distinct_eojeols",
        "distinct_eojeols_kept",
        "nouns_from_soynlp",
        "nouns_written",
        "nouns_dropped",
        *(f"nouns_dropped_{r}" for r in REASONS),
    ),
    files=extra_files,
    finalize=finalize,
)
