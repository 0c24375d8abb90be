"""Stage `nouns`: clean sentences -> nouns and compound nouns found by soynlp.

In:  `<output_root>/clean/text/part-*.txt` (one sentence per line).
Out: `nouns.parquet` and `nouns.tsv`: noun, frequency, score, compound, parts,
     sorted by frequency (descending), then noun;
     `rejects.jsonl`: every noun soynlp returned that a filter dropped, with the reason;
     `eojeol_counts.txt`: the merged `eojeol count` lines soynlp scored, sorted by eojeol;
     `scoring.json`: eojeols kept, threshold used, partitions, memory and time of the scoring.

soynlp's `LRNounExtractor_v2` counts eojeols in one process, holding every count
in memory, and scores them in one process. Here Beam does the counting (one task
per text shard, merged by a combiner, pruned by `min_eojeol_count`, capped at
`max_eojeols`) into `nouns.scoring_partitions` sorted count files, split by the
eojeols' first character; soynlp then scores each partition in its own task,
in two passes (noun scores; then compounds, which split into nouns of any
partition, and the post-processing), with its own code and
`EojeolCounter.load`. Every L-R pair of an eojeol starts with its first
character, so the union equals soynlp's `train_extract` on the same sentences
whatever the number of partitions (pipeline.text.noun_extraction says why;
tests/stages/test_nouns.py and tests/text/test_noun_extraction.py check it on
the demo corpus). Each task's memory grows with the eojeols of its partition
(`scoring.json`, docs/BENCHMARKS.md).

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
    compound_parts_index,
    count_histogram,
    effective_min_count,
    finish_partition,
    format_count,
    line_eojeols,
    merge_count_files,
    merge_histograms,
    noun_row,
    noun_schema,
    partition_of,
    predict_partition,
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


def count_partition(item: tuple[str, int], num_partitions: int) -> tuple[int, tuple[str, int]]:
    """(eojeol, count) -> (its scoring partition, the same): partitions by first character."""
    return partition_of(item[0], num_partitions), item


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
    """(index, {'counts': [(eojeol, count)...]}) -> a sorted partition file; yields (index, its count histogram)."""

    def __init__(self, output_dir: str, num_shards: int) -> None:
        self._output_dir, self._num_shards = output_dir, num_shards

    def process(self, element):
        index, grouped = element
        items = sorted(grouped["counts"])
        with filesystems.FileSystems.create(count_shard_path(self._output_dir, index, self._num_shards)) as f:
            f.write("".join(format_count(e, c) for e, c in items).encode("utf-8"))
        yield index, count_histogram(c for _, c in items)


def scoring_threshold(histogram: dict[int, int], config: NounsConfig) -> int:
    """The merged count histogram -> the count threshold every partition applies (max_eojeols cap)."""
    threshold = effective_min_count(histogram, config.min_eojeol_count, config.max_eojeols)
    above_cap = sum(n for c, n in histogram.items() if config.min_eojeol_count <= c < threshold)
    Metrics.counter(NAME, "distinct_eojeols_pruned_max_eojeols").inc(above_cap)
    return threshold


# Reports are nested dicts: no inferred (flat) dict coder.
@beam.typehints.with_output_types(typing.Any)
class WriteMergedCounts(beam.DoFn):
    """The threshold -> `eojeol_counts.txt`: every partition's kept counts merged in eojeol order.

    Runs beside the scoring (it only reads the partition files); yields what it kept.
    """

    def __init__(self, output_dir: str, num_shards: int) -> None:
        self._output_dir, self._num_shards = output_dir, num_shards

    def process(self, threshold: int):
        started = time.time()
        shards = [count_shard_path(self._output_dir, i, self._num_shards) for i in range(self._num_shards)]
        with filesystems.FileSystems.create(filesystems.join(self._output_dir, EOJEOL_COUNTS)) as kept_file:
            kept, total = merge_count_files(shards, threshold, (kept_file,))
        Metrics.counter(NAME, "distinct_eojeols_kept").inc(kept)
        yield {"eojeols_kept": kept, "eojeol_occurrences_kept": total, "merge_seconds": time.time() - started}


class _ScoringPass(beam.DoFn):
    """One soynlp pass over one partition: its kept counts copied to a local file, soynlp run on it.

    soynlp loads in setup, not at import (it pulls in scikit-learn); loading it
    before the measurement keeps its footprint out of the memory figures.
    """

    WHAT = ""

    def __init__(self, config: NounsConfig, output_dir: str, num_shards: int) -> None:
        self._config, self._output_dir, self._num_shards = config, output_dir, num_shards

    def setup(self) -> None:
        import soynlp.noun  # noqa: F401
        import soynlp.utils  # noqa: F401

        self._progress = filesystems.Progress(NAME, f"partitions_{self.WHAT}")

    def _run(self, index: int, threshold: int, soynlp_pass, *args):
        """(soynlp_pass(local_counts_path, config, *args), {eojeols, seconds, memory}) for this partition."""
        local_dir = filesystems.scratch_folder("nouns_")
        try:
            local_counts = os.path.join(local_dir, EOJEOL_COUNTS)
            with open(local_counts, "wb") as local:
                kept, _ = merge_count_files(
                    [count_shard_path(self._output_dir, index, self._num_shards)],
                    threshold,
                    (local,),
                )
            started = time.time()
            with PeakMemory() as memory:
                result = soynlp_pass(local_counts, self._config, *args)
            stats = {
                "eojeols": kept,
                f"{self.WHAT}_seconds": time.time() - started,
                f"{self.WHAT}_rss_peak": memory.peak_rss,
                f"{self.WHAT}_grown": memory.grown_bytes,
            }
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)
        self._progress.tick()
        return result, stats


@beam.typehints.with_output_types(typing.Any)
class ScorePartition(_ScoringPass):
    """Pass 1: a partition's index -> (index, soynlp's (support, score) of its noun candidates, stats)."""

    WHAT = "scored"

    def process(self, index: int, threshold: int):
        predictions, stats = self._run(index, threshold, predict_partition)
        yield index, predictions, stats


def compound_parts_of(scored: tuple, config: NounsConfig) -> dict:
    return compound_parts_index(scored[1], config)


def merge_dicts(dicts: typing.Iterable[dict]) -> dict:
    merged: dict = {}
    for d in dicts:
        merged.update(d)
    return merged


@beam.typehints.with_output_types(typing.Any)
class FinishPartition(_ScoringPass):
    """Pass 2: (index, predictions, stats) and every partition's nouns -> ({noun: Noun}, stats) of this partition.

    Compounds split into nouns of any partition, so this pass gets all of
    them (`compound_parts`, a side input) and is exactly soynlp's extract().
    """

    WHAT = "finished"

    def process(self, scored: tuple, threshold: int, compound_parts: dict):
        index, predictions, stats = scored
        found, more = self._run(index, threshold, finish_partition, predictions, compound_parts)
        yield found, {**stats, **more}


# Reports are nested dicts: no inferred (flat) dict coder.
@beam.typehints.with_output_types(typing.Any)
class WriteNouns(beam.DoFn):
    """Every partition's nouns -> filtered, written; yields `scoring.json`'s report."""

    def __init__(self, config: NounsConfig, rules: NounRules, output_dir: str, num_shards: int) -> None:
        self._config, self._rules = config, rules
        self._output_dir, self._num_shards = output_dir, num_shards

    def process(self, partitions: list, threshold: int, merged: dict):
        nouns: dict[str, Noun] = {}
        for found, _ in partitions:
            nouns.update(found)
        kept_nouns, dropped = filter_nouns(nouns, self._rules)
        write_nouns(self._output_dir, kept_nouns, dropped)
        Metrics.counter(NAME, "nouns_from_soynlp").inc(len(nouns))
        Metrics.counter(NAME, "compounds_from_soynlp").inc(sum(n.compound for n in nouns.values()))
        Metrics.counter(NAME, "nouns_written").inc(len(kept_nouns))
        Metrics.counter(NAME, "compounds_written").inc(sum(n.compound for n in kept_nouns))
        Metrics.counter(NAME, "nouns_dropped").inc(len(dropped))
        for _, reason in dropped:
            Metrics.counter(NAME, f"nouns_dropped_{reason}").inc()
        report = scoring_report(self._config, self._num_shards, threshold, merged, [s for _, s in partitions])
        report["top_nouns"] = [n.noun for n in kept_nouns[:20]]
        report["top_compounds"] = ["+".join(n.parts) for n in kept_nouns if n.compound][:20]
        filesystems.write_json(filesystems.join(self._output_dir, SCORING_REPORT), report)
        yield report


def scoring_report(
    config: NounsConfig, partitions: int, threshold: int, merged: dict, stats: list[dict]
) -> dict:
    """What the scoring needed, for the manifest.

    Each partition is one task; its memory grows ~linearly with the eojeols it
    holds, and the longest partition bounds the step's wall-clock time.
    """
    mb = 2**20
    largest = max(stats, key=lambda s: s["eojeols"], default=None)
    biggest = max(stats, key=lambda s: max(s["scored_grown"], s["finished_grown"]), default=None)
    grown = max(biggest["scored_grown"], biggest["finished_grown"]) if biggest else 0
    return {
        "min_eojeol_count": config.min_eojeol_count,
        "effective_min_eojeol_count": threshold,
        "max_eojeols": config.max_eojeols,
        "eojeols_kept": merged["eojeols_kept"],
        "eojeol_occurrences_kept": merged["eojeol_occurrences_kept"],
        "scoring_partitions": partitions,
        "partitions_with_eojeols": sum(1 for s in stats if s["eojeols"]),
        "largest_partition_eojeols": largest["eojeols"] if largest else 0,
        "scoring_rss_peak_mb": round(
            max((max(s["scored_rss_peak"], s["finished_rss_peak"]) for s in stats), default=0) / mb, 1
        ),
        "scoring_memory_mb": round(grown / mb, 1),
        "scoring_bytes_per_eojeol": round(grown / biggest["eojeols"]) if biggest else 0,
        "merge_seconds": round(merged["merge_seconds"], 2),
        "scoring_seconds": round(sum(s["scored_seconds"] + s["finished_seconds"] for s in stats), 2),
        "longest_partition_seconds": round(
            max((s["scored_seconds"] + s["finished_seconds"] for s in stats), default=0.0), 2
        ),
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

    Counting is distributed; the counts are joined by a stable hash of the
    eojeol's first character into partition files, written sorted; soynlp
    scores each partition in its own task (two passes), and one step writes
    what they found.
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
            | "PartitionKey" >> beam.Map(count_partition, n)
        )
        partitions = (
            {"counts": counts}
            | "JoinPartitions" >> filesystems.JoinByShard(n)
            | "WritePartitions" >> beam.ParDo(WriteCountShard(self._output_dir, n))
        )
        threshold_once = (
            partitions
            | "Histograms" >> beam.Values()
            | "Histogram" >> beam.CombineGlobally(merge_histograms)
            | "Threshold" >> beam.Map(scoring_threshold, config)
        )
        threshold = beam.pvalue.AsSingleton(threshold_once)
        merged = threshold_once | "WriteMergedCounts" >> beam.ParDo(WriteMergedCounts(self._output_dir, n))
        scored = (
            partitions
            | "Indexes" >> beam.Keys()
            # One element per partition: one task each.
            | "SpreadPartitions" >> beam.Reshuffle()
            | "Score" >> self._hinted(beam.ParDo(ScorePartition(config, self._output_dir, n), threshold))
        )
        compound_parts = beam.pvalue.AsSingleton(
            scored
            | "CompoundParts" >> beam.Map(compound_parts_of, config)
            | "AllCompoundParts" >> beam.CombineGlobally(merge_dicts)
        )
        return (
            scored
            | "Compounds"
            >> self._hinted(
                beam.ParDo(FinishPartition(config, self._output_dir, n), threshold, compound_parts)
            )
            | "Gather" >> beam.combiners.ToList()
            | "Write"
            >> beam.ParDo(
                WriteNouns(config, self._rules, self._output_dir, n),
                threshold,
                beam.pvalue.AsSingleton(merged),
            )
        )

    def _hinted(self, step: beam.PTransform) -> beam.PTransform:
        # The steps that hold a partition's L-R graph (~2.6 KB per eojeol it
        # holds): with Dataflow Prime's right fitting only they get a big worker.
        if self._config.scoring_min_ram:
            step = step.with_resource_hints(min_ram=self._config.scoring_min_ram)
        return step


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
    return p | "Nouns" >> ExtractNouns(
        glob, config, rules, ctx.output_dir, config.scoring_partitions, after=ctx.after(layout.CLEAN)
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
