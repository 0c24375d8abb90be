"""Vocab learning: the seeded sample, SentencePiece -> WordPiece export, Korean-safe learner settings."""

import pytest

from pipeline.config import VocabConfig
from pipeline.pretraining.vocab_learning import (
    alphabet_size,
    learn_wordpiece,
    probe_levels,
    sample_band,
    sample_position,
    search_tree,
    sentencepiece_pieces,
    sentencepiece_to_wordpiece,
    split_long,
    train_sentencepiece,
)
from pipeline.text.tokenizer import BERT_HEAD, KORPAT_HEAD


def test_sample_position_is_seeded_and_stable():
    a = sample_position(0, "KR1", 3, 2)
    assert a == sample_position(0, "KR1", 3, 2)
    assert 0 <= a < 1
    assert a != sample_position(1, "KR1", 3, 2)
    assert a != sample_position(0, "KR1", 3, 1)


def test_sample_bands_are_disjoint_and_sized():
    positions = [sample_position(7, f"KR{i}", 0, 0) for i in range(20000)]
    bands = [sample_band(u, len(positions), 1000, 5000) for u in positions]
    assert abs(bands.count("eval") - 1000) < 150
    assert abs(bands.count("train") - 5000) < 300
    # A corpus smaller than the sample: everything but the held-out part trains.
    assert sample_band(0.99, 100, 10, 5_000_000) == "train"
    assert sample_band(0.05, 100, 10, 5_000_000) == "eval"
    assert sample_band(0.5, 0, 10, 10) is None


def test_long_sentences_are_cut_between_words_and_counted():
    words = ["반도체", "기판", "은", "x" * 20, "상기", "제1", "층"]
    lines, dropped = split_long(words, 12)
    assert dropped == 1  # the 20-byte word alone exceeds the limit
    assert lines == ["반도체", "기판 은", "상기 제1", "층"]
    assert all(len(line.encode()) <= 12 for line in lines)
    assert split_long(["본", "발명"], 4192) == (["본 발명"], 0)


def test_sentencepiece_pieces_become_korpat_wordpiece_lines():
    pieces = [*KORPAT_HEAD, "▁", "▁발명", "▁은", "체", "▁반도", "▁.", "▁LED", "漢", "▁漢", "▁체", "체"]
    assert sentencepiece_to_wordpiece(pieces) == [
        *KORPAT_HEAD,
        *["발명", "은", "##체", "반도", ".", "LED", "##漢", "漢", "체"],
        # one-character pieces get both forms, appended last
    ]
    assert sentencepiece_to_wordpiece([*KORPAT_HEAD, "▁가나", "다", "▁라"]) == [
        *KORPAT_HEAD,
        *["가나", "##다", "라", "다"],
    ]
    with pytest.raises(ValueError, match="does not start"):
        sentencepiece_to_wordpiece(["<unk>", "<s>", "</s>", "가"])


CORPUS = [
    "본 발명 은 LED 소자 에 관한 것 이 다 .",
    "상기 LED 칩 은 漢 字 와 Si 기판 을 포함 한다 .",
    "반도체 소자 의 SiO 층 은 LED 와 다르 다 .",
] * 30


def test_sentencepiece_keeps_case_and_hanja_and_fixes_the_head():
    model, size = train_sentencepiece(CORPUS, 80, num_threads=1)
    assert size == 80
    words = sentencepiece_to_wordpiece([p for p, _ in sentencepiece_pieces(model)])
    assert tuple(words[:8]) == KORPAT_HEAD
    assert "LED" in words and "led" not in words  # never lower-cased
    assert "漢" in words and "字" in words
    assert "Si" in words or "##i" in words and "S" in words


def test_too_large_sentencepiece_size_is_capped_not_fatal():
    model, size = train_sentencepiece(CORPUS, 21400, num_threads=1)
    assert 30 < size < 21400
    assert len(sentencepiece_pieces(model)) == size
    with pytest.raises(RuntimeError, match="too high"):
        train_sentencepiece(CORPUS, 21400, num_threads=1, cap_vocab_size=False)


MANY_CHARS = [chr(0xAC00 + i) for i in range(900)] + [chr(0x4E00 + i) for i in range(300)]


def test_alphabet_is_not_capped_at_1000_characters():
    sentences = [" ".join(MANY_CHARS[i : i + 30]) for i in range(0, len(MANY_CHARS), 30)] * 3
    # Each character is 1/2400 of the text (spaces count): below 1 - 0.9995, so one
    # would be left out by design at the default coverage.
    model, _ = train_sentencepiece(sentences, 3000, num_threads=1, character_coverage=0.9999)
    bert = set(sentencepiece_to_wordpiece([p for p, _ in sentencepiece_pieces(model)]))
    assert all(c in bert and "##" + c in bert for c in MANY_CHARS)

    counts = [(c, 5) for c in MANY_CHARS] + [("LED", 20), ("漢字", 3)]
    assert alphabet_size(counts, 0.9995) >= 1200
    electra = learn_wordpiece(counts, 3000, VocabConfig(wordpiece_lower_thresh=1))
    assert tuple(electra[:5]) == BERT_HEAD
    assert all(c in electra and "##" + c in electra for c in MANY_CHARS)
    assert "LED" in electra and "led" not in electra and "##" not in electra


def test_alphabet_size_follows_coverage():
    counts = [("가", 9990), ("나", 9), ("漢", 1)]
    assert alphabet_size(counts, 0.999) == 1
    assert alphabet_size(counts, 0.9995) == 2
    assert alphabet_size(counts, 1.0) == 3


def _made_up_counts(n: int) -> list[tuple[str, int]]:
    """n words of 2 to 4 syllables with falling counts, as a vocab sample's word counts."""
    words = []
    for i in range(n):
        word = "".join(chr(0xAC00 + (i * 7 + k * 131) % 2000) for k in range(2 + i % 3))
        words.append((word, 1 + 5000 // (i + 1)))
    return words


def test_probe_levels_and_the_search_tree():
    assert [probe_levels(p) for p in (1, 2, 3, 6, 7, 15)] == [1, 1, 2, 2, 3, 4]
    # (2, 100): thresh 51, then (52, 100) or (2, 50); their thresholds 76 and 26.
    assert search_tree(2, 100, 2) == [(2, 100), (52, 100), (2, 50)]
    assert len(search_tree(2, 100, 3)) == 7


@pytest.mark.parametrize("processes", [1, 3])
def test_the_threshold_search_finds_the_learners_own_vocabulary(processes, monkeypatch):
    """learn_wordpiece walks the learner's binary search itself (in 3 processes, two
    levels per round); the vocabulary is the one tensorflow-text's `learn` returns."""
    from tensorflow_text.tools.wordpiece_vocab import wordpiece_tokenizer_learner_lib as learner

    from pipeline.pretraining import vocab_learning

    monkeypatch.setattr(vocab_learning, "PARALLEL_MIN_WORDS", 1000)  # processes for 3,000 words too

    config = VocabConfig(wordpiece_lower_thresh=1)
    counts = _made_up_counts(3000)
    ours = learn_wordpiece(counts, 5000, config, processes=processes)
    theirs = learner.learn(
        sorted(counts, key=lambda wc: (-wc[1], wc[0])),
        vocab_size=5000,
        reserved_tokens=list(BERT_HEAD),
        upper_thresh=config.wordpiece_upper_thresh,
        lower_thresh=config.wordpiece_lower_thresh,
        num_iterations=config.wordpiece_num_iterations,
        max_input_tokens=config.wordpiece_max_input_words,
        max_token_length=config.wordpiece_max_token_length,
        max_unique_chars=alphabet_size(counts, config.character_coverage),
        slack_ratio=config.wordpiece_slack_ratio,
        include_joiner_token=True,
        joiner="##",
    )
    # Eleven thresholds on the way (2501, 1251, ..., 5, 7): found within the slack.
    assert ours == [token for token in theirs if token != "##"]
    assert 4750 <= len(ours) <= 5000
