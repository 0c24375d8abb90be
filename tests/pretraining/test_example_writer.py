"""The hand-written wire format: Example bytes and TFRecord files equal the proto path's and
TensorFlow's writer's, byte for byte."""

import random

import pytest

from pipeline.pretraining.bert_instances import bert_bucket_instances, split_documents
from pipeline.pretraining.features import (
    bert_features,
    electra_features,
    feature_spec,
    serialize_example,
    tf_feature_spec,
)
from tests.pretraining.helpers import PARAMS, enc


def _real_instances(n_docs=12, seed=3, params=PARAMS):
    rng = random.Random(seed)
    documents = [
        [
            enc([rng.randrange(8, 100) for _ in range(rng.randint(1, 12))], None)
            for _ in range(rng.randint(1, 8))
        ]
        for _ in range(n_docs)
    ]
    return bert_bucket_instances(split_documents(documents), params, 3, random.Random(seed))


def test_varints_and_packed_lists_match_protobuf():
    from pipeline.pretraining import example_writer as F

    for value in (0, 1, 127, 128, 300, 16383, 16384, 32767, 32768, 2**40, -1):
        features = {"x": [value]}
        assert F.example_bytes(features) == serialize_example(features), value
    for long in ({"input_ids": list(range(0, 60000, 3))}, {"masked_lm_weights": [0.5] * 9000}):  # > 32 KB
        assert F.example_bytes(long) == serialize_example(long)
    assert F.packed_ids([5, 200, 40000]) == F.packed_int64([5, 200, 40000])
    assert F.packed_ids([]) == b"" and F.packed_ids([300]) == F.varint(300)


def test_example_bytes_equal_the_proto_serializer_on_real_instances():
    from pipeline.pretraining import example_writer as F

    instances = _real_instances()
    assert len(instances) > 50
    for v2 in (False, True):
        write = F.BertExampleWriter(32, 5, list(feature_spec("bert", 32, 5, v2)))
        for x in instances:
            features = bert_features(x, 32, 5, v2)
            expected = serialize_example(features)
            assert F.example_bytes(features) == expected
            assert write(x) == expected
    first, second = [10, 11, 200], [12, 13000]
    for v2 in (False, True):
        features = electra_features(first, second, 16, 2, 3, v2)
        assert F.example_bytes(features) == serialize_example(features)


def test_example_bytes_parse_like_the_proto_path_with_tensorflow():
    import tensorflow as tf

    from pipeline.pretraining import example_writer as F

    spec = tf_feature_spec("bert", 32, 5)
    write = F.BertExampleWriter(32, 5, list(spec))
    for x in _real_instances(seed=9)[:40]:
        ours = tf.io.parse_single_example(write(x), spec)
        theirs = tf.io.parse_single_example(serialize_example(bert_features(x, 32, 5)), spec)
        for name in spec:
            assert ours[name].dtype == theirs[name].dtype
            assert ours[name].numpy().tolist() == theirs[name].numpy().tolist()


@pytest.mark.parametrize("gzip", [False, True])
def test_tfrecord_files_equal_tensorflows_writer(tmp_path, gzip):
    import tensorflow as tf

    from pipeline.pretraining import example_writer as F

    rng = random.Random(0)
    for n in (0, 1, 700):
        records = [bytes(rng.randrange(256) for _ in range(rng.randint(0, 600))) for _ in range(n)]
        ours, theirs = str(tmp_path / f"ours{n}"), str(tmp_path / f"theirs{n}")
        assert F.write_tfrecord_file(ours, records, gzip) == n
        with tf.io.TFRecordWriter(
            theirs, tf.io.TFRecordOptions(compression_type="GZIP" if gzip else "")
        ) as w:
            for r in records:
                w.write(r)
        with open(ours, "rb") as a, open(theirs, "rb") as b:
            assert a.read() == b.read()
        read = tf.data.TFRecordDataset([ours], compression_type="GZIP" if gzip else "")
        assert [r.numpy() for r in read] == records


def test_tfrecord_files_fall_back_to_tensorflow_without_crc32c(tmp_path, monkeypatch):
    from pipeline.pretraining import example_writer as F

    records = [b"abc", b"", bytes(range(256)) * 3]
    F.write_tfrecord_file(str(tmp_path / "fast"), records, True)

    def no_crc32c(data):
        raise ImportError("google_crc32c")

    monkeypatch.setattr(F, "_crc", no_crc32c)
    assert F.write_tfrecord_file(str(tmp_path / "tf"), records, True) == 3
    assert (tmp_path / "fast").read_bytes() == (tmp_path / "tf").read_bytes()


def test_dynamic_masking_examples_equal_the_proto_serializer():
    from pipeline.pretraining import example_writer as F
    from pipeline.pretraining.features import dynamic_bert_features, word_ids_of

    # [CLS] 본 발명 은 [SEP] 조성물 [SEP]: groups [CLS] | 본 | 발명 은 | [SEP] | 조성물 | [SEP]
    starts = b"\x01\x01\x01\x00\x01\x01\x01"
    assert word_ids_of(starts, 7) == [0, 1, 2, 2, 3, 4, 5]
    for v2 in (False, True):
        features = dynamic_bert_features(
            [2, 11, 12, 13, 3, 14, 3], [0, 0, 0, 0, 0, 1, 1], starts, True, 10, v2
        )
        assert features[("input_word_ids" if v2 else "input_ids")] == [2, 11, 12, 13, 3, 14, 3, 0, 0, 0]
        assert features["word_ids"] == [0, 1, 2, 2, 3, 4, 5, 0, 0, 0]
        assert features["next_sentence_labels"] == [1]
        assert F.example_bytes(features) == serialize_example(features)
