"""Stage `vocab`: the sampling transform (TestPipeline), and (slow) the stage on the demo corpus
through the CLI."""

import hashlib
import json
import os
import shutil
import subprocess
import sys

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import VocabConfig
from pipeline.stages import vocab as V
from pipeline.text.tokenizer import Tokenizer
from tests.helpers import REPO, demo_golden


def _row(doc, sentence, morphemes):
    starts = "".join("1" if i == 0 else "0" for i, _ in enumerate(morphemes.split()))
    return {
        "doc_id": doc,
        "paragraph_index": 0,
        "sentence_index": sentence,
        "morphemes": morphemes,
        "word_starts": starts,
    }


def test_sample_sentences_transform_lines_and_counts():
    config = VocabConfig(eval_sentences=0, max_sentence_bytes=64)
    long_morphemes = " ".join(["반도체"] * 10)  # 10 x 9 bytes + spaces > 64
    rows = [_row("KR1", 0, "본 발명(漢) 은 LED 이 다 ."), _row("KR2", 0, long_morphemes)]
    with TestPipeline() as p:
        out = p | beam.Create(rows) | V.SampleSentences(config)
        assert_that(
            out["train"],
            equal_to(["본 발명 ( 漢 ) 은 LED 이 다 .", " ".join(["반도체"] * 6), " ".join(["반도체"] * 4)]),
            label="Train",
        )
        assert_that(out["eval"], equal_to([]), label="Eval")
        expected = {"본": 1, "발명": 1, "(": 1, "漢": 1, ")": 1, "은": 1, "LED": 1, "이": 1, "다": 1}
        expected |= {".": 1, "반도체": 10}
        assert_that(out["counts"], equal_to([f"{w}\t{n}" for w, n in expected.items()]), label="Counts")
        result = p.run()
    result.wait_until_finish()


def test_sample_sentences_holds_out_eval_rows():
    config = VocabConfig(eval_sentences=1000, sample_sentences=1000)
    rows = [_row("KR1", i, "본 발명") for i in range(3)]
    with TestPipeline() as p:
        out = p | beam.Create(rows) | V.SampleSentences(config)
        record = json.dumps({"morphemes": "본 발명", "word_starts": "10"}, ensure_ascii=False, sort_keys=True)
        assert_that(out["eval"], equal_to([record] * 3), label="Eval")
        assert_that(out["train"], equal_to([]), label="Train")


def _cli(config, *args):
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args, "--config", config],
        cwd=REPO,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=900,
    )


def _digests(folder):
    names = ["bert/vocab.txt", "bert/spm.model", "bert/spm.vocab", "electra/vocab.txt"]
    return {n: hashlib.sha256(open(os.path.join(folder, n), "rb").read()).hexdigest() for n in names}


@pytest.mark.slow
def test_vocab_stage_on_demo(demo_tfrecords, demo_copy, tmp_path):
    # The session's demo run (`run --to tfrecords`), copied to this test's output root.
    shutil.copytree(demo_tfrecords, tmp_path / "out")
    out = os.path.join(tmp_path, "out", "vocab")
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    c = manifest["counters"]
    assert c["sentences_read"] == c["sentences_train"] + c["sentences_eval"] + c["sentences_unsampled"]
    assert {k: v for k, v in c.items() if not k.startswith("progress_")} == demo_golden()["vocab"]
    report = manifest["report"]
    assert report["requested"] == {"bert": 21400, "electra": 35000}
    assert report["capped"]["bert"] and report["actual"]["bert_spm_pieces"] < 21400

    bert = Tokenizer(os.path.join(out, "bert", "vocab.txt"), mode="fast", pretokenized=True)
    electra = Tokenizer(os.path.join(out, "electra", "vocab.txt"), mode="fast", pretokenized=True)
    assert bert.layout == "korpat" and electra.layout == "bert"
    assert "[UNK]" not in bert.tokenize("본 발명 은 세제 에 관한 것 이 다 .")
    with open(os.path.join(out, "report.json"), encoding="utf-8") as f:
        flavours = json.load(f)["flavours"]
    assert set(flavours) == {"bert", "electra"}
    assert all(f["unk_rate"] < 0.01 and len(f["longest_pieces"]) == 50 for f in flavours.values())
    with open(os.path.join(out, "report.md"), encoding="utf-8") as f:
        assert "| BERT (SentencePiece) | ELECTRA (WordPiece) |" in f.read()

    before = _digests(out)
    result = _cli(demo_copy, "stage", "vocab")
    assert result.returncode == 0, result.stderr[-3000:]
    assert _digests(out) == before

    # `tokenize` defaults to the stage's BERT vocab.
    result = _cli(demo_copy, "tokenize", "본 발명은 세제에 관한 것이다.")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[CLS] 본 발명 은" in result.stdout
