"""Nouns found by soynlp: eojeol counting, the merged count file, soynlp scoring.

In:  lines of clean text (one sentence per line) -> eojeols and their counts;
     count files in soynlp's `EojeolCounter.load` format (`eojeol count` lines,
     sorted by eojeol) -> one merged file; local count files -> soynlp's
     `LRNounExtractor_v2` scores, for all eojeols at once or partition by
     partition (eojeols split by their first character).
Out: `{noun: Noun}` (frequency, score, the parts of a compound), exactly what
     `train_extract` gives on the same sentences; the nouns table's row,
     schema and TSV line.

soynlp loads lazily (it pulls in scikit-learn). Which step runs where (the
counting and the partitions' scoring on many workers) is the stage's business
(`pipeline.stages.nouns`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import heapq
from collections.abc import Iterable, Iterator, Mapping

from apache_beam.io.filesystem import CompressionTypes

from pipeline.config import NounsConfig
from pipeline.io import filesystems

COUNTING_VERSION = "eojeol_count_v1"
EXTRACTOR_VERSION = "soynlp_lr_noun_v2"
_RAW = CompressionTypes.UNCOMPRESSED


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


def trained_extractor(counts_path: str, config: NounsConfig):
    """soynlp's extractor trained on a local `eojeol count` file; None when the file holds none."""
    from soynlp.utils import EojeolCounter

    counter = EojeolCounter()
    counter.load(counts_path)
    if not len(counter):
        return None
    extractor = soynlp_extractor(config)
    extractor.train(counter)
    return extractor


def extract_nouns(counts_path: str, config: NounsConfig) -> dict[str, Noun]:
    """Score a local `eojeol count` file with soynlp in one process (the reference the partitions equal).

    `min_noun_frequency` is applied by our filters, not by soynlp: 0.0.493
    compares a compound's score with it (the swap above) and would drop them all.
    """
    extractor = trained_extractor(counts_path, config)
    if extractor is None:
        return {}
    scores = extractor.extract(min_noun_score=config.min_noun_score, min_noun_frequency=1)
    return soynlp_nouns(scores, getattr(extractor, "_compounds_components", {}))


# soynlp's LRNounExtractor_v2.extract() in two passes over partitions of the
# eojeols, so the central step runs as parallel tasks. Every L of an eojeol
# begins with the eojeol's first character, so an eojeol and every L-R pair it
# adds to the graph belong to the partition of that character. Each step of
# extract() reads or removes only pairs of the word it looks at, or of that
# word's prefixes (same first character):
#  - candidate counting and batch prediction (longest first; removing
#    word+R touches only the prefixes of word+R, none of the same length but
#    word, so the order among equal lengths never matters);
#  - the compound check and its count reductions (prefixes), the post-processing
#    (detaching_features and check_N_is_NJ look up a noun's prefixes).
# The one global input is the set of single nouns the compound check splits
# words into: the first pass gives each partition's, the second pass gets all.
# So the partitions' union equals extract() on everything (tested against
# train_extract), whatever the number of partitions. The passes call the steps
# of soynlp 0.0.493's extract() by their names (pinned in requirements.txt); a
# soynlp that changed them would fail those tests.


def partition_of(eojeol: str, num_partitions: int) -> int:
    """The scoring partition of an eojeol: a stable hash of its first character."""
    return filesystems.stable_shard(eojeol[0], num_partitions)


def predict_partition(counts_path: str, config: NounsConfig) -> dict[str, tuple[float, float]]:
    """Pass 1 on one partition's `eojeol count` file: soynlp's (support, score) of every noun candidate."""
    extractor = trained_extractor(counts_path, config)
    if extractor is None:
        return {}
    candidates = extractor._noun_candidates_from_positive_features()
    return extractor._batch_predicting_nouns(candidates, config.min_noun_score)


def compound_parts_index(predictions: Mapping[str, tuple[float, float]], config: NounsConfig) -> dict:
    """The predictions soynlp's compound check reads: nouns scoring above min_noun_score, longer than one syllable.

    extract_compounds splits words into these (MaxScoreTokenizer) and takes a
    compound's score from its parts, all of which are in this set.
    """
    return {
        noun: score
        for noun, score in predictions.items()
        if score[1] > config.min_noun_score and len(noun) > 1
    }


def finish_partition(
    counts_path: str,
    config: NounsConfig,
    predictions: Mapping[str, tuple[float, float]],
    compound_parts: Mapping[str, tuple[float, float]],
) -> dict[str, Noun]:
    """Pass 2 on one partition: its nouns and compounds, post-processed, as extract() gives them.

    `predictions` are this partition's (pass 1); `compound_parts` is
    `compound_parts_index` over every partition's predictions.
    """
    extractor = trained_extractor(counts_path, config)
    if extractor is None:
        return {}
    compounds = (
        extractor.extract_compounds({}, compound_parts, config.min_noun_score)
        if config.extract_compound
        else {}
    )
    # What extract() does next, with min_noun_frequency=1 (see extract_nouns).
    nouns = {noun: score for noun, score in predictions.items() if score[1] >= config.min_noun_score}
    nouns.update(compounds)
    nouns = {noun: score for noun, score in nouns.items() if score[0] >= 1}
    nouns = extractor._post_processing(nouns, predictions, compounds)
    return soynlp_nouns(nouns, getattr(extractor, "_compounds_components", {}))


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


# ------------------------------------------------------------------ the nouns table


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
