"""Feature dicts: Google's exact names, shapes and padding, and the v2 names."""

from pipeline.pretraining.bert_instances import BertInstance
from pipeline.pretraining.features import bert_features


def test_bert_features_exact_names_shapes_and_padding():
    x = BertInstance([5, 20, 7, 6, 30, 6], [0, 0, 0, 0, 1, 1], [2], [21], True)
    f = bert_features(x, 8, 3)
    assert f == {
        "input_ids": [5, 20, 7, 6, 30, 6, 0, 0],
        "input_mask": [1, 1, 1, 1, 1, 1, 0, 0],
        "segment_ids": [0, 0, 0, 0, 1, 1, 0, 0],
        "masked_lm_positions": [2, 0, 0],
        "masked_lm_ids": [21, 0, 0],
        "masked_lm_weights": [1.0, 0.0, 0.0],
        "next_sentence_labels": [1],
    }
    v2 = bert_features(x, 8, 3, v2_names=True)
    assert "input_word_ids" in v2 and "input_type_ids" in v2 and "input_ids" not in v2
