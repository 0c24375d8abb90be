"""The run report (`python -m pipeline report`): figures from a small synthetic output
root, checked exactly; no external reference in the page; a render in headless Chromium."""

from __future__ import annotations

import json
import os
import pathlib
import re

import pytest

from pipeline.pretraining.bert_instances import BertInstance
from pipeline.pretraining.example_writer import example_bytes, write_tfrecord_file
from pipeline.pretraining.features import bert_features
from tests.helpers import chromium_command, external_references, render_offline

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "본", "발명", "장치"]
# doc_id, cpc_section, sentences: rows of a document adjacent, as clean writes them
DOCS = [("KR1", "A", 3), ("KR2", "A", 1), ("KR3", "H", 2), ("KR4", "G", 4), ("KR5", "H", 1)]


def _manifest(stage: str, counters: dict, report: dict | None = None) -> dict:
    return {
        "stage": stage,
        "fingerprint": f"{stage}-fp",
        "finished_at": "2026-12-07T02:34:50Z",
        "seconds": 1.5,
        "runner": "DirectRunner",
        "versions": {"rule": f"{stage}_v1"},
        "counters": counters,
        **({"report": report} if report is not None else {}),
    }


def _write_json(path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")


def _write_sentences(folder) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.layout import sentence_schema

    folder.mkdir(parents=True)
    shards = [DOCS[:2], DOCS[2:]]
    for i, docs in enumerate(shards):
        rows = [
            {
                "doc_id": doc,
                "cpc_section": cpc,
                "paragraph_index": 0,
                "section": "description",
                "sentence_index": s,
                "text": "본 발명은 장치에 관한 것이다.",
            }
            for doc, cpc, n in docs
            for s in range(n)
        ]
        # row groups of 2 rows: a document's rows cross a batch boundary
        pq.write_table(
            pa.Table.from_pylist(rows, schema=sentence_schema()),
            folder / f"part-{i:05d}-of-00002.parquet",
            row_group_size=2,
        )


def _write_tfrecords(root) -> None:
    """bert-128: 3 train examples (one random next, masks 1, 2, 0), 1 eval example."""
    train = [
        BertInstance([2, 5, 4, 3, 7, 3], [0, 0, 0, 0, 1, 1], [2], [6], True),
        BertInstance([2, 5, 6, 3, 4, 4, 3], [0, 0, 0, 0, 1, 1, 1], [4, 5], [7, 7], False),
        BertInstance([2, 5, 3, 1, 3], [0, 0, 0, 1, 1], [], [], False),
    ]
    evaluation = [BertInstance([2, 6, 3, 7, 3], [0, 0, 0, 1, 1], [], [], False)]
    for split, instances in (("train", train), ("eval", evaluation)):
        folder = root / "tfrecords" / "bert-128" / f"Split-{split}"
        folder.mkdir(parents=True)
        records = [example_bytes(bert_features(x, 16, 4)) for x in instances]
        write_tfrecord_file(str(folder / "part-00000-of-00001.tfrecord.gz"), records, gzip=True)


def write_output_root(root) -> None:
    """A small output root with every stage but train: manifests plus the files the report reads."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sentences = sum(n for _, _, n in DOCS)
    _write_json(
        root / "ingest" / "manifest.json",
        _manifest("ingest", {"publications_written": 6, "rejected": 0}),
    )
    _write_json(
        root / "clean" / "manifest.json",
        _manifest(
            "clean",
            {
                "documents_written": len(DOCS),
                "sentences_written": sentences,
                "rejected_documents": 1,
                "rejected_documents_duplicate_document": 1,
                "sentences_dropped_low_hangul": 2,
                "paragraphs_written": 9,
            },
        ),
    )
    _write_sentences(root / "clean" / "sentences")
    (root / "clean" / "text").mkdir()
    (root / "clean" / "text" / "part-00000-of-00002.txt").write_bytes(b"x" * 1000)
    (root / "clean" / "text" / "part-00001-of-00002.txt").write_bytes(b"y" * 234)
    _write_json(
        root / "nouns" / "manifest.json",
        _manifest(
            "nouns",
            {"nouns_written": 3, "compounds_written": 1, "nouns_dropped": 5, "nouns_dropped_stopword": 5},
        ),
    )
    pq.write_table(
        pa.Table.from_pylist(
            [
                {"noun": "발명", "frequency": 9, "score": 1.0, "compound": False, "parts": []},
                {"noun": "장치", "frequency": 4, "score": 0.9, "compound": False, "parts": []},
                {
                    "noun": "표면처리",
                    "frequency": 3,
                    "score": 0.8,
                    "compound": True,
                    "parts": ["표면", "처리"],
                },
            ]
        ),
        root / "nouns" / "nouns.parquet",
    )
    check = {
        "sentences": sentences,
        "single_token_share_before": 0.25,
        "single_token_share": 0.75,
        "occurrence_single_token_share": 0.9,
        "target_single_token_share": 0.95,
        "meets_target": False,
        "examples_fixed": [
            {"noun": "표면처리", "before": "표면/처리", "after": "표면처리", "occurrences": 3}
        ],
        "examples_still_split": [],
    }
    _write_json(
        root / "dictionary" / "manifest.json",
        _manifest(
            "dictionary",
            {"entries_written": 4},
            {"check": check, "entries": 4, "entries_by_source": {"term_list": 3, "extracted": 1}},
        ),
    )
    _write_json(
        root / "morph" / "manifest.json", _manifest("morph", {"morphemes": 123, "sentences": sentences})
    )
    flavour = {"vocab_size": 8, "unk_rate": 0.01, "tokens_per_sentence": 12.5, "tokens_per_word": 1.5}
    _write_json(
        root / "vocab" / "manifest.json",
        _manifest(
            "vocab",
            {"long_words_dropped": 0},
            {
                "requested": {"bert": 100, "electra": 200},
                "flavours": {"bert": flavour, "electra": {**flavour, "tokens_per_sentence": 13.0}},
                "train_sentences": 10,
            },
        ),
    )
    (root / "vocab" / "bert").mkdir()
    (root / "vocab" / "bert" / "vocab.txt").write_text("\n".join(VOCAB) + "\n", encoding="utf-8")
    _write_tfrecords(root)
    _write_json(
        root / "tfrecords" / "manifest.json",
        _manifest("tfrecords", {"instances_dropped_empty_segment": 0}, {"bert-128": {"eval": 1, "train": 3}}),
    )
    _write_json(
        root / "finetune" / "bert" / "report.json",
        {
            "test_accuracy": 0.75,
            "majority_baseline": 0.5,
            "labels": ["A", "H"],
            "examples": {"train": 8, "dev": 1, "test": 4},
        },
    )


@pytest.fixture
def output_root(tmp_path):
    root = tmp_path / "out"
    write_output_root(root)
    return root


# ------------------------------------------------------------------ figures


def test_corpus_figures_equal_the_synthetic_outputs(output_root):
    from pipeline.tools.report import collect

    data = collect(str(output_root))
    corpus = data["corpus"]
    assert corpus["documents_by_cpc"] == {"A": 2, "G": 1, "H": 2}
    assert corpus["documents"] == 5 and corpus["sentences"] == 11 and corpus["morphemes"] == 123
    assert corpus["size_bytes"] == 1234
    assert data["korpatbert"]["documents_by_cpc"] == {"A": 564_606, "H": 1_013_023}
    assert data["korpatbert"]["sentences"] == 460_448_189
    assert data["korpatbert"]["morphemes"] == 24_949_133_115


def test_drops_nouns_dictionary_vocab_finetune(output_root):
    from pipeline.tools.report import collect

    data = collect(str(output_root))
    clean = {c["counter"]: c for c in data["drops"]["clean"]}
    assert clean["rejected_documents"] == {"counter": "rejected_documents", "count": 1, "total": True}
    assert clean["sentences_dropped_low_hangul"]["count"] == 2
    assert "paragraphs_written" not in clean
    assert [c["counter"] for c in data["drops"]["nouns"]] == ["nouns_dropped", "nouns_dropped_stopword"]
    assert [r["noun"] for r in data["nouns"]["top_nouns"]] == ["발명", "장치"]
    assert data["nouns"]["top_compounds"] == [{"noun": "표면처리", "parts": ["표면", "처리"], "frequency": 3}]
    assert data["dictionary"]["check"]["single_token_share"] == 0.75
    assert data["vocab"]["flavours"]["electra"]["tokens_per_sentence"] == 13.0
    assert data["finetune"]["bert"]["test_accuracy"] == 0.75
    assert data["training"] is None  # no train/ folder: not run yet


def test_tfrecord_figures_per_split(output_root):
    from pipeline.tools.report import collect

    output = collect(str(output_root))["tfrecords"]["outputs"]["bert-128"]
    assert output["written"] == {"eval": 1, "train": 3}
    train, evaluation = output["sampled"]["train"], output["sampled"]["eval"]
    assert train["examples"] == 3 and train["tokens"] == 18 and train["fill"] == 18 / 48
    assert train["nsp_random_next_share"] == 1 / 3
    assert train["masked_count_distribution"] == {"0": 1, "1": 1, "2": 1}
    assert train["unk_rate"] == 1 / 18
    assert evaluation["examples"] == 1 and evaluation["tokens"] == 5


def test_training_curves_from_event_files(output_root):
    import tensorflow as tf

    from pipeline.tools.report import collect
    from pipeline.tools.report_page import render

    run = output_root / "train" / "tfx" / "trainer_bert_128" / "model_run" / "7"
    for writer_name, points in (("train", [(10, 5.0, 0.1), (20, 4.0, 0.2)]), ("eval", [(20, 4.5, 0.15)])):
        writer = tf.summary.create_file_writer(str(run / writer_name))
        with writer.as_default():
            for step, loss, accuracy in points:
                tf.summary.scalar("loss", loss, step=step)
                tf.summary.scalar("mlm_accuracy", accuracy, step=step)
        writer.close()
    data = collect(str(output_root))
    curves = data["training"]
    assert set(curves) == {"bert_128 train", "bert_128 eval"}
    assert curves["bert_128 train"]["loss"] == [[10, 5.0], [20, 4.0]]
    assert [p[0] for p in curves["bert_128 eval"]["mlm_accuracy"]] == [20]
    assert "MLM accuracy" in render(data)


def test_report_command_writes_page_and_json(output_root, capsys):
    from pipeline.cli import main

    assert main(["report", "--root", str(output_root)]) == 0
    assert "index.html" in capsys.readouterr().out
    data = json.loads((output_root / "report" / "report.json").read_text(encoding="utf-8"))
    assert data["corpus"]["documents"] == 5
    page = (output_root / "report" / "index.html").read_text(encoding="utf-8")
    assert page.startswith("<!doctype html>") and '<html lang="ko">' in page
    assert "Noto Sans KR" in page and "Malgun Gothic" in page
    for figure in ("564,606", "1,013,023", "460,448,189", "24,949,133,115", "117.0 GB"):
        assert figure in page
    assert "not run yet: stage train" in page


def test_report_command_without_a_root(tmp_path, capsys):
    from pipeline.cli import main

    assert main(["report", "--root", str(tmp_path / "missing")]) == 2
    assert "output root not found" in capsys.readouterr().err


def test_every_section_says_not_run_yet_on_an_empty_root(tmp_path):
    from pipeline.tools.report import collect
    from pipeline.tools.report_page import render

    (tmp_path / "out").mkdir()
    data = collect(str(tmp_path / "out"))
    assert all(
        data[k] is None
        for k in ("corpus", "drops", "nouns", "vocab", "tfrecords", "training", "finetune", "evaluate")
    )
    page = render(data)
    for stage in ("clean", "nouns", "dictionary", "vocab", "tfrecords", "train"):
        assert f"not run yet: stage {stage}" in page


# ------------------------------------------------------------------ offline


def test_report_has_no_external_reference(output_root):
    from pipeline.tools.report import write_report

    page = pathlib.Path(write_report(str(output_root))).read_text(encoding="utf-8")
    assert external_references(page) == []
    assert not re.search(r"https?://", page.replace(str(output_root), ""))
    assert "<script" not in page
    assert external_references(
        '<link href="https://cdn.example/x.css"><style>@import "http://f/a.css";</style>'
    ) == [
        "https://cdn.example/x.css",
        "http://f/a.css",
    ]


def test_report_renders_in_headless_chromium(output_root, tmp_path):
    """Draws offline: the DOM Chromium built holds no external reference, and a screenshot comes out."""
    from pipeline.tools.report import write_report

    if chromium_command() is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    path = os.path.abspath(write_report(str(output_root)))
    dom = render_offline(path, tmp_path / "report.png")
    assert "Corpus (KorPatBERT" in dom and "<svg" in dom
    assert external_references(dom) == []
    assert (tmp_path / "report.png").stat().st_size > 10_000


@pytest.mark.slow
def test_report_on_the_demo_run(demo_tfrecords, tmp_path):
    """On the demo run, the corpus table equals the manifests' counts."""
    from pipeline.tools.report import collect, write_report

    root = demo_tfrecords

    def manifest(stage):
        with open(os.path.join(root, stage, "manifest.json"), encoding="utf-8") as f:
            return json.load(f)

    data = collect(root, examples=200)
    clean = manifest("clean")["counters"]
    corpus = data["corpus"]
    assert corpus["documents"] == clean["documents_written"] == sum(corpus["documents_by_cpc"].values())
    assert set(corpus["documents_by_cpc"]) <= set("ABCDEFGH")
    assert corpus["sentences"] == clean["sentences_written"]
    assert corpus["morphemes"] == manifest("morph")["counters"]["morphemes"]
    for name, output in data["tfrecords"]["outputs"].items():
        assert output["written"] == manifest("tfrecords")["report"][name]
        assert output["sampled"]["train"]["examples"] == min(200, output["written"]["train"])
    page = pathlib.Path(write_report(root, str(tmp_path / "report"), examples=200)).read_text(
        encoding="utf-8"
    )
    assert external_references(page) == []


def test_evaluation_table_merges_tasks_per_model_and_renders(tmp_path):
    """components.tasks.evaluate writes one row per model, a cell per task; the report shows
    KorPatELECTRA's columns with each baseline."""
    from components.tasks.evaluate import update_results
    from pipeline.tools.report import collect
    from pipeline.tools.report_page import render

    path = str(tmp_path / "evaluate" / "results.json")
    update_results(path, "bert-128/7", 14937, "ner", {"f1": 0.2081, "baseline": {"f1": 0.0}})
    update_results(path, "bert-128/7", 14937, "cls", {"accuracy": 0.6232, "baseline": {"accuracy": 0.1304}})
    update_results(
        path,
        "bert-128/7",
        14937,
        "qa",
        {"exact_match": 20.0, "f1": 22.93, "baseline": {"exact_match": 0.0, "f1": 5.78}},
    )
    update_results(path, "korpatbert/google", 21400, "cls", {"accuracy": 0.9, "baseline": {"accuracy": 0.13}})
    data = collect(str(tmp_path))
    assert data["evaluate"]["rows"] == [
        {
            "model": "bert-128/7",
            "vocab_size": 14937,
            "ner_f1": 0.2081,
            "ner_baseline": 0.0,
            "cpc_accuracy": 0.6232,
            "cpc_baseline": 0.1304,
            "qa_exact_match": 20.0,
            "qa_f1": 22.93,
            "qa_baseline_exact_match": 0.0,
            "qa_baseline_f1": 5.78,
        },
        {"model": "korpatbert/google", "vocab_size": 21400, "cpc_accuracy": 0.9, "cpc_baseline": 0.13},
    ]
    html = render(data)
    assert '<th class="num">QA EM / F1</th>' in html
    assert "20.81 (baseline 0.00)" in html and "62.32 (baseline 13.04)" in html
    assert "20.00 / 22.93 (baseline 0.00 / 5.78)" in html
