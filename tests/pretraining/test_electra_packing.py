"""ELECTRA packing: segments up to the length, two segments, padded features."""

import random

from pipeline.pretraining.electra_packing import electra_bucket_examples
from pipeline.pretraining.features import electra_features


def test_electra_packs_up_to_length_with_two_segments():
    documents = [[list(range(10 + k, 30 + k)) for k in range(12)] for _ in range(4)]
    examples = electra_bucket_examples(documents, 64, random.Random(0))
    assert examples
    for first, second in examples:
        assert first and len(first) + len(second) + 2 + (1 if second else 0) <= 64
    features = electra_features(*examples[0], 64, cls_id=2, sep_id=3)
    assert sorted(features) == ["input_ids", "input_mask", "segment_ids"]
    assert all(len(v) == 64 for v in features.values())
    assert features["input_ids"][0] == 2
