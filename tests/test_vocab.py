"""Stage `vocab`: sampling, SentencePiece -> WordPiece export, Korean-safe learner settings,
the report, and (slow) the stage on the demo corpus through the CLI."""

import hashlib
import json
import os
import subprocess
import sys

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from pipeline.config import VocabConfig
from pipeline.stages import vocab as V
from pipeline.text.tokenizer import BERT_HEAD, KORPAT_HEAD, Tokenizer
from tests.helpers import REPO

# --- sampling -------------------------------------------------------------------


def test_sample_position_is_seeded_and_stable():
    a = V.sample_position(0, "KR1", 3, 2)
    assert a == V.sample_position(0, "KR1", 3, 2)
    assert 0 <= a < 1
    assert a != V.sample_position(1, "KR1", 3, 2)
    assert a != V.sample_position(0, "KR1", 3, 1)


def test_sample_bands_are_disjoint_and_sized():
    positions = [V.sample_position(7, f"KR{i}", 0, 0) for i in range(20000)]
    bands = [V.sample_band(u, len(positions), 1000, 5000) for u in positions]
    assert abs(bands.count("eval") - 1000) < 150
    assert abs(bands.count("train") - 5000) < 300
    # A corpus smaller than the sample: everything but the held-out part trains.
    assert V.sample_band(0.99, 100, 10, 5_000_000) == "train"
    assert V.sample_band(0.05, 100, 10, 5_000_000) == "eval"
    assert V.sample_band(0.5, 0, 10, 10) is None


def test_long_sentences_are_cut_between_words_and_counted():
    words = ["반도체", "기판", "은", "x" * 20, "상기", "제1", "층"]
    lines, dropped = V.split_long(words, 12)
    assert dropped == 1  # the 20-byte word alone exceeds the limit
    assert lines == ["반도체", "기판 은", "상기 제1", "층"]
    assert all(len(line.encode()) <= 12 for line in lines)
    assert V.split_long(["본", "발명"], 4192) == (["본 발명"], 0)


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


# --- SentencePiece -> BERT vocab.txt ------------------------------------------------


def test_sentencepiece_pieces_become_korpat_wordpiece_lines():
    pieces = [*KORPAT_HEAD, "▁", "▁발명", "▁은", "체", "▁반도", "▁.", "▁LED", "漢", "▁漢", "▁체", "체"]
    assert V.sentencepiece_to_wordpiece(pieces) == [
        *KORPAT_HEAD,
        *["발명", "은", "##체", "반도", ".", "LED", "##漢", "漢", "체"],
        # one-character pieces get both forms, appended last
    ]
    assert V.sentencepiece_to_wordpiece([*KORPAT_HEAD, "▁가나", "다", "▁라"]) == [
        *KORPAT_HEAD,
        *["가나", "##다", "라", "다"],
    ]
    with pytest.raises(ValueError, match="does not start"):
        V.sentencepiece_to_wordpiece(["<unk>", "<s>", "</s>", "가"])


CORPUS = [
    "본 발명 은 LED 소자 에 관한 것 이 다 .",
    "상기 LED 칩 은 漢 字 와 Si 기판 을 포함 한다 .",
    "반도체 소자 의 SiO 층 은 LED 와 다르 다 .",
] * 30


def test_sentencepiece_keeps_case_and_hanja_and_fixes_the_head():
    model, size = V.train_sentencepiece(CORPUS, 80, num_threads=1)
    assert size == 80
    words = V.sentencepiece_to_wordpiece([p for p, _ in V.sentencepiece_pieces(model)])
    assert tuple(words[:8]) == KORPAT_HEAD
    assert "LED" in words and "led" not in words  # never lower-cased
    assert "漢" in words and "字" in words
    assert "Si" in words or "##i" in words and "S" in words


def test_too_large_sentencepiece_size_is_capped_not_fatal():
    model, size = V.train_sentencepiece(CORPUS, 21400, num_threads=1)
    assert 30 < size < 21400
    assert len(V.sentencepiece_pieces(model)) == size
    with pytest.raises(RuntimeError, match="too high"):
        V.train_sentencepiece(CORPUS, 21400, num_threads=1, cap_vocab_size=False)


# 1200 distinct Hangul syllables and Hanja: more than the learner's default alphabet of 1000.
MANY_CHARS = [chr(0xAC00 + i) for i in range(900)] + [chr(0x4E00 + i) for i in range(300)]


def test_alphabet_is_not_capped_at_1000_characters():
    sentences = [" ".join(MANY_CHARS[i : i + 30]) for i in range(0, len(MANY_CHARS), 30)] * 3
    # Each character is 1/2400 of the text (spaces count): below 1 - 0.9995, so one
    # would be left out by design at the default coverage.
    model, _ = V.train_sentencepiece(sentences, 3000, num_threads=1, character_coverage=0.9999)
    bert = set(V.sentencepiece_to_wordpiece([p for p, _ in V.sentencepiece_pieces(model)]))
    assert all(c in bert and "##" + c in bert for c in MANY_CHARS)

    counts = [(c, 5) for c in MANY_CHARS] + [("LED", 20), ("漢字", 3)]
    assert V.alphabet_size(counts, 0.9995) >= 1200
    electra = V.learn_wordpiece(counts, 3000, VocabConfig(wordpiece_lower_thresh=1))
    assert tuple(electra[:5]) == BERT_HEAD
    assert all(c in electra and "##" + c in electra for c in MANY_CHARS)
    assert "LED" in electra and "led" not in electra and "##" not in electra


def test_alphabet_size_follows_coverage():
    counts = [("가", 9990), ("나", 9), ("漢", 1)]
    assert V.alphabet_size(counts, 0.999) == 1
    assert V.alphabet_size(counts, 0.9995) == 2
    assert V.alphabet_size(counts, 1.0) == 3


# --- report -------------------------------------------------------------------------


def test_flavour_report_on_a_literal_vocab(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("\n".join([*BERT_HEAD, "본", "발명", "은", "세제", "##액", "."]) + "\n", encoding="utf-8")
    tok = Tokenizer(str(path), mode="fast", pretokenized=True)
    rows = [
        {"morphemes": "본 발명 은 세제액 .", "word_starts": "10101"},  # 본 발명은 세제액.
        {"morphemes": "본 발명 은 漢", "word_starts": "1101"},
    ]
    report = V.flavour_report(tok, rows, ["발명", "세제액", "표면"], seen_words={"발명", "세제액"})
    assert report["tokens"] == 10
    assert report["unk_rate"] == 0.1
    assert report["tokens_per_sentence"] == 5.0
    assert report["tokens_per_word"] == round(10 / 6, 3)
    assert report["vocab_used_share"] == 1.0
    assert report["dictionary_nouns_single_token_share"] == round(1 / 3, 4)
    assert report["dictionary_nouns_seen"] == 2
    assert report["dictionary_nouns_seen_single_token_share"] == 0.5
    assert report["longest_pieces"][:2] == ["발명", "세제"]
    md = V.report_markdown(
        {
            "requested": {"bert": 10, "electra": 10},
            "train_sentences": 2,
            "flavours": {"bert": report, "electra": report},
        }
    )
    assert "| [UNK] rate (share of tokens) | 0.1 | 0.1 |" in md


# --- the stage on the demo corpus (slow) ------------------------------------------------


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
def test_vocab_stage_on_demo(demo_copy, tmp_path):
    result = _cli(demo_copy, "run", "--to", "vocab")
    assert result.returncode == 0, result.stderr[-3000:]
    out = os.path.join(tmp_path, "out", "vocab")
    with open(os.path.join(out, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    c = manifest["counters"]
    assert c["sentences_read"] == c["sentences_train"] + c["sentences_eval"] + c["sentences_unsampled"]
    assert c["sentences_eval"] > 0 and "long_sentences_split" in c
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
