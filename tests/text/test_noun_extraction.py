"""Eojeol counting, count files and soynlp scoring without Beam; the counts file path equals soynlp's own."""

import zlib
from collections import Counter

import pytest

from pipeline.config import NounsConfig
from pipeline.text import noun_extraction
from pipeline.text.noun_extraction import Noun
from pipeline.tools import synthetic_corpus

SENTENCES = [
    "본 발명은 합성세제액에 관한 것이다.",
    "상기 합성세제액은 계면활성제를 포함한다.",
    "합성세제액의 계면활성제는 음이온 계면활성제이다.",
    "계면활성제의 함량은 5 중량%이다.",
    "상기 합성세제액을 세탁조에 투입한다.",
    "세탁조의 온도는 40 ℃이다.",
]


# ------------------------------------------------------------------ counting
def test_line_eojeols_splits_like_soynlp_and_skips_long_eojeols():
    assert noun_extraction.line_eojeols("본 발명은  합성세제액에 관한 것이다.", 19) == (
        ["본", "발명은", "합성세제액에", "관한", "것이다."],
        0,
    )
    assert noun_extraction.line_eojeols("가나다라마바사 짧다", 5) == (["짧다"], 1)
    assert noun_extraction.line_eojeols("", 19) == ([], 0)


def test_histograms_and_effective_min_count():
    assert noun_extraction.count_histogram([1, 1, 2, 5]) == {1: 2, 2: 1, 5: 1}
    assert noun_extraction.merge_histograms([{1: 2, 2: 1}, {2: 3, 7: 1}, {}]) == {1: 2, 2: 4, 7: 1}
    histogram = {2: 100, 3: 40, 5: 10, 9: 1}  # 151 distinct eojeols with count >= 2
    assert noun_extraction.effective_min_count(histogram, 2, 1000) == 2
    assert noun_extraction.effective_min_count(histogram, 2, 151) == 2
    assert noun_extraction.effective_min_count(histogram, 2, 150) == 3  # 51 kept
    assert noun_extraction.effective_min_count(histogram, 2, 50) == 4  # 11 kept
    assert noun_extraction.effective_min_count(histogram, 2, 0) == 10


def test_merge_count_files_streams_sorted_shards(tmp_path):
    (tmp_path / "a.txt").write_text("가 3\n나는 1\n하나 7\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("가방 2\n다 5\n", encoding="utf-8")
    out = tmp_path / "merged.txt"
    with open(out, "wb") as f:
        kept, total = noun_extraction.merge_count_files(
            [str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], 2, [f]
        )
    assert out.read_text(encoding="utf-8") == "가 3\n가방 2\n다 5\n하나 7\n"
    assert (kept, total) == (4, 17)


# ------------------------------------------------------------------ scoring
def test_soynlp_nouns_unswaps_compound_scores():
    # soynlp 0.0.493 returns (score, count) for compounds (lovit/soynlp#159).
    scores = {"세제": (12, 0.9), "합성세제": (1.0, 4)}
    result = noun_extraction.soynlp_nouns(scores, {"합성세제": ("합성", "세제")})
    assert result == {
        "세제": Noun("세제", 12, 0.9),
        "합성세제": Noun("합성세제", 4, 1.0, ("합성", "세제")),
    }


def test_counts_file_and_sentences_give_the_same_nouns(tmp_path):
    config = NounsConfig(min_eojeol_count=1)
    counts = Counter(e for s in SENTENCES * 3 for e in noun_extraction.line_eojeols(s, 19)[0])
    path = tmp_path / "counts.txt"
    path.write_text(
        "".join(noun_extraction.format_count(e, c) for e, c in sorted(counts.items())), encoding="utf-8"
    )
    distributed = noun_extraction.extract_nouns(str(path), config)
    assert distributed == noun_extraction.extract_nouns_single_process(SENTENCES * 3, config)
    assert "합성세제액" in distributed and "계면활성제" in distributed


def _write_counts(path, items) -> str:
    path.write_text("".join(noun_extraction.format_count(e, c) for e, c in items), encoding="utf-8")
    return str(path)


def _partitioned(tmp_path, items, config, num_partitions):
    """Both passes over every partition, as the stage runs them; the union of what they find."""
    paths = [
        _write_counts(
            tmp_path / f"part-{i}-of-{num_partitions}.txt",
            [(e, c) for e, c in items if noun_extraction.partition_of(e, num_partitions) == i],
        )
        for i in range(num_partitions)
    ]
    predictions = [noun_extraction.predict_partition(p, config) for p in paths]
    compound_parts = {}
    for found in predictions:
        compound_parts.update(noun_extraction.compound_parts_index(found, config))
    nouns = {}
    for path, found in zip(paths, predictions, strict=True):
        nouns.update(noun_extraction.finish_partition(path, config, found, compound_parts))
    return nouns


@pytest.mark.parametrize("config", [NounsConfig(), NounsConfig(extract_compound=False, min_noun_score=0.5)])
def test_partitions_by_first_character_find_what_soynlp_finds_on_everything(tmp_path, config):
    """The demo corpus's real patent sentences: for any number of partitions, the union equals extract()."""
    pools = synthetic_corpus.sentence_pools(synthetic_corpus.load_sources())
    counts = Counter(
        e for section in sorted(pools) for s in pools[section] for e in noun_extraction.line_eojeols(s, 19)[0]
    )
    items = sorted((e, c) for e, c in counts.items() if c >= 2)
    everything = noun_extraction.extract_nouns(_write_counts(tmp_path / "all.txt", items), config)
    assert len(everything) > 500
    for num_partitions in (1, 2, 7, 64):
        assert _partitioned(tmp_path, items, config, num_partitions) == everything, num_partitions
    if config.extract_compound:
        # Compounds are split into nouns of other partitions (합성+세제+액): pass 2 needs them all.
        compounds = [n for n in everything.values() if n.compound]
        assert compounds and any(
            noun_extraction.partition_of(part, 7) != noun_extraction.partition_of(n.noun, 7)
            for n in compounds
            for part in n.parts
        )


def test_partition_of_is_the_first_characters_stable_hash():
    assert noun_extraction.partition_of("합성세제액은", 64) == noun_extraction.partition_of("합", 64)
    assert [noun_extraction.partition_of(w, 7) for w in ("발명", "발명은", "세제")] == [
        zlib.crc32("발".encode()) % 7,
        zlib.crc32("발".encode()) % 7,
        zlib.crc32("세".encode()) % 7,
    ]


def test_tsv_line():
    assert (
        noun_extraction.tsv_line(Noun("합성세제", 4, 1.0, ("합성", "세제")))
        == "합성세제\t4\t1.000000\ttrue\t합성+세제\n"
    )
    assert noun_extraction.tsv_line(Noun("세제", 12, 0.875)) == "세제\t12\t0.875000\tfalse\t\n"
