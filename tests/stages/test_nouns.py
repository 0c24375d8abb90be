"""Stage nouns as Beam transforms: counting, the central scoring step, outputs; the distributed path equals soynlp's own."""

import json

import apache_beam as beam
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import NounsConfig, PipelineConfig, load_config
from pipeline.run.runner import StageContext, expected_fingerprints, stage_table
from pipeline.stages import nouns
from pipeline.text import noun_extraction, noun_filters
from pipeline.text.noun_extraction import Noun
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


# ------------------------------------------------------------------ filters
RULES = noun_filters.make_rules(
    NounsConfig(min_noun_frequency=2),
    stop_list="# comment\n상기\n-하면\n나타  # stem\n",
    units_list="mm\n중량%\n℃\n",
)


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


@pytest.mark.parametrize("partitions", [1, 7])
def test_distributed_path_equals_soynlp_train_extract_on_the_demo_corpus(tmp_path, partitions):
    """Beam counting + soynlp scoring in partitions == plain train_extract on the same sentences."""
    sentences = _demo_sentences()
    config = NounsConfig()
    out = _run_extract(tmp_path, sentences, config, shards=partitions)
    reference = noun_extraction.extract_nouns_single_process(sentences, config)
    assert len(reference) > 500 and any(n.compound for n in reference.values())
    # Every noun soynlp returned is written or rejected with a reason, with the same figures.
    assert _written_and_rejected(out) == reference
    report = json.loads((out / nouns.SCORING_REPORT).read_text(encoding="utf-8"))
    assert report["effective_min_eojeol_count"] == 2 and report["eojeols_kept"] > 1000
    assert report["scoring_memory_mb"] >= 0 and report["scoring_partitions"] == partitions
    assert report["partitions_with_eojeols"] == partitions
    assert 0 < report["largest_partition_eojeols"] <= report["eojeols_kept"]
    counts = (out / nouns.EOJEOL_COUNTS).read_text(encoding="utf-8").splitlines()
    assert counts == sorted(counts, key=lambda line: line.rsplit(" ", 1)[0])
    assert len(counts) == report["eojeols_kept"]


def test_outputs_are_sorted_and_readable(tmp_path):
    # 64 partitions for a few dozen eojeols: most partitions are empty.
    out = _run_extract(tmp_path, SENTENCES * 3, NounsConfig(min_eojeol_count=1), shards=64)
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
    assert (tmp_path / "nouns" / nouns.NOUNS_TSV).read_text(encoding="utf-8") == noun_extraction.TSV_HEADER
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
