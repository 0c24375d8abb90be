"""inputs.whole_word_mask: Google's masking rules drawn in the tf.data pipeline (dynamic masking),
checked on literal batches without any files: proportions over many draws, special tokens,
whole words, the cap, determinism given the seed."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from components.trainer.inputs import whole_word_mask  # noqa: E402

PAD, CLS, SEP, MASK = 0, 2, 3, 4
VOCAB = 100
SPECIAL = [PAD, CLS, SEP, MASK]


def batch(rows, seq=32):
    """rows: lists of words, each word a list of ids; [CLS] w.. [SEP] as one segment."""
    ids, mask, words = [], [], []
    for row in rows:
        tokens, groups = [CLS], [0]
        for w, word in enumerate(row, 1):
            tokens += word
            groups += [w] * len(word)
        tokens.append(SEP)
        groups.append(len(row) + 1)
        pad = seq - len(tokens)
        ids.append(tokens + [0] * pad)
        mask.append([1] * len(tokens) + [0] * pad)
        words.append(groups + [0] * pad)
    return {
        "input_word_ids": tf.constant(ids, tf.int32),
        "input_mask": tf.constant(mask, tf.int32),
        "input_type_ids": tf.zeros([len(rows), seq], tf.int32),
        "word_ids": tf.constant(words, tf.int32),
    }


def mask(features, seed, max_predictions=20, prob=0.15):
    out = whole_word_mask(
        features, tf.constant(seed, tf.int64), VOCAB, MASK, SPECIAL, max_predictions, prob, 5
    )
    return {k: v.numpy() for k, v in out.items()}


# 30 single-piece words (ids 10..39): 32 tokens, round(32 * 0.15) = 5 to predict.
SINGLE = [[[10 + i] for i in range(30)]] * 8


def test_counts_proportions_and_labels_over_many_draws():
    features = batch(SINGLE)
    original = features["input_word_ids"].numpy()
    kinds = {"mask": 0, "random": 0, "kept": 0}
    chosen = np.zeros(32)
    for seed in range(200):
        out = mask(features, [7, seed])
        weights = out["masked_lm_weights"]
        assert (weights.sum(axis=1) == 5).all()  # min(20, max(1, round(32 * 0.15)))
        for r in range(8):
            positions = out["masked_lm_positions"][r][:5]
            assert (np.diff(positions) > 0).all()  # sorted, distinct
            assert (out["masked_lm_ids"][r][:5] == original[r][positions]).all()
            assert not out["masked_lm_ids"][r][5:].any() and not out["masked_lm_positions"][r][5:].any()
            new = out["input_word_ids"][r][positions]
            kinds["mask"] += int((new == MASK).sum())
            kinds["kept"] += int((new == original[r][positions]).sum())
            kinds["random"] += int(((new != MASK) & (new != original[r][positions])).sum())
            unmasked = np.setdiff1d(np.arange(32), positions)
            assert (out["input_word_ids"][r][unmasked] == original[r][unmasked]).all()
            chosen[positions] += 1
    total = sum(kinds.values())
    assert total == 200 * 8 * 5
    # 80 / 10 / 10, within 4 standard deviations of 8,000 draws (a random id may equal the original).
    assert abs(kinds["mask"] / total - 0.8) < 0.018
    assert abs(kinds["random"] / total - 0.1) < 0.014
    assert abs(kinds["kept"] / total - 0.1) < 0.014
    # Every word equally likely; [CLS] (0) and [SEP] (31) never.
    assert chosen[0] == chosen[31] == 0
    assert chosen[1:31].min() > 0.6 * chosen[1:31].mean()


def test_special_tokens_and_padding_are_never_masked():
    # A [MASK] id inside the text is special too: never chosen.
    rows = [[[10], [MASK], [11, 12], [13]], [[20 + i] for i in range(6)]]
    features = batch(rows, seq=16)
    for seed in range(100):
        out = mask(features, [1, seed], prob=0.5)
        for r, row in enumerate(rows):
            n = int(out["masked_lm_weights"][r].sum())
            positions = out["masked_lm_positions"][r][:n]
            length = 2 + sum(len(w) for w in row)
            assert n >= 1 and positions.min() >= 1 and positions.max() <= length - 2
            assert MASK not in out["masked_lm_ids"][r][:n]


def test_whole_words_are_masked_together_and_the_cap_is_respected():
    # Words of 3 pieces: round(62 * 0.15) = 9 to predict, capped at 7; 3 + 3 fit, a third word never.
    rows = [[[10 + 3 * i, 11 + 3 * i, 12 + 3 * i] for i in range(20)]] * 4
    features = batch(rows, seq=64)
    words = features["word_ids"].numpy()
    for seed in range(50):
        out = mask(features, [3, seed], max_predictions=7)
        for r in range(4):
            n = int(out["masked_lm_weights"][r].sum())
            assert n == 6
            positions = out["masked_lm_positions"][r][:n]
            masked_words, counts = np.unique(words[r][positions], return_counts=True)
            assert len(masked_words) == 2 and (counts == 3).all()
    # Mixed lengths: a long word that would overshoot is skipped, shorter ones still fill the budget.
    rows = [[[10, 11, 12, 13, 14, 15]] + [[20 + i] for i in range(24)]]
    features = batch(rows, seq=40)
    for seed in range(50):
        out = mask(features, [4, seed], max_predictions=4)
        assert int(out["masked_lm_weights"][0].sum()) == 4  # min(4, round(32 * 0.15))
        assert not np.isin(out["masked_lm_positions"][0][:4], np.arange(1, 7)).any()


def test_num_to_predict_rounds_as_googles_python_round():
    # 30 tokens x 0.15 is 4.4999... in float64 (Python's round: 4), 4.5000002 in float32.
    features = batch([[[10 + i] for i in range(28)]], seq=32)
    assert int(round(30 * 0.15)) == 4
    for seed in range(5):
        assert int(mask(features, [2, seed])["masked_lm_weights"].sum()) == 4


def test_deterministic_given_the_seed_and_different_across_seeds():
    features = batch(SINGLE)
    a, b, c = mask(features, [5, 1]), mask(features, [5, 1]), mask(features, [5, 2])
    for key in a:
        assert (a[key] == b[key]).all()
    assert (a["masked_lm_positions"] != c["masked_lm_positions"]).any()
    assert "word_ids" not in a
