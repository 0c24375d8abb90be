"""The feature spec of the pretraining TFRecords: one definition for writers, parsers and schemas.

Google BERT's names (`input_ids`, `segment_ids`, ...) by default; Model
Garden's v2 names (`input_word_ids`, `input_type_ids`) on request.

In:  a BERT instance (`bert_instances.BertInstance`) or an ELECTRA
     (first, second) pair.
Out: its padded feature dict (`bert_features`, `electra_features`,
     `dynamic_bert_features`), and that dict as a tf.train.Example through
     TensorFlow's proto (`serialize_example`: the reference
     `example_writer.example_bytes` equals).

Masking (`tfrecords.masking`): static BERT records carry Google's masked_lm_*
features, masked once per copy (dupe_factor copies); dynamic BERT records
carry the unmasked ids once, with `word_ids` (the masking group of each
position: [CLS] and each [SEP] alone, then one per eojeol, padding 0) so the
trainer masks whole words anew each epoch (components/trainer/inputs.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pipeline.pretraining.bert_instances import BertInstance

V2_NAMES = {"input_ids": "input_word_ids", "segment_ids": "input_type_ids"}


def rename_v2(features: dict) -> dict:
    return {V2_NAMES.get(k, k): v for k, v in features.items()}


MASKING = ("static", "dynamic")


def feature_spec(
    flavour: str,
    seq_length: int,
    max_predictions: int = 0,
    v2_names: bool = False,
    masking: str = "static",
) -> dict:
    """name -> (dtype, shape): the one definition the schema files and parsers use."""
    if masking not in MASKING:
        raise ValueError(f"masking must be one of {MASKING}, got {masking!r}")
    spec = {
        "input_ids": ("int64", [seq_length]),
        "input_mask": ("int64", [seq_length]),
        "segment_ids": ("int64", [seq_length]),
    }
    if flavour == "bert" and masking == "dynamic":
        spec.update({"word_ids": ("int64", [seq_length]), "next_sentence_labels": ("int64", [1])})
    elif flavour == "bert":
        spec.update(
            {
                "masked_lm_positions": ("int64", [max_predictions]),
                "masked_lm_ids": ("int64", [max_predictions]),
                "masked_lm_weights": ("float", [max_predictions]),
                "next_sentence_labels": ("int64", [1]),
            }
        )
    return rename_v2(spec) if v2_names else spec


def tf_feature_spec(
    flavour: str, seq_length: int, max_predictions: int = 0, v2_names: bool = False, masking: str = "static"
):
    """The same spec as tf.io.FixedLenFeature, for tf.io.parse_example."""
    import tensorflow as tf

    dtypes = {"int64": tf.int64, "float": tf.float32}
    spec = feature_spec(flavour, seq_length, max_predictions, v2_names, masking)
    return {name: tf.io.FixedLenFeature(shape, dtypes[dtype]) for name, (dtype, shape) in spec.items()}


def bert_features(
    instance: BertInstance, max_seq_length: int, max_predictions: int, v2_names: bool = False
) -> dict[str, list]:
    """Google's write_instance_to_example_files features, padded with 0."""
    n = len(instance.input_ids)
    pad = max_seq_length - n
    p = len(instance.masked_lm_positions)
    ppad = max_predictions - p
    features = {
        "input_ids": instance.input_ids + [0] * pad,
        "input_mask": [1] * n + [0] * pad,
        "segment_ids": instance.segment_ids + [0] * pad,
        "masked_lm_positions": instance.masked_lm_positions + [0] * ppad,
        "masked_lm_ids": instance.masked_lm_ids + [0] * ppad,
        "masked_lm_weights": [1.0] * p + [0.0] * ppad,
        "next_sentence_labels": [1 if instance.is_random_next else 0],
    }
    return rename_v2(features) if v2_names else features


def word_ids_of(starts: bytes | list[int], length: int) -> list[int]:
    """Masking group of each position from group-start flags (1 where a group begins).

    The first position is group 0; padding (past `length`) is 0.
    """
    ids, word = [], -1
    for flag in starts[:length]:
        word += 1 if flag else 0
        ids.append(max(word, 0))
    return ids


def dynamic_bert_features(
    input_ids: list[int],
    segment_ids: list[int],
    starts: bytes,
    is_random_next: bool,
    max_seq_length: int,
    v2_names: bool = False,
) -> dict[str, list]:
    """Unmasked BERT features with `word_ids` (module docstring), padded with 0.

    `starts` flags the positions that begin a masking group; it must flag
    every special token and the piece after it (as `bert_instances.mask_pairs`
    builds it), so no group spans a [CLS] or [SEP].
    """
    n = len(input_ids)
    pad = max_seq_length - n
    features = {
        "input_ids": input_ids + [0] * pad,
        "input_mask": [1] * n + [0] * pad,
        "segment_ids": segment_ids + [0] * pad,
        "word_ids": word_ids_of(starts, n) + [0] * pad,
        "next_sentence_labels": [1 if is_random_next else 0],
    }
    return rename_v2(features) if v2_names else features


def electra_features(
    first: list[int], second: list[int], max_length: int, cls_id: int, sep_id: int, v2_names: bool = False
) -> dict[str, list]:
    input_ids = [cls_id, *first, sep_id]
    segment_ids = [0] * len(input_ids)
    if second:
        input_ids += [*second, sep_id]
        segment_ids += [1] * (len(second) + 1)
    n = len(input_ids)
    pad = max_length - n
    features = {
        "input_ids": input_ids + [0] * pad,
        "input_mask": [1] * n + [0] * pad,
        "segment_ids": segment_ids + [0] * pad,
    }
    return rename_v2(features) if v2_names else features


def serialize_example(features: dict[str, list]) -> bytes:
    from tensorflow.core.example import example_pb2

    example = example_pb2.Example()
    fmap = example.features.feature
    for name, values in features.items():
        if values and isinstance(values[0], float):
            fmap[name].float_list.value.extend(values)
        else:
            fmap[name].int64_list.value.extend(values)
    return example.SerializeToString()
