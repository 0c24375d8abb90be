"""The feature spec of the pretraining TFRecords: one definition for writers, parsers and schemas.

Google BERT's names (`input_ids`, `segment_ids`, ...) by default; Model
Garden's v2 names (`input_word_ids`, `input_type_ids`) on request.
"""

from __future__ import annotations

V2_NAMES = {"input_ids": "input_word_ids", "segment_ids": "input_type_ids"}


def rename_v2(features: dict) -> dict:
    return {V2_NAMES.get(k, k): v for k, v in features.items()}


def feature_spec(flavour: str, seq_length: int, max_predictions: int = 0, v2_names: bool = False) -> dict:
    """name -> (dtype, shape): the one definition the schema files and parsers use."""
    spec = {
        "input_ids": ("int64", [seq_length]),
        "input_mask": ("int64", [seq_length]),
        "segment_ids": ("int64", [seq_length]),
    }
    if flavour == "bert":
        spec.update(
            {
                "masked_lm_positions": ("int64", [max_predictions]),
                "masked_lm_ids": ("int64", [max_predictions]),
                "masked_lm_weights": ("float", [max_predictions]),
                "next_sentence_labels": ("int64", [1]),
            }
        )
    return rename_v2(spec) if v2_names else spec


def tf_feature_spec(flavour: str, seq_length: int, max_predictions: int = 0, v2_names: bool = False):
    """The same spec as tf.io.FixedLenFeature, for tf.io.parse_example."""
    import tensorflow as tf

    dtypes = {"int64": tf.int64, "float": tf.float32}
    return {
        name: tf.io.FixedLenFeature(shape, dtypes[dtype])
        for name, (dtype, shape) in feature_spec(flavour, seq_length, max_predictions, v2_names).items()
    }
