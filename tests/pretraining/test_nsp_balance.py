"""NSP label balance (rule v3) against Google's rule (v2): short documents built
from the demo corpus's own abstracts, and exact expectations where the draws
are forced."""

import json
import random
from pathlib import Path

import pytest

from pipeline.pretraining.bert_instances import (
    BertParams,
    NspCounts,
    bert_bucket_instances,
    segment_pairs,
    split_documents,
)
from pipeline.text.sentences import split_sentences
from tests.helpers import REPO
from tests.pretraining.helpers import PARAMS, doc, enc

PARAMS_128 = BertParams(max_seq_length=128, cls_id=2, sep_id=3, mask_id=4, random_low=5, random_high=6000)

# Sentences per document of an abstract-only corpus (real KIPRIS abstracts: 2.2 on average).
SHORT_SENTENCES = (1, 2, 2, 3, 2, 1, 3, 2, 4, 2)  # mean 2.2


def encode_text(sentence: str) -> list[int]:
    """A sentence -> encoded tokens (id * 2 + start): one id per character, a group per eojeol."""
    tokens = []
    for word in sentence.split():
        tokens += [(10 + ord(c) % 5000) * 2 + (k == 0) for k, c in enumerate(word)]
    return tokens


def demo_sentences() -> list[str]:
    sentences = []
    for path in sorted(Path(REPO, "data", "demo", "source").glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            description = [p for section in (record.get("description") or {}).values() for p in section]
            for paragraph in [*record.get("abstract", []), *record.get("claims", []), *description]:
                sentences += split_sentences(paragraph)
    return sentences


def short_documents(seed: int) -> list[list[list[int]]]:
    """The demo's sentences dealt into abstract-sized documents (2.2 sentences on average)."""
    sentences = [encode_text(s) for s in demo_sentences()]
    sentences = [s for s in sentences if s]
    rng = random.Random(seed)
    rng.shuffle(sentences)
    documents, k = [], 0
    while k < len(sentences):
        n = SHORT_SENTENCES[len(documents) % len(SHORT_SENTENCES)]
        documents.append(sentences[k : k + n])
        k += n
    return documents


def label_share(documents, balanced: bool, buckets: int = 4, dupe_factor: int = 5) -> tuple[float, NspCounts]:
    total = NspCounts(balanced=balanced)
    for bucket in range(buckets):
        nsp = NspCounts(balanced=balanced)
        instances = bert_bucket_instances(
            split_documents(documents[bucket::buckets]),
            PARAMS_128,
            dupe_factor,
            random.Random(bucket),
            nsp=nsp,
        )
        assert sum(x.is_random_next for x in instances) == nsp.random_next
        assert len(instances) == nsp.random_next + nsp.actual_next
        total.add(nsp)
    return total.share(), total


def test_short_documents_average_2_2_sentences():
    documents = short_documents(0)
    assert len(documents) > 100
    assert sum(map(len, documents)) / len(documents) == pytest.approx(2.2, abs=0.05)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_short_documents_are_balanced_by_default_and_skewed_by_google(seed):
    documents = short_documents(seed)
    google, _ = label_share(documents, balanced=False)
    balanced, counts = label_share(documents, balanced=True)
    assert google > 0.6  # Google's rule: ~2 random pairs for each real one
    assert 0.45 <= balanced <= 0.55
    assert counts.forced_random > 0  # the one-sentence documents


def test_two_sentence_documents_google_two_thirds_balanced_half():
    documents = [doc(2, base=10 + 20 * d) for d in range(300)]
    google, _ = label_share(documents, balanced=False, buckets=1, dupe_factor=10)
    balanced, _ = label_share(documents, balanced=True, buckets=1, dupe_factor=10)
    assert google == pytest.approx(2 / 3, abs=0.02)
    assert balanced == pytest.approx(0.5, abs=0.01)


def test_one_sentence_documents_cannot_be_balanced():
    documents = [doc(1, base=10 + 20 * d) for d in range(50)]
    share, counts = label_share(documents, balanced=True, buckets=1, dupe_factor=2)
    assert share == 1.0 and counts.forced_random == counts.random_next == 100


def test_a_long_first_sentence_gets_its_real_next_under_v3():
    # Sentence 1 alone reaches the target length: Google closes the chunk with
    # one sentence (a forced random next); v3 adds sentence 2 and may pair them.
    document = [enc(list(range(10, 40))), enc(list(range(50, 56)))]
    documents = split_documents([document, doc(3, base=200)])
    for seed in range(20):
        google = NspCounts(balanced=False)
        segment_pairs(documents, 0, PARAMS, random.Random(seed), nsp=google)
        assert google.forced_random >= 1
        v3 = NspCounts(balanced=True)
        pairs = segment_pairs(documents, 0, PARAMS, random.Random(seed), nsp=v3)
        assert v3.forced_random == 0 or pairs[0][4]
    # With the count leaning to random, the real next is taken: exactly one real pair.
    leaning = NspCounts(balanced=True, random_next=5)
    pairs = segment_pairs(documents, 0, PARAMS, random.Random(0), nsp=leaning)
    assert [p[4] for p in pairs] == [False] and leaning.actual_next == 1


def test_google_rule_is_unchanged_by_counting():
    documents = split_documents([doc(5, base=10 + 50 * d) for d in range(4)])
    plain = bert_bucket_instances(list(documents), PARAMS, 2, random.Random(7))
    counted = bert_bucket_instances(
        list(documents), PARAMS, 2, random.Random(7), nsp=NspCounts(balanced=False)
    )
    assert plain == counted


def test_balanced_rule_is_deterministic():
    documents = split_documents(short_documents(3)[:200])
    a = bert_bucket_instances(list(documents), PARAMS_128, 2, random.Random(5), nsp=NspCounts())
    b = bert_bucket_instances(list(documents), PARAMS_128, 2, random.Random(5), nsp=NspCounts())
    assert a == b


def test_short_documents_exact_counts_seed_0():
    """The figures docs/stages.md gives (seeded: the same on every run)."""
    documents = short_documents(0)
    assert len(documents) == 1250
    _, google = label_share(documents, balanced=False)
    _, balanced = label_share(documents, balanced=True)
    assert google.as_dict() == {"random_next": 7689, "actual_next": 2657, "forced_random": 4851}
    assert balanced.as_dict() == {"random_next": 4311, "actual_next": 4317, "forced_random": 2882}


if __name__ == "__main__":  # the figures: python -m tests.pretraining.test_nsp_balance
    for seed in range(3):
        documents = short_documents(seed)
        for balanced in (False, True):
            share, counts = label_share(documents, balanced)
            print(
                f"seed {seed} {'v3' if balanced else 'v2'}: {len(documents)} docs, share {share:.4f} {counts.as_dict()}"
            )
