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
sentences (tests/stages/test_nouns.py checks this on the demo corpus). soynlp's
scoring walks the L-R graph sequentially, so that step cannot be distributed;
its memory grows linearly with the eojeols kept (`scoring.json`, docs/BENCHMARKS.md).

Filters (`noun_filters_v1`), applied in this order, each drop counted as
`nouns_dropped_<reason>`: low_frequency, unit, number_or_symbol,
contains_digits, punctuation, too_short, too_long, non_hangul, stopword.
Accounting: nouns_from_soynlp = nouns_written + nouns_dropped.
"""

from __future__ import annotations

import collections
import os
import shutil
import time
import typing

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import NounsConfig, PipelineConfig, resolve_path
from pipeline.io import filesystems
from pipeline.io.memory import PeakMemory
from pipeline.layout import NOUNS_PARQUET, NOUNS_TSV
from pipeline.run.stage import Stage, StageContext
from pipeline.text.noun_extraction import (
    COUNTING_VERSION,
    EXTRACTOR_VERSION,
    TSV_HEADER,
    Noun,
    count_histogram,
    effective_min_count,
    extract_nouns,
    format_count,
    line_eojeols,
    merge_count_files,
    merge_histograms,
    noun_row,
    noun_schema,
    tsv_line,
)
from pipeline.text.noun_filters import FILTERS_VERSION, REASONS, NounRules, filter_nouns, make_rules

NAME = layout.NOUNS

REJECTS = "rejects.jsonl"
EOJEOL_COUNTS = "eojeol_counts.txt"
SCORING_REPORT = "scoring.json"
COUNT_SHARDS_DIR = "eojeol_counts"  # under the stage's _tmp/
_RAW = CompressionTypes.UNCOMPRESSED

# ------------------------------------------------------------------ counting


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


# ------------------------------------------------------------------ outputs


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
        local_dir = filesystems.scratch_folder("nouns_")
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
            with filesystems.Progress.step(NAME, "scoring nouns (soynlp)"), PeakMemory() as memory:
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
        self,
        text_glob: str,
        config: NounsConfig,
        rules: NounRules,
        output_dir: str,
        num_shards: int,
        after=None,
    ):
        super().__init__()
        self._glob, self._config, self._rules = text_glob, config, rules
        self._output_dir, self._num_shards = output_dir, num_shards
        self._after = after  # clean's completion element when fused into its job

    def expand(self, pipeline):
        config, n = self._config, self._num_shards
        counts = (
            filesystems.match_files(pipeline, self._glob, self._after)
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
        return filesystems.start(p, ctx.after(layout.CLEAN), "Nothing") | "WriteEmpty" >> beam.Map(
            write_empty_outputs, ctx.output_dir
        )
    glob = filesystems.join(ctx.upstream_dirs[layout.CLEAN], layout.TEXT, "part-*.txt")
    rules = load_rules(ctx.config)
    num_shards = ctx.upstream_section(layout.INGEST).num_shards
    return p | "Nouns" >> ExtractNouns(
        glob, config, rules, ctx.output_dir, num_shards, after=ctx.after(layout.CLEAN)
    )


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
    fusable=True,
)
