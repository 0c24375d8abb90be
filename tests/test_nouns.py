"""Stage nouns: counting, soynlp scoring and filters; the distributed path equals soynlp's own."""

import json
from collections import Counter

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import NounsConfig, PipelineConfig, load_config
from pipeline.run.runner import StageContext, expected_fingerprints, stage_table
from pipeline.stages import nouns
from pipeline.stages.nouns import Noun, NounRules
from pipeline.tools import synthetic_corpus
from tests.helpers import REPO, write_config

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
    assert nouns.line_eojeols("본 발명은  합성세제액에 관한 것이다.", 19) == (
        ["본", "발명은", "합성세제액에", "관한", "것이다."],
        0,
    )
    assert nouns.line_eojeols("가나다라마바사 짧다", 5) == (["짧다"], 1)
    assert nouns.line_eojeols("", 19) == ([], 0)


def test_histograms_and_effective_min_count():
    assert nouns.count_histogram([1, 1, 2, 5]) == {1: 2, 2: 1, 5: 1}
    assert nouns.merge_histograms([{1: 2, 2: 1}, {2: 3, 7: 1}, {}]) == {1: 2, 2: 4, 7: 1}
    histogram = {2: 100, 3: 40, 5: 10, 9: 1}  # 151 distinct eojeols with count >= 2
    assert nouns.effective_min_count(histogram, 2, 1000) == 2
    assert nouns.effective_min_count(histogram, 2, 151) == 2
    assert nouns.effective_min_count(histogram, 2, 150) == 3  # 51 kept
    assert nouns.effective_min_count(histogram, 2, 50) == 4  # 11 kept
    assert nouns.effective_min_count(histogram, 2, 0) == 10


def test_merge_count_files_streams_sorted_shards(tmp_path):
    (tmp_path / "a.txt").write_text("가 3\n나는 1\n하나 7\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("가방 2\n다 5\n", encoding="utf-8")
    out = tmp_path / "merged.txt"
    with open(out, "wb") as f:
        kept, total = nouns.merge_count_files([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")], 2, [f])
    assert out.read_text(encoding="utf-8") == "가 3\n가방 2\n다 5\n하나 7\n"
    assert (kept, total) == (4, 17)


# ------------------------------------------------------------------ scoring


def test_soynlp_nouns_unswaps_compound_scores():
    # soynlp 0.0.493 returns (score, count) for compounds (lovit/soynlp#159).
    scores = {"세제": (12, 0.9), "합성세제": (1.0, 4)}
    result = nouns.soynlp_nouns(scores, {"합성세제": ("합성", "세제")})
    assert result == {
        "세제": Noun("세제", 12, 0.9),
        "합성세제": Noun("합성세제", 4, 1.0, ("합성", "세제")),
    }


def test_counts_file_and_sentences_give_the_same_nouns(tmp_path):
    config = NounsConfig(min_eojeol_count=1)
    counts = Counter(e for s in SENTENCES * 3 for e in nouns.line_eojeols(s, 19)[0])
    path = tmp_path / "counts.txt"
    path.write_text("".join(nouns.format_count(e, c) for e, c in sorted(counts.items())), encoding="utf-8")
    distributed = nouns.extract_nouns(str(path), config)
    assert distributed == nouns.extract_nouns_single_process(SENTENCES * 3, config)
    assert "합성세제액" in distributed and "계면활성제" in distributed


# ------------------------------------------------------------------ filters

RULES = nouns.make_rules(
    NounsConfig(min_noun_frequency=2),
    stop_list="# comment\n상기\n-하면\n나타  # stem\n",
    units_list="mm\n중량%\n℃\n",
)


def test_make_rules_reads_words_suffixes_and_comments():
    assert RULES.stopwords == frozenset({"상기", "나타"})
    assert RULES.stop_suffixes == ("하면",)
    assert RULES.units == frozenset({"mm", "중량%", "℃"})


@pytest.mark.parametrize(
    "word, frequency, parts, reason",
    [
        ("합성세제액", 10, ("합성", "세제", "액"), None),
        ("계면활성제", 10, (), None),
        ("세제", 1, (), "low_frequency"),
        ("mm", 50, (), "unit"),
        ("10mm", 50, (), "unit"),
        ("3.5중량%", 50, (), "unit"),
        ("℃", 50, (), "unit"),
        ("①", 50, (), "number_or_symbol"),
        ("1.5", 50, (), "number_or_symbol"),
        ("(2)", 50, (), "number_or_symbol"),
        ("제1항", 50, (), "contains_digits"),
        ("500시간", 50, (), "contains_digits"),
        ("“발명”", 50, (), "punctuation"),
        ("(c)", 50, (), "punctuation"),
        ("층", 50, (), "too_short"),
        ("가" * 21, 50, (), "too_long"),
        ("PET", 50, (), "non_hangul"),
        ("PET필름", 50, (), "non_hangul"),  # 2 of 5 characters are Hangul
        ("상기", 50, (), "stopword"),
        ("감압하면", 50, (), "stopword"),  # suffix -하면
        ("나타부재", 50, ("나타", "부재"), "stopword"),  # a stopword part
    ],
)
def test_noun_drop_reason(word, frequency, parts, reason):
    assert nouns.noun_drop_reason(Noun(word, frequency, 0.9, parts), RULES) == reason


def test_digits_and_latin_can_be_kept():
    rules = NounRules(allow_digits=True, min_hangul_ratio=0.0)
    assert nouns.noun_drop_reason(Noun("제1전극", 5, 1.0), rules) is None
    assert nouns.noun_drop_reason(Noun("PET필름", 5, 1.0), rules) is None


def test_filter_nouns_sorts_and_keeps_every_drop():
    raw = {w: Noun(w, f, 1.0) for w, f in (("세제", 5), ("전지", 9), ("①", 9), ("상기", 30), ("계면", 5))}
    kept, dropped = nouns.filter_nouns(raw, RULES)
    assert [n.noun for n in kept] == ["전지", "계면", "세제"]
    assert [(n.noun, r) for n, r in dropped] == [("①", "number_or_symbol"), ("상기", "stopword")]


def test_bundled_lists_load():
    with open(f"{REPO}/dictionaries/stopwords.txt", encoding="utf-8") as f:
        stop = f.read()
    with open(f"{REPO}/dictionaries/units.txt", encoding="utf-8") as f:
        units = f.read()
    rules = nouns.make_rules(NounsConfig(), stop, units)
    assert "나타" in rules.stopwords and "하면" in rules.stop_suffixes and "중량부" in rules.units
    assert not any(" " in w for w in rules.stopwords | rules.units)


def test_tsv_line():
    assert (
        nouns.tsv_line(Noun("합성세제", 4, 1.0, ("합성", "세제")))
        == "합성세제\t4\t1.000000\ttrue\t합성+세제\n"
    )
    assert nouns.tsv_line(Noun("세제", 12, 0.875)) == "세제\t12\t0.875000\tfalse\t\n"


# ------------------------------------------------------------------ Beam


@pytest.mark.parametrize("max_keys", [500_000, 2])  # 2: the task's dict is flushed often
def test_count_eojeols_transform(tmp_path, monkeypatch, max_keys):
    monkeypatch.setattr(nouns.CountFileEojeols, "MAX_KEYS", max_keys)
    (tmp_path / "a.txt").write_text("합성세제액 합성세제액은 좋다\n\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("합성세제액은 좋다 가나다라마바사아자\n", encoding="utf-8")
    p = TestPipeline()
    paths = p | beam.Create([str(tmp_path / "a.txt"), str(tmp_path / "b.txt")])
    counts = paths | nouns.CountEojeols(max_length=6, min_count=2)
    assert_that(counts, equal_to([("합성세제액은", 2), ("좋다", 2)]))
    result = p.run()
    result.wait_until_finish()
    counters = {
        c.key.metric.name: c.committed
        for c in result.metrics().query()["counters"]
        if c.key.metric.namespace == nouns.NAME
    }
    assert counters == {
        "sentences_in": 2,
        "eojeols_in": 6,
        "eojeols_too_long": 1,
        "distinct_eojeols": 3,
        "distinct_eojeols_pruned_min_count": 1,
        "progress_sentences": 2,
    }


def _demo_sentences() -> list[str]:
    pools = synthetic_corpus.sentence_pools(synthetic_corpus.load_sources())
    return [s for section in sorted(pools) for s in pools[section]]


def _run_extract(tmp_path, sentences, config, rules=RULES, shards=3):
    text = tmp_path / "text"
    text.mkdir()
    for i in range(2):  # two text shards, as clean writes them
        part = sentences[i::2]
        (text / f"part-0000{i}-of-00002.txt").write_text("\n".join(part) + "\n\n", encoding="utf-8")
    out = tmp_path / "nouns"
    with TestPipeline() as p:
        _ = p | nouns.ExtractNouns(str(text / "part-*.txt"), config, rules, str(out), shards)
    return out


def _written_and_rejected(out) -> dict[str, Noun]:
    rows = pq.read_table(str(out / nouns.NOUNS_PARQUET)).to_pylist()
    with open(out / nouns.REJECTS, encoding="utf-8") as f:
        rows += [json.loads(line) for line in f]
    return {r["noun"]: Noun(r["noun"], r["frequency"], r["score"], tuple(r["parts"])) for r in rows}


def test_distributed_path_equals_soynlp_train_extract_on_the_demo_corpus(tmp_path):
    """Beam counting + EojeolCounter.load + soynlp scoring == plain train_extract on the same sentences."""
    sentences = _demo_sentences()
    config = NounsConfig()
    out = _run_extract(tmp_path, sentences, config)
    reference = nouns.extract_nouns_single_process(sentences, config)
    assert len(reference) > 500 and any(n.compound for n in reference.values())
    # Every noun soynlp returned is written or rejected with a reason, with the same figures.
    assert _written_and_rejected(out) == reference
    report = json.loads((out / nouns.SCORING_REPORT).read_text(encoding="utf-8"))
    assert report["effective_min_eojeol_count"] == 2 and report["eojeols_kept"] > 1000
    assert report["scoring_memory_mb"] >= 0
    counts = (out / nouns.EOJEOL_COUNTS).read_text(encoding="utf-8").splitlines()
    assert counts == sorted(counts, key=lambda line: line.rsplit(" ", 1)[0])
    assert len(counts) == report["eojeols_kept"]


def test_outputs_are_sorted_and_readable(tmp_path):
    out = _run_extract(tmp_path, SENTENCES * 3, NounsConfig(min_eojeol_count=1), shards=2)
    lines = (out / nouns.NOUNS_TSV).read_text(encoding="utf-8").splitlines()
    assert lines[0] == "noun\tfrequency\tscore\tcompound\tparts"
    rows = [line.split("\t") for line in lines[1:]]
    assert rows == sorted(rows, key=lambda r: (-int(r[1]), r[0]))
    assert "합성세제액" in [r[0] for r in rows]
    assert pq.read_table(str(out / nouns.NOUNS_PARQUET)).column_names == [
        "noun",
        "frequency",
        "score",
        "compound",
        "parts",
    ]


def test_max_eojeols_raises_the_threshold(tmp_path):
    out = _run_extract(tmp_path, SENTENCES * 3, NounsConfig(min_eojeol_count=1, max_eojeols=5), shards=2)
    report = json.loads((out / nouns.SCORING_REPORT).read_text(encoding="utf-8"))
    assert report["eojeols_kept"] <= 5
    assert report["effective_min_eojeol_count"] > 1


def test_disabled_stage_writes_empty_outputs(tmp_path):
    config = PipelineConfig(nouns=NounsConfig(enabled=False))
    ctx = StageContext(config, str(tmp_path / "nouns"), {"clean": str(tmp_path / "clean")})
    with TestPipeline() as p:
        nouns.build(p, ctx)
    assert pq.read_table(str(tmp_path / "nouns" / nouns.NOUNS_PARQUET)).num_rows == 0
    assert (tmp_path / "nouns" / nouns.NOUNS_TSV).read_text(encoding="utf-8") == nouns.TSV_HEADER
    assert nouns.finalize(ctx) == {"enabled": False, "eojeols_kept": 0}


def test_editing_the_stop_list_makes_the_stage_stale(tmp_path, tiny_inputs):
    stop = tmp_path / "stop.txt"
    stop.write_text("상기\n", encoding="utf-8")
    tiny_inputs["nouns"] = {"stop_list": str(stop), "units_list": f"{REPO}/dictionaries/units.txt"}
    config = load_config(write_config(tmp_path, tiny_inputs))
    before = expected_fingerprints(config, stage_table())
    stop.write_text("상기\n나타\n", encoding="utf-8")
    after = expected_fingerprints(config, stage_table())
    assert after["clean"] == before["clean"]
    assert after["nouns"]["fingerprint"] != before["nouns"]["fingerprint"]
    assert after["dictionary"]["fingerprint"] != before["dictionary"]["fingerprint"]
