"""Google-equivalent BERT instances: truncation, masking (80/10/10, whole words, never
the specials), NSP pairs, and the fast path against a token-by-token reference."""

import random
from collections import Counter

import numpy as np

from pipeline.pretraining.bert_instances import (
    BertInstance,
    BertParams,
    apply_masks,
    bert_bucket_instances,
    create_instances_from_document,
    mask_flat,
    mask_tokens,
    split_documents,
    truncate_seq_pair,
    truncated_counts,
    truncation,
)
from pipeline.pretraining.sentence_encoding import split_tokens
from tests.pretraining.helpers import PARAMS, doc, enc


def _masked(ids, starts, seed):
    special = [k for k, i in enumerate(ids) if i in (PARAMS.cls_id, PARAMS.sep_id)]
    return mask_tokens(ids, starts, special, PARAMS, np.random.default_rng(seed))


def test_masking_never_touches_special_tokens_and_sorts_positions():
    ids = [5, *range(20, 30), 6, *range(30, 40), 6]
    for seed in range(300):
        out, positions, labels = _masked(ids, [1] * len(ids), seed)
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        assert 0 not in positions and 11 not in positions and len(ids) - 1 not in positions
        assert out[0] == 5 and out[11] == 6 and out[-1] == 6
        assert labels == [ids[p] for p in positions]
        assert len(positions) == min(5, round(len(ids) * 0.15))


def test_masking_proportions_80_10_10():
    ids = [5, *range(20, 40), 6, *range(40, 60), 6]
    kinds = Counter()
    for seed in range(4000):
        out, positions, _ = _masked(ids, [1] * len(ids), seed)
        for p in positions:
            kinds["mask" if out[p] == 7 else "kept" if out[p] == ids[p] else "random"] += 1
    total = sum(kinds.values())
    assert abs(kinds["mask"] / total - 0.8) < 0.02
    assert abs(kinds["kept"] / total - 0.1) < 0.015
    assert abs(kinds["random"] / total - 0.1) < 0.015


def test_random_replacements_never_draw_reserved_ids():
    ids = [5, *range(20, 60), 6, 30, 6]
    for seed in range(500):
        out, positions, _ = _masked(ids, [1] * len(ids), seed)
        for p in positions:
            assert out[p] == 7 or PARAMS.random_low <= out[p] < PARAMS.random_high


def test_whole_word_masking_masks_whole_groups_only():
    # groups of 3 pieces: 20 21 22 | 23 24 25 | ...; [SEP] breaks groups too
    body = list(range(20, 44))
    ids = [5, *body, 6, 50, 6]
    starts = [1] + [1 if k % 3 == 0 else 0 for k in range(len(body))] + [1, 0, 1]
    params = BertParams(**{**PARAMS.__dict__, "max_predictions_per_seq": 6})
    for seed in range(200):
        special = [k for k, i in enumerate(ids) if i in (5, 6)]
        _, positions, _ = mask_tokens(ids, starts, special, params, np.random.default_rng(seed))
        groups = {(p - 1) // 3 for p in positions if 1 <= p <= len(body)}
        for g in groups:
            assert {1 + 3 * g, 2 + 3 * g, 3 + 3 * g} <= set(positions)
        # the piece after [SEP] starts its own group although marked 0
        assert positions.count(len(body) + 2) <= 1


def test_truncate_seq_pair_trims_the_longer_side():
    a, b = list(range(10)), list(range(3))
    truncate_seq_pair(a, b, 8, random.Random(0))
    assert len(a) == 5 and len(b) == 3


def test_truncated_counts_equal_googles_token_by_token_loop():
    for len_a in range(30):
        for len_b in range(30):
            for max_num_tokens in (1, 4, 17, 29):
                a, b = len_a, len_b
                while a + b > max_num_tokens:  # Google's loop
                    if a > b:
                        a -= 1
                    else:
                        b -= 1
                expected = (len_a - a, len_b - b)
                assert truncated_counts(len_a, len_b, max_num_tokens) == expected


def test_truncation_drops_front_or_back_with_a_fair_coin():
    fronts = [truncation(60, 10, 30, random.Random(seed))[0] for seed in range(2000)]
    # 40 tokens dropped from A: the front share is Binomial(40, 1/2).
    assert all(0 <= f <= 40 for f in fronts)
    assert abs(sum(fronts) / len(fronts) - 20) < 0.3
    assert 0 < min(fronts) < 15 and 25 < max(fronts) < 40


def test_instances_have_google_layout_and_nsp_labels():
    documents = [doc(8, base=10 + 100 * d) for d in range(6)]
    rng = random.Random(1)
    instances = bert_bucket_instances(split_documents(documents), PARAMS, dupe_factor=5, rng=rng)
    assert instances
    labels = Counter(x.is_random_next for x in instances)
    assert labels[True] and labels[False]
    for x in instances:
        n = len(x.input_ids)
        assert n <= PARAMS.max_seq_length
        assert x.input_ids.count(6) == 2 or 6 in [x.input_ids[p] for p in x.masked_lm_positions]
        first_sep = x.segment_ids.index(1) - 1
        assert x.segment_ids == [0] * (first_sep + 1) + [1] * (n - first_sep - 1)
        assert x.input_ids[-1] == 6 and x.input_ids[0] == 5
        assert len(x.masked_lm_positions) <= PARAMS.max_predictions_per_seq


def test_single_sentence_chunks_are_always_random_next():
    documents = [[enc(list(range(10, 40)))] for _ in range(3)]  # one long sentence per document
    instances = bert_bucket_instances(split_documents(documents), PARAMS, 3, random.Random(0))
    assert instances and all(x.is_random_next for x in instances)


def test_same_seed_same_instances():
    documents = [doc(5, base=10 + 50 * d) for d in range(4)]
    a = bert_bucket_instances(split_documents(documents), PARAMS, 2, random.Random(7))
    b = bert_bucket_instances(split_documents(documents), PARAMS, 2, random.Random(7))
    assert a == b


def test_split_tokens_and_truncation_match_the_list_versions():
    tokens = enc([20, 21, 22, 23], [1, 0, 0, 1])
    assert split_tokens(tokens) == ([20, 21, 22, 23], bytes([1, 0, 0, 1]))
    for seed in range(50):
        a, b = list(range(40)), list(range(100, 100 + seed % 30))
        fa, ba, fb, bb = truncation(len(a), len(b), 25, random.Random(seed))
        truncate_seq_pair(a, b, 25, random.Random(seed))
        assert a == list(range(fa, 40 - ba)) and b == list(range(100 + fb, 100 + seed % 30 - bb))
        assert len(a) + len(b) <= 25


def test_instances_match_a_token_by_token_reference():
    """The fast instance path against Google's logic written token by token."""
    documents = [
        [enc(list(range(10 + 7 * k + d, 16 + 7 * k + d)), [1, 0, 1, 1, 0, 0]) for k in range(5)]
        for d in range(5)
    ]
    rng_a, rng_b = random.Random(4), random.Random(4)
    fast = create_instances_from_document(documents, 2, PARAMS, rng_a, np.random.default_rng(9))
    assert fast
    # Same draws, made through the public list-based helpers.
    reference = _reference_instances(documents, 2, PARAMS, rng_b, np.random.default_rng(9))
    assert fast == reference


def _reference_instances(documents, document_index, params, rng, gen):
    document = documents[document_index]
    max_num_tokens = params.max_seq_length - 3
    target = max_num_tokens
    if rng.random() < params.short_seq_prob:
        target = rng.randint(2, max_num_tokens)
    out, chunk, length, i = [], [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        length += len(document[i])
        if i == len(document) - 1 or length >= target:
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            a = [t for s in chunk[:a_end] for t in s]
            b = []
            if len(chunk) == 1 or rng.random() < 0.5:
                random_next = True
                for _ in range(10):
                    r = rng.randint(0, len(documents) - 1)
                    if r != document_index:
                        break
                start = rng.randint(0, len(documents[r]) - 1)
                for s in documents[r][start:]:
                    b.extend(s)
                    if len(b) >= target - len(a):
                        break
                i -= len(chunk) - a_end
            else:
                random_next = False
                b = [t for s in chunk[a_end:] for t in s]
            truncate_seq_pair(a, b, max_num_tokens, rng)
            if a and b:
                out.append((a, b, random_next))
            chunk, length = [], 0
        i += 1
    # Every instance of the document masked in one batch, token by token here.
    sequences, starts, special, offset = [], [], [], 0
    for a, b, _ in out:
        tokens = [params.cls_id * 2 + 1, *a, params.sep_id * 2 + 1, *b, params.sep_id * 2 + 1]
        marks = [t & 1 for t in tokens]
        for k in (0, len(a) + 1, len(tokens) - 1):
            special.append(offset + k)
            marks[k] = 1
            if k + 1 < len(tokens):
                marks[k + 1] = 1
        sequences.append([t >> 1 for t in tokens])
        starts += marks
        offset += len(tokens)
    lengths = np.array([len(s) for s in sequences])
    positions, replacements, counts = mask_flat(bytes(starts), lengths, np.array(special), params, gen)
    instances, j = [], 0
    for (a, b, random_next), ids, count in zip(out, sequences, counts, strict=True):
        where, new = positions[j : j + count], replacements[j : j + count]
        j += count
        output, labels = apply_masks(ids, where, new)
        segments = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        instances.append(BertInstance(output, segments, where, labels, random_next))
    return instances
