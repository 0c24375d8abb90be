"""tf.train.Example and TFRecord bytes written by hand, without TensorFlow.

In:  feature dicts (name -> list of int or float), as `features.bert_features`
     and `features.electra_features` make them; serialized examples.
Out: the serialized `tf.train.Example` (`example_bytes`), and TFRecord files,
     plain or GZIP (`write_tfrecord_file`).

Why: every feature of this stage is a short fixed-length int64 or float list,
so the protobuf wire format is a few length prefixes around packed varints.
Building a proto message per example and copying lists into it cost more than
building the instance; importing TensorFlow on a worker only to frame records
cost ~3 CPU seconds. The bytes are the ones the proto path writes
(`features.serialize_example` + `tf.io.TFRecordWriter`): same map-entry order
(upb's, see `WIRE_ORDERS`), same packed encoding, same record framing, and the
GZIP stream uses TensorFlow's zlib settings (level 6, window 31, memLevel 9), so
the output files stay byte-identical; tests/pretraining/test_example_writer.py
checks all three.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Sequence
from operator import itemgetter

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

# The order upb (protobuf 4.25) serializes the map entries of these feature
# sets in. Any order parses the same; this one keeps files byte-identical to
# the proto path's. A set not listed is written in the dict's order.
WIRE_ORDERS = {
    frozenset(order): order
    for order in (
        (
            "masked_lm_ids",
            "input_ids",
            "next_sentence_labels",
            "masked_lm_positions",
            "input_mask",
            "masked_lm_weights",
            "segment_ids",
        ),
        (
            "input_word_ids",
            "masked_lm_ids",
            "input_type_ids",
            "next_sentence_labels",
            "masked_lm_positions",
            "input_mask",
            "masked_lm_weights",
        ),
        ("input_mask", "segment_ids", "input_ids"),
        ("input_word_ids", "input_mask", "input_type_ids"),
        ("next_sentence_labels", "segment_ids", "input_mask", "word_ids", "input_ids"),
        ("input_word_ids", "next_sentence_labels", "input_mask", "word_ids", "input_type_ids"),
    )
}


def varint(value: int) -> bytes:
    """Protobuf base-128 varint of an int64 (a negative one takes 10 bytes, as int64 does)."""
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# Varints of every id a vocabulary of up to 32768 pieces can hold: one lookup
# per id instead of a loop. The dict for values of any sign (a negative one
# must miss, not wrap around), the list for ids and lengths.
_VARINT_LIST = [varint(i) for i in range(1 << 15)]
_VARINTS = dict(enumerate(_VARINT_LIST))
_varint_of = _VARINTS.__getitem__


def packed_int64(values: list[int]) -> bytes:
    """The packed varint payload of an int64 list."""
    try:
        small = bytes(values)
    except ValueError:  # a value above 255 or below 0
        small = None
    if small is not None and small.isascii():  # every value < 128: one byte each
        return small
    try:
        return b"".join(map(_varint_of, values))
    except KeyError:
        return b"".join(map(varint, values))


def packed_ids(ids: list[int]) -> bytes:
    """`packed_int64` for vocabulary ids (never negative): one C call for the lookups."""
    if not ids:
        return b""
    try:
        found = itemgetter(*ids)(_VARINT_LIST)
    except IndexError:  # an id >= 32768
        return packed_int64(ids)
    return b"".join(found) if len(ids) > 1 else found


def _length(n: int) -> bytes:
    return _VARINTS.get(n) or varint(n)


_KEYS: dict[str, bytes] = {}
# Above this payload size the lengths may need 3-byte varints: `_length`, not the table.
_SHORT = len(_VARINT_LIST) - 64


def _entry(name: str, kind: bytes, payload: bytes) -> bytes:
    """One `features` map entry: key `name`, value a Feature holding one packed list."""
    key = _KEYS.get(name)
    if key is None:  # MapEntry.key (1), then the tag of MapEntry.value (2)
        raw = name.encode("utf-8")
        key = _KEYS[name] = b"\x0a" + varint(len(raw)) + raw + b"\x12"
    # Int64List / FloatList: field 1, packed; an empty list is an empty message.
    # Feature.int64_list (3) / float_list (2); Features.feature (1).
    if len(payload) + len(key) < _SHORT:
        v = _VARINT_LIST
        values = b"\x0a" + v[len(payload)] + payload if payload else b""
        feature = kind + v[len(values)] + values
        entry = key + v[len(feature)] + feature
        return b"\x0a" + v[len(entry)] + entry
    values = b"\x0a" + _length(len(payload)) + payload if payload else b""
    feature = kind + _length(len(values)) + values
    entry = key + _length(len(feature)) + feature
    return b"\x0a" + _length(len(entry)) + entry


_INT64_LIST, _FLOAT_LIST = b"\x1a", b"\x12"
_ONE_FLOAT = struct.pack("<f", 1.0)


def example_bytes(features: dict[str, list]) -> bytes:
    """Feature dict -> serialized tf.train.Example, equal to `features.serialize_example`'s.

    A list whose first value is a float is a FloatList, anything else an Int64List.
    """
    order = WIRE_ORDERS.get(frozenset(features), tuple(features))
    parts = []
    for name in order:
        values = features[name]
        if values and isinstance(values[0], float):
            parts.append(_entry(name, _FLOAT_LIST, struct.pack(f"<{len(values)}f", *values)))
        else:
            parts.append(_entry(name, _INT64_LIST, packed_int64(values)))
    body = b"".join(parts)
    return b"\x0a" + _length(len(body)) + body  # Example.features (1)


# ------------------------------------------------------------------ TFRecord files

_MASK_DELTA = 0xA282EAD8
_crc32c = None


def _crc(data: bytes) -> int:
    global _crc32c
    if _crc32c is None:
        import google_crc32c  # C implementation; a dependency of apache-beam[gcp]

        _crc32c = google_crc32c.value
    crc = _crc32c(data)
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _MASK_DELTA) & 0xFFFFFFFF


def tfrecord_frame(data: bytes) -> bytes:
    """One TFRecord: length, masked CRC-32C of the length, data, masked CRC-32C of the data."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", _crc(length)) + data + struct.pack("<I", _crc(data))


# TensorFlow's ZlibCompressionOptions::GZIP(): default level, gzip window, memLevel 9.
_GZIP_ARGS = (zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, zlib.MAX_WBITS + 16, 9)
_CHUNK = 1 << 22


def write_tfrecord_file(path: str, records: Iterable[bytes], gzip: bool) -> int:
    """Serialized records -> one TFRecord file at `path` (any FileSystems path); returns the count.

    The bytes equal `tf.io.TFRecordWriter`'s with compression "GZIP" or "".
    """
    try:
        _crc(b"")
    except ImportError:  # no google_crc32c: TensorFlow's writer, the slow way
        return _write_with_tensorflow(path, records, gzip)
    compressor = zlib.compressobj(*_GZIP_ARGS) if gzip else None
    count = 0
    # UNCOMPRESSED: FileSystems would gzip a .gz name a second time.
    with FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as out:
        pending, size = [], 0
        for data in records:
            framed = tfrecord_frame(data)
            pending.append(framed)
            size += len(framed)
            count += 1
            if size >= _CHUNK:
                chunk = b"".join(pending)
                out.write(compressor.compress(chunk) if compressor else chunk)
                pending, size = [], 0
        chunk = b"".join(pending)
        if compressor:
            out.write(compressor.compress(chunk) + compressor.flush())
        elif chunk:
            out.write(chunk)
    return count


class BertExampleWriter:
    """BertInstance -> serialized Example, equal to
    `example_bytes(bert_features(instance, seq_length, max_predictions, v2_names))`.

    `names`: the seven feature names in `bert_features` order, i.e.
    `features.feature_spec("bert", ...)`'s keys. Made for the hot loop: no
    padded lists, and the entries that take few values (input_mask by length,
    segment_ids by its bytes, masked_lm_weights by count,
    next_sentence_labels) are built once and reused.
    """

    def __init__(self, seq_length: int, max_predictions: int, names: Sequence[str]) -> None:
        self._seq_length, self._max_predictions = seq_length, max_predictions
        self._names = names = list(names)
        order = WIRE_ORDERS.get(frozenset(names), tuple(names))
        self._in_wire_order = itemgetter(*[names.index(n) for n in order])
        self._zeros = bytes(max(seq_length, max_predictions))
        self._cached: dict[object, bytes] = {}

    def _fixed(self, key: tuple, index: int, kind: bytes, payload: bytes) -> bytes:
        """The entry for names[index] holding `payload`, built once per key."""
        if len(self._cached) >= 4096:  # segment_ids at seq 512 take ~130k values
            self._cached.clear()
        found = self._cached[key] = _entry(self._names[index], kind, payload)
        return found

    def __call__(self, instance) -> bytes:
        names, zeros, cached = self._names, self._zeros, self._cached
        ids, positions = instance.input_ids, instance.masked_lm_positions
        n, p = len(ids), len(positions)
        pad = zeros[: max(0, self._seq_length - n)]
        pad_p = zeros[: max(0, self._max_predictions - p)]
        segments = packed_int64(instance.segment_ids) + pad
        nsp = int(instance.is_random_next)
        parts = (
            _entry(names[0], _INT64_LIST, packed_ids(ids) + pad),
            cached.get(("mask", n)) or self._fixed(("mask", n), 1, _INT64_LIST, b"\x01" * n + pad),
            cached.get(segments) or self._fixed(segments, 2, _INT64_LIST, segments),
            _entry(names[3], _INT64_LIST, packed_int64(positions) + pad_p),
            _entry(names[4], _INT64_LIST, packed_ids(instance.masked_lm_ids) + pad_p),
            cached.get(("weights", p))
            or self._fixed(("weights", p), 5, _FLOAT_LIST, _ONE_FLOAT * p + pad_p * 4),
            cached.get(("nsp", nsp)) or self._fixed(("nsp", nsp), 6, _INT64_LIST, packed_int64([nsp])),
        )
        body = b"".join(self._in_wire_order(parts))
        return b"\x0a" + _length(len(body)) + body


def _write_with_tensorflow(path: str, records: Iterable[bytes], gzip: bool) -> int:
    import os
    import tempfile

    import tensorflow as tf

    count = 0
    options = tf.io.TFRecordOptions(compression_type="GZIP" if gzip else "")
    from pipeline.io.filesystems import scratch_root

    with tempfile.TemporaryDirectory(prefix="tfrecords_", dir=scratch_root()) as tmp:
        local = os.path.join(tmp, "shard")
        with tf.io.TFRecordWriter(local, options) as writer:
            for data in records:
                writer.write(data)
                count += 1
        with (
            open(local, "rb") as f,
            FileSystems.create(path, compression_type=CompressionTypes.UNCOMPRESSED) as out,
        ):
            while chunk := f.read(_CHUNK):
                out.write(chunk)
    return count
