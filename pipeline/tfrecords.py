"""Stage `tfrecords`: morphemes -> BERT (MLM + NSP) and ELECTRA pretraining TFRecords.

In:  `<output_root>/morph/sentences/part-*.parquet` (doc_id, paragraph_index,
     sentence_index, morphemes, word_starts) and the vocab stage's
     `vocab/bert/vocab.txt` and `vocab/electra/vocab.txt` (or the files named
     in the config).
Out: one folder per output, e.g. `bert-128/`, `electra-128/`, each with
     `Split-train/` and `Split-eval/` folders of `part-NNNNN-of-NNNNN.tfrecord[.gz]`
     files (TFX's Examples layout), a `schema.pbtxt` copied from
     `tfrecords_schema/<output>/`, and `counts.json`.

BERT instances follow Google's `create_pretraining_data.py` (rule
`google_bert_instances_v1`): one target length per document (short_seq_prob),
segments A/B cut at a random sentence, B from another document half the time
(and always when the chunk has a single sentence), `truncate_seq_pair`, then
masking: 15% of the tokens, 80% [MASK] / 10% random / 10% kept, special tokens
never chosen. Differences, on purpose: the random replacement never draws a
reserved head token ([PAD], [CLS]...), whole-word groups never cross a [SEP],
and "whole word" means an eojeol as `morph` marked it (see `encode_sentence`).

Whole-word masking is on by default: a Korean eojeol is a stem plus particles
and endings, split further by WordPiece (`본 발명 은` = 3 morphemes, more
pieces). Masking one piece of it leaves the rest to give it away, so the MLM
task gets easy; masking the whole eojeol is what Google found helps (their
WWM models) and what the morph stage's marks make possible.

ELECTRA examples follow google-research/electra's `build_pretraining_dataset.py`
(rule `electra_packing_v1`): sentences packed greedily up to L, split into two
segments by its rules, no masking.

Memory and determinism: documents are grouped into `num_buckets` buckets by a
stable hash of the publication id; instances are built per bucket with a
`random.Random(seed_for(seed, split, bucket))`, and random next sentences are
drawn from the same bucket. Each instance gets a sort key from the same
generator; instances are dealt round-robin to shards (bucket by bucket, in
bucket order), so shard sizes differ by at most one example, and each shard is
written sorted by sort key: a global shuffle that is byte-identical whatever the
runner or the number of workers.

Speed: the per-instance work is kept off per-token Python where the draws
allow it. Sentences are split once per bucket into (ids, start bytes), so
segments are list/bytes slices and an instance's group bounds one numpy call;
truncation counts its cuts, then slices; masking shuffles group indices
lazily. Examples are written as protobuf wire bytes by `tfrecords_fast`, and
the TFRecord files framed and gzipped there too, without TensorFlow. None of
this changes a random draw or a byte of output: the files are the ones the
token-by-token, tf.train.Example and tf.io.TFRecordWriter path wrote
(tests/test_tfrecords.py checks each piece against it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import tempfile
from array import array
from collections.abc import Callable, Iterable, Sequence
from itertools import chain
from operator import getitem
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io import fileio
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from pipeline import beam_io
from pipeline.config import TfrecordsConfig
from pipeline.runner import Stage, StageContext
from pipeline.tfrecords_fast import BertExampleWriter, example_bytes, write_tfrecord_file
from pipeline.tokenizer import LAYOUTS, Tokenizer

NAME = "tfrecords"
BERT_VERSION = "google_bert_instances_v1"
ELECTRA_VERSION = "electra_packing_v1"
SHARDING_VERSION = "bucket_roundrobin_v1"
SPLITS = ("train", "eval")
UNCOMPRESSED = CompressionTypes.UNCOMPRESSED
SCHEMA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tfrecords_schema")

# Google's defaults for max_predictions_per_seq at its two sequence lengths.
DEFAULT_MAX_PREDICTIONS = {128: 20, 512: 76}

# ------------------------------------------------------------------ seeds


def seed_for(global_seed: int, *parts: object) -> int:
    """A 64-bit seed derived from the global seed and a key (split, bucket...).

    sha256 of the text, not hash(): the same in every process and Python version.
    """
    text = "/".join(str(p) for p in (global_seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def bucket_of(doc_id: str, num_buckets: int) -> int:
    return beam_io.stable_shard(doc_id, num_buckets)


def split_of(doc_id: str, eval_percent: float) -> str:
    """'eval' for a stable `eval_percent` share of publications, else 'train'."""
    h = int.from_bytes(hashlib.sha256(doc_id.encode("utf-8")).digest()[:4], "big")
    return "eval" if h % 10000 < round(eval_percent * 100) else "train"


# ------------------------------------------------------------------ tokens

# A token inside this stage is one int: id * 2 + start, where start is 1 when
# the piece begins a masking group (an eojeol with whole-word masking, every
# piece without). Truncation and packing then move one list, not two.


def encode_sentence(morphemes: str, word_starts: str, pieces_of, whole_word: bool = True) -> list[int]:
    """Morphemes (space-joined) + their eojeol marks -> encoded tokens (id * 2 + start).

    `pieces_of(morpheme)` gives the morpheme's WordPiece ids. With whole_word,
    the first piece of a morpheme marked '1' starts a group and every other
    piece continues it (punctuation split off by the basic split included: it
    belongs to its eojeol); without, every piece is its own group.
    """
    out: list[int] = []
    for morpheme, mark in zip(morphemes.split(" "), word_starts, strict=False):
        ids = pieces_of(morpheme)
        for k, i in enumerate(ids):
            start = 1 if (not whole_word or (k == 0 and mark == "1")) else 0
            out.append(i * 2 + start)
    if out and whole_word:
        out[0] |= 1
    return out


class PieceCache:
    """Morpheme -> WordPiece ids through the fast tokenizer, memoised (morphemes repeat)."""

    def __init__(self, tokenizer: Tokenizer, max_size: int = 1 << 20) -> None:
        self._tokenizer = tokenizer
        self._ids = tokenizer._token_dict
        self._cache: dict[str, tuple[int, ...]] = {}
        self._whole: dict[str, dict[str, tuple[int, ...]]] = {}
        self._plain: dict[str, dict[str, tuple[int, ...]]] = {}
        self._max_size = max_size

    def __call__(self, morpheme: str) -> tuple[int, ...]:
        found = self._cache.get(morpheme)
        if found is None:
            found = tuple(self._ids[p] for p in self._tokenizer.pieces(morpheme))
            if len(self._cache) >= self._max_size:
                self._cache.clear()
            self._cache[morpheme] = found
        return found

    def encode_sentence(self, morphemes: str, word_starts: str, whole_word: bool = True) -> list[int]:
        """`encode_sentence(morphemes, word_starts, self, whole_word)`, faster.

        Each morpheme's encoded tokens are memoised per mark ('0' or '1'), so a
        sentence is two lookups per morpheme done by `map`, no Python loop.
        """
        cache = self._whole if whole_word else self._plain
        words = morphemes.split(" ")
        try:
            out = list(chain.from_iterable(map(getitem, map(cache.__getitem__, words), word_starts)))
        except KeyError:  # a new morpheme (or a mark that is neither '0' nor '1')
            if len(cache) + len(words) > self._max_size:
                cache.clear()
            for word in words:
                if word not in cache:
                    cache[word] = self._by_mark(word, whole_word)
            try:
                out = list(chain.from_iterable(map(getitem, map(cache.__getitem__, words), word_starts)))
            except KeyError:
                return encode_sentence(morphemes, word_starts, self, whole_word)
        if out and whole_word:
            out[0] |= 1
        return out

    def _by_mark(self, morpheme: str, whole_word: bool) -> dict[str, tuple[int, ...]]:
        """mark -> the morpheme's encoded tokens, as `encode_sentence` gives them."""
        ids = self(morpheme)
        if not whole_word:
            every = tuple(i * 2 + 1 for i in ids)
            return {"0": every, "1": every}
        inner = tuple(i * 2 for i in ids)
        return {"0": inner, "1": tuple(t | (k == 0) for k, t in enumerate(inner))}


# ------------------------------------------------------------------ BERT instances


@dataclasses.dataclass(frozen=True)
class BertParams:
    max_seq_length: int = 128
    max_predictions_per_seq: int = 20
    masked_lm_prob: float = 0.15
    short_seq_prob: float = 0.1
    cls_id: int = 2
    sep_id: int = 3
    mask_id: int = 4
    # Random replacements are drawn from [random_low, random_high).
    random_low: int = 5
    random_high: int = 6


def bert_params(vocab: dict[str, int], max_seq_length: int, max_predictions: int, config) -> BertParams:
    layout = "korpat" if "<unk>" in vocab else "bert"
    return BertParams(
        max_seq_length=max_seq_length,
        max_predictions_per_seq=max_predictions,
        masked_lm_prob=config.masked_lm_prob,
        short_seq_prob=config.short_seq_prob,
        cls_id=vocab["[CLS]"],
        sep_id=vocab["[SEP]"],
        mask_id=vocab["[MASK]"],
        random_low=len(LAYOUTS[layout]),
        random_high=len(vocab),
    )


@dataclasses.dataclass
class BertInstance:
    input_ids: list[int]
    segment_ids: list[int]
    masked_lm_positions: list[int]
    masked_lm_ids: list[int]
    is_random_next: bool


def truncation(len_a: int, len_b: int, max_num_tokens: int, rng: random.Random) -> tuple[int, int, int, int]:
    """Google's truncate_seq_pair, counted: (front of A, back of A, front of B, back of B) to drop.

    The same draws as Google's token-by-token loop: one per token dropped, from
    the longer side, front or back at random.
    """
    random_ = rng.random
    front_a = back_a = front_b = back_b = 0
    while len_a + len_b > max_num_tokens:
        if len_a > len_b:
            if random_() < 0.5:
                front_a += 1
            else:
                back_a += 1
            len_a -= 1
        else:
            if random_() < 0.5:
                front_b += 1
            else:
                back_b += 1
            len_b -= 1
    return front_a, back_a, front_b, back_b


def truncate_seq_pair(tokens_a: list, tokens_b: list, max_num_tokens: int, rng: random.Random) -> None:
    """Google's, in place: drop from the longer side, from its front or back at random."""
    front_a, back_a, front_b, back_b = truncation(len(tokens_a), len(tokens_b), max_num_tokens, rng)
    tokens_a[:] = tokens_a[front_a : len(tokens_a) - back_a]
    tokens_b[:] = tokens_b[front_b : len(tokens_b) - back_b]


def mask_tokens(
    ids: list[int], starts: Sequence[int], special: Sequence[int], params: BertParams, rng: random.Random
) -> tuple[list[int], list[int], list[int]]:
    """Google's create_masked_lm_predictions on ids -> (ids, positions, labels).

    `special` holds the positions of [CLS] and [SEP]: never candidates.
    Candidates are groups of positions: a new group begins where `starts` is
    1 or after a special token. Positions come out sorted.
    """
    starts = list(starts)
    n_ids = len(ids)
    for i in special:
        starts[i] = 1
        if i + 1 < n_ids:
            starts[i + 1] = 1
    bounds = [i for i, s in enumerate(starts) if s]
    bounds.append(n_ids)
    if bounds[0] != 0:
        bounds.insert(0, 0)
    specials = set(special)
    candidates = [k for k, b in enumerate(bounds[:-1]) if b not in specials]
    return mask_groups(ids, bounds, candidates, params, rng)


def mask_groups(
    ids: list[int], bounds: list[int], candidates: list[int], params: BertParams, rng: random.Random
) -> tuple[list[int], list[int], list[int]]:
    """Masking over candidate groups -> (ids, positions, labels), positions sorted.

    Group k is positions [bounds[k], bounds[k + 1]); `candidates` lists the
    groups that may be masked, in position order; it is used up (shuffled in place).
    """
    output = list(ids)
    num_to_predict = min(params.max_predictions_per_seq, max(1, int(round(len(ids) * params.masked_lm_prob))))
    positions: list[int] = []
    mask_id, low, span = params.mask_id, params.random_low, params.random_high - params.random_low
    # Google shuffles every candidate, then takes groups in order until full.
    # A Fisher-Yates shuffle drawn lazily gives the same distribution and
    # stops after the ~20 groups it needs instead of drawing ~120.
    n, k, taken = len(candidates), 0, 0
    random_ = rng.random
    while k < n and taken < num_to_predict:
        j = k + int(random_() * (n - k))
        group = candidates[j]
        candidates[j] = candidates[k]  # slot k is never read again
        k += 1
        begin, end = bounds[group], bounds[group + 1]
        if taken + end - begin > num_to_predict:
            continue
        # Groups never overlap, so Google's covered-index check is always false here.
        for index in range(begin, end):
            if random_() < 0.8:
                output[index] = mask_id
            elif random_() >= 0.5:  # else kept
                output[index] = low + int(random_() * span)
        positions += range(begin, end)
        taken += end - begin
    positions.sort()
    return output, positions, [ids[p] for p in positions]


# Inside instance building a sentence is (ids, starts): its piece ids, and one
# byte per piece, 1 where the piece begins a masking group. Segments are then
# list and bytes concatenations and slices, and the group bounds of an
# instance one numpy call, instead of per-token Python work.
Sentence = tuple[list[int], bytes]


def split_tokens(tokens: list[int]) -> Sentence:
    """Encoded tokens (id * 2 + start) -> (ids, starts)."""
    return [t >> 1 for t in tokens], bytes([t & 1 for t in tokens])


def create_instances_from_document(
    documents: list[list[list[int]]], document_index: int, params: BertParams, rng: random.Random
) -> list[BertInstance]:
    """Google's create_instances_from_document on encoded tokens (id * 2 + start)."""
    split = [[split_tokens(s) for s in d] for d in documents]
    return instances_from_document(split, document_index, params, rng)


def instances_from_document(
    documents: list[list[Sentence]], document_index: int, params: BertParams, rng: random.Random
) -> list[BertInstance]:
    """Google's create_instances_from_document on (ids, starts) sentences."""
    document = documents[document_index]
    max_num_tokens = params.max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < params.short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)
    instances = []
    current_chunk: list[Sentence] = []
    current_length = 0
    # randint(a, b) is a + _randbelow(b - a + 1) in CPython: the same draws
    # without two Python-level calls in between.
    below = rng._randbelow
    n_documents, i = len(documents), 0
    while i < len(document):
        segment = document[i]
        current_chunk.append(segment)
        current_length += len(segment[0])
        if i == len(document) - 1 or current_length >= target_seq_length:
            if current_chunk:
                a_end = 1
                if len(current_chunk) >= 2:
                    a_end = 1 + below(len(current_chunk) - 1)
                ids_a, starts_a = _join(current_chunk[:a_end])
                if len(current_chunk) == 1 or rng.random() < 0.5:
                    is_random_next = True
                    target_b_length = target_seq_length - len(ids_a)
                    # Google tries 10 times to draw another document; with one
                    # document in the bucket it falls back to the same one.
                    for _ in range(10):
                        random_document_index = below(n_documents)
                        if random_document_index != document_index:
                            break
                    random_document = documents[random_document_index]
                    random_start = below(len(random_document))
                    taken, length = [], 0
                    for j in range(random_start, len(random_document)):
                        taken.append(random_document[j])
                        length += len(random_document[j][0])
                        if length >= target_b_length:
                            break
                    ids_b, starts_b = _join(taken)
                    # The unused segments go back to the document.
                    i -= len(current_chunk) - a_end
                else:
                    is_random_next = False
                    ids_b, starts_b = _join(current_chunk[a_end:])
                len_a, len_b = len(ids_a), len(ids_b)
                if len_a + len_b > max_num_tokens:
                    front_a, back_a, front_b, back_b = truncation(len_a, len_b, max_num_tokens, rng)
                    ids_a, starts_a = ids_a[front_a : len_a - back_a], starts_a[front_a : len_a - back_a]
                    ids_b, starts_b = ids_b[front_b : len_b - back_b], starts_b[front_b : len_b - back_b]
                if ids_a and ids_b:
                    instances.append(
                        _bert_instance(ids_a, starts_a, ids_b, starts_b, is_random_next, params, rng)
                    )
                else:
                    Metrics.counter(NAME, "instances_dropped_empty_segment").inc()
            current_chunk = []
            current_length = 0
        i += 1
    return instances


def _join(sentences: list[Sentence]) -> Sentence:
    if len(sentences) == 1:
        return sentences[0]
    ids: list[int] = []
    for sentence in sentences:
        ids += sentence[0]
    return ids, b"".join([s[1] for s in sentences])


def _bert_instance(ids_a, starts_a, ids_b, starts_b, is_random_next, params, rng) -> BertInstance:
    """Segments A and B as (ids, starts) -> the masked instance."""
    len_a, len_b = len(ids_a), len(ids_b)
    ids = [params.cls_id, *ids_a, params.sep_id, *ids_b, params.sep_id]
    # Every special token and the piece after it begin a group.
    starts = b"\x01\x01" + starts_a[1:] + b"\x01\x01" + starts_b[1:] + b"\x01"
    bounds = np.frombuffer(starts, dtype=np.uint8).nonzero()[0].tolist()
    bounds.append(len(ids))
    # Groups 0 ([CLS]), the first [SEP]'s and the last one's are no candidates.
    sep_a = bounds.index(len_a + 1)
    candidates = [*range(1, sep_a), *range(sep_a + 1, len(bounds) - 2)]
    output, positions, labels = mask_groups(ids, bounds, candidates, params, rng)
    segment_ids = [0] * (len_a + 2) + [1] * (len_b + 1)
    return BertInstance(output, segment_ids, positions, labels, is_random_next)


def bert_bucket_instances(
    documents: list[list[list[int]]],
    params: BertParams,
    dupe_factor: int,
    rng: random.Random,
    finish: Callable[[BertInstance], Any] | None = None,
) -> list:
    """All instances of one bucket, as create_training_instances makes them (shuffled).

    With `finish` (a serializer), each instance goes through it as soon as it
    is made and only the result is kept: the shuffle draws on the count alone,
    so the order is the same, and a bucket holds bytes, not lists of ints
    (less memory, and far less for the cyclic GC to walk).
    """
    documents = [d for d in documents if d]
    rng.shuffle(documents)
    # Split once per bucket, not once per dupe_factor pass.
    split = [[split_tokens(s) for s in d] for d in documents]
    made: list = []
    for _ in range(dupe_factor):
        for index in range(len(split)):
            instances = instances_from_document(split, index, params, rng)
            made.extend(map(finish, instances) if finish else instances)
    rng.shuffle(made)
    return made


# ------------------------------------------------------------------ ELECTRA examples


class ElectraPacker:
    """google-research/electra's ExampleBuilder on id lists: sentences in, (first, second) out."""

    def __init__(self, max_length: int, rng: random.Random) -> None:
        self._max_length = max_length
        self._target_length = max_length
        self._rng = rng
        self._sentences: list[list[int]] = []
        self._length = 0

    def add_sentence(self, ids: list[int]) -> tuple[list[int], list[int]] | None:
        self._sentences.append(ids)
        self._length += len(ids)
        if self._length >= self._target_length:
            return self._create()
        return None

    def end_document(self) -> tuple[list[int], list[int]] | None:
        """ELECTRA's blank line: flushes what has been gathered."""
        return self._create() if self._length else None

    def _create(self) -> tuple[list[int], list[int]]:
        rng = self._rng
        # A small chance of one segment only, as in classification tasks.
        first_target = 100000 if rng.random() < 0.1 else (self._target_length - 3) // 2
        first: list[int] = []
        second: list[int] = []
        for sentence in self._sentences:
            if (
                not first
                or len(first) + len(sentence) < first_target
                or (not second and len(first) < first_target and rng.random() < 0.5)
            ):
                first += sentence
            else:
                second += sentence
        first = first[: self._max_length - 2]
        second = second[: max(0, self._max_length - len(first) - 3)]
        self._sentences = []
        self._length = 0
        if rng.random() < 0.05:
            self._target_length = rng.randint(5, self._max_length)
        else:
            self._target_length = self._max_length
        return first, second


def electra_bucket_examples(
    documents: list[list[list[int]]], max_length: int, rng: random.Random
) -> list[tuple[list[int], list[int]]]:
    """(first, second) segments of one bucket's documents, in shuffled document order."""
    documents = [d for d in documents if d]
    rng.shuffle(documents)
    packer = ElectraPacker(max_length, rng)
    out = []
    for document in documents:
        for sentence in document:
            made = packer.add_sentence(sentence)
            if made:
                out.append(made)
        made = packer.end_document()
        if made:
            out.append(made)
    return out


# ------------------------------------------------------------------ features


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


# ------------------------------------------------------------------ outputs


@dataclasses.dataclass(frozen=True)
class OutputSpec:
    name: str  # bert-128
    flavour: str  # bert | electra
    seq_length: int
    max_predictions: int  # 0 for electra


def output_specs(config: TfrecordsConfig) -> list[OutputSpec]:
    specs = []
    for name in config.outputs:
        flavour, _, length = name.partition("-")
        seq_length = int(length)
        predictions = 0
        if flavour == "bert":
            predictions = config.max_predictions_per_seq or DEFAULT_MAX_PREDICTIONS.get(
                seq_length, int(round(seq_length * config.masked_lm_prob))
            )
        specs.append(OutputSpec(name, flavour, seq_length, predictions))
    return specs


def document_key(row: dict, document: str) -> str:
    if document == "paragraph":
        return f"{row['doc_id']}\x00{row['paragraph_index']:08d}"
    return row["doc_id"]


def group_documents(sentences: Iterable[tuple[str, int, int, bytes]]) -> list[list[list[int]]]:
    """(document key, paragraph, sentence, token bytes) in any order -> documents in key order."""
    documents: list[list[list[int]]] = []
    previous = None
    for key, _, _, data in sorted(sentences):
        if key != previous:
            documents.append([])
            previous = key
        documents[-1].append(array("I", data).tolist())
    return documents


# ------------------------------------------------------------------ Beam


# Sentences per element out of TokenizeSentences: Beam's per-element cost
# (coders, the shuffle) would otherwise exceed the cost of tokenizing one.
SENTENCE_BATCH = 1000


class TokenizeSentences(beam.DoFn):
    """Morph shard path -> ((split, bucket), [(doc key, paragraph, sentence, token bytes), ...]).

    A shard's sentences come out in batches of up to SENTENCE_BATCH per
    (split, bucket); `group_documents` sorts them, so batching changes nothing
    downstream.
    """

    def __init__(self, vocab_path: str, config: TfrecordsConfig, whole_word: bool) -> None:
        self._vocab_path, self._config, self._whole_word = vocab_path, config, whole_word

    def setup(self):
        local = os.path.join(tempfile.mkdtemp(prefix="vocab_"), "vocab.txt")
        with open(local, "wb") as f:
            f.write(beam_io.read_bytes(self._vocab_path))
        self._pieces = PieceCache(Tokenizer(local, pretokenized=True, mode="fast"))

    def process(self, path):
        c = self._config
        sentences = Metrics.counter(NAME, "sentences_in")
        empty = Metrics.counter(NAME, "sentences_empty")
        progress = beam_io.Progress(NAME, "sentences")
        encode, whole_word = self._pieces.encode_sentence, self._whole_word
        columns = ["doc_id", "paragraph_index", "sentence_index", "morphemes", "word_starts"]
        batches: dict[tuple[str, int], list] = {}
        doc_id = key = None
        n_in = n_empty = 0
        for row in beam_io.iter_parquet_rows(path, columns=columns):
            n_in += 1
            progress.tick()
            tokens = encode(row["morphemes"], row["word_starts"], whole_word)
            if not tokens:
                n_empty += 1
                continue
            if row["doc_id"] != doc_id:  # a document's rows mostly come together: hash once
                doc_id = row["doc_id"]
                key = (split_of(doc_id, c.eval_percent), bucket_of(doc_id, c.num_buckets))
            value = (
                document_key(row, c.document),
                row["paragraph_index"],
                row["sentence_index"],
                array("I", tokens).tobytes(),
            )
            batch = batches.setdefault(key, [])
            batch.append(value)
            if len(batch) >= SENTENCE_BATCH:
                yield key, batches.pop(key)
        sentences.inc(n_in)
        empty.inc(n_empty)
        for key in sorted(batches):
            yield key, batches[key]


class BuildExamples(beam.DoFn):
    """((split, bucket), sentence batches) -> ((split, bucket), [(sort key, serialized example)])."""

    def __init__(self, spec: OutputSpec, vocab_path: str, config: TfrecordsConfig) -> None:
        self._spec, self._vocab_path, self._config = spec, vocab_path, config

    def setup(self):
        from pipeline.tokenizer import parse_vocab

        # Through FileSystems: the vocab may be on gs://.
        vocab = parse_vocab(beam_io.read_bytes(self._vocab_path).decode("utf-8"))
        spec, c = self._spec, self._config
        self._cls, self._sep = vocab["[CLS]"], vocab["[SEP]"]
        self._params = bert_params(vocab, spec.seq_length, spec.max_predictions, c)
        names = feature_spec("bert", spec.seq_length, spec.max_predictions, c.v2_feature_names)
        self._write = BertExampleWriter(spec.seq_length, spec.max_predictions, list(names))

    def process(self, element):
        (split, bucket), batches = element
        spec, c = self._spec, self._config
        rng = random.Random(seed_for(c.seed, spec.name, split, bucket))
        documents = group_documents(chain.from_iterable(batches))
        if spec.flavour == "bert":
            made = bert_bucket_instances(documents, self._params, c.dupe_factor, rng, self._write)
        else:
            made = [
                example_bytes(
                    electra_features(a, b, spec.seq_length, self._cls, self._sep, c.v2_feature_names)
                )
                for a, b in electra_bucket_examples(
                    [[[t >> 1 for t in s] for s in d] for d in documents], spec.seq_length, rng
                )
            ]
        del documents
        Metrics.counter(NAME, f"{spec.name}_{split}_examples").inc(len(made))
        # One element per bucket: Beam's per-element cost would otherwise
        # exceed the cost of building an instance.
        yield (split, bucket), [(rng.getrandbits(64), data) for data in made]


def bucket_offsets(counts: dict) -> dict:
    """{(split, bucket): count} -> {(split, bucket): examples dealt before it in its split}."""
    offsets, totals = {}, {}
    for key in sorted(counts):
        split = key[0]
        offsets[key] = totals.get(split, 0)
        totals[split] = offsets[key] + counts[key]
    return offsets


class AssignShard(beam.DoFn):
    """A bucket's examples -> ((split, shard), examples): example k of a split, counted
    bucket by bucket in bucket order, goes to shard k % shards."""

    def __init__(self, num_shards: dict) -> None:
        self._num_shards = num_shards
        self._counts = self._offsets = None

    def process(self, element, counts):
        if counts is not self._counts:  # the side input, once per bundle
            self._counts, self._offsets = counts, bucket_offsets(counts)
        key, examples = element
        split, bucket = key
        shards = self._num_shards[split]
        offset = self._offsets[key]
        for shard in range(shards):
            first = (shard - offset) % shards  # the bucket's first example for this shard
            if first < len(examples):
                chosen = range(first, len(examples), shards)
                yield (split, shard), [(examples[i][0], bucket, i, examples[i][1]) for i in chosen]


def file_path(metadata) -> str:
    return metadata.path


def shard_file(output_dir: str, spec_name: str, split: str, index: int, num_shards: int, gzip: bool) -> str:
    folder = beam_io.join(output_dir, spec_name, f"Split-{split}")
    return beam_io.shard_path(folder, "part", index, num_shards, ".tfrecord.gz" if gzip else ".tfrecord")


def sort_order(example: tuple) -> tuple:
    sort_key, bucket, index, _ = example
    return sort_key, bucket, index


class WriteShard(beam.DoFn):
    """((split, shard), examples) -> one TFRecord file, examples sorted by their sort key."""

    def __init__(self, output_dir: str, spec: OutputSpec, num_shards: dict, gzip: bool) -> None:
        self._output_dir, self._spec, self._num_shards, self._gzip = output_dir, spec, num_shards, gzip

    def process(self, element):
        key, groups = element
        split, index = key
        examples = [x for chunk in groups.get("examples", []) for x in chunk]
        examples.sort(key=sort_order)
        path = shard_file(
            self._output_dir, self._spec.name, split, index, self._num_shards[split], self._gzip
        )
        # The bytes tf.io.TFRecordWriter writes, without importing TensorFlow.
        write_tfrecord_file(path, (data for _, _, _, data in examples), self._gzip)
        yield split, len(examples)


def count_examples(element) -> tuple:
    key, examples = element
    return key, len(examples)


class WriteExampleShards(beam.PTransform):
    """Examples from every bucket -> equal-size, globally shuffled shard files of one output."""

    def __init__(self, output_dir: str, spec: OutputSpec, num_shards: dict, gzip: bool) -> None:
        super().__init__()
        self._output_dir, self._spec, self._num_shards, self._gzip = output_dir, spec, num_shards, gzip

    def expand(self, examples):
        counts = examples | "Count" >> beam.Map(count_examples)
        keyed = examples | "Assign" >> beam.ParDo(
            AssignShard(self._num_shards), counts=beam.pvalue.AsDict(counts)
        )
        every = [(split, i) for split, n in sorted(self._num_shards.items()) for i in range(n)]
        every_shard = examples.pipeline | "EveryShard" >> beam.Create([(k, None) for k in every])
        return (
            {"shard": every_shard, "examples": keyed}
            | "GroupByShard" >> beam.CoGroupByKey()
            | "Write" >> beam.ParDo(WriteShard(self._output_dir, self._spec, self._num_shards, self._gzip))
        )


class BuildPretrainingRecords(beam.PTransform):
    """Morph sentence shards -> one output's TFRecord shards (bert-128, electra-512, ...)."""

    def __init__(
        self,
        sentences_glob: str,
        vocab_path: str,
        spec: OutputSpec,
        config: TfrecordsConfig,
        output_dir: str,
    ) -> None:
        super().__init__()
        self._glob, self._vocab_path, self._spec = sentences_glob, vocab_path, spec
        self._config, self._output_dir = config, output_dir

    def expand(self, pipeline):
        c = self._config
        whole_word = c.whole_word_mask and self._spec.flavour == "bert"
        num_shards = {"train": c.num_shards, "eval": c.eval_num_shards}
        return (
            pipeline
            | "Match" >> fileio.MatchFiles(self._glob)
            | "Paths" >> beam.Map(file_path)
            | "Spread" >> beam.Reshuffle()
            | "Tokenize" >> beam.ParDo(TokenizeSentences(self._vocab_path, c, whole_word))
            | "GroupByBucket" >> beam.GroupByKey()
            | "Build" >> beam.ParDo(BuildExamples(self._spec, self._vocab_path, c))
            | "Shard" >> WriteExampleShards(self._output_dir, self._spec, num_shards, c.gzip)
        )


def vocab_paths(ctx: StageContext) -> dict[str, str]:
    c = ctx.config.tfrecords
    from pipeline.config import resolve_path

    paths = {}
    for flavour, configured in (("bert", c.bert_vocab), ("electra", c.electra_vocab)):
        if configured:
            paths[flavour] = resolve_path(ctx.config, configured)
        else:
            paths[flavour] = beam_io.join(ctx.upstream_dirs["vocab"], flavour, "vocab.txt")
    return paths


def build(p: beam.Pipeline, ctx: StageContext) -> None:
    config = ctx.config.tfrecords
    glob = beam_io.join(ctx.upstream_dirs["morph"], "sentences", "part-*.parquet")
    vocabs = vocab_paths(ctx)
    for spec in output_specs(config):
        _ = p | f"Records_{spec.name}" >> BuildPretrainingRecords(
            glob, vocabs[spec.flavour], spec, config, ctx.output_dir
        )


def finalize(ctx: StageContext) -> dict:
    """Write each output's schema beside it, validate the output (or `validate_shards` of
    each split) with TFDV, and report the example counts validated."""
    from pipeline import tfrecords_schema

    config = ctx.config.tfrecords
    report = {}
    for spec in output_specs(config):
        folder = beam_io.join(ctx.output_dir, spec.name)
        schema_text = tfrecords_schema.schema_text(spec, vocab_size(vocab_paths(ctx)[spec.flavour]))
        beam_io.write_bytes(beam_io.join(folder, "schema.pbtxt"), schema_text.encode())
        counts = {}
        for split in SPLITS:
            files = beam_io.list_files(beam_io.join(folder, f"Split-{split}", "part-*"))
            if config.validate_shards:
                files = files[: config.validate_shards]
            counts[split] = tfrecords_schema.validate_files(files, schema_text, config.gzip)
        report[spec.name] = counts
        beam_io.write_json(beam_io.join(folder, "counts.json"), counts)
    return report


def vocab_size(path: str) -> int:
    from pipeline.tokenizer import parse_vocab

    return len(parse_vocab(beam_io.read_bytes(path).decode("utf-8")))


def stage_files(config) -> list[str]:
    from pipeline.config import resolve_path

    c = config.tfrecords
    return [resolve_path(config, p) for p in (c.bert_vocab, c.electra_vocab) if p]


STAGE = Stage(
    name=NAME,
    upstream=("morph", "vocab"),
    versions={"bert": BERT_VERSION, "electra": ELECTRA_VERSION, "sharding": SHARDING_VERSION},
    build=build,
    description="morphemes -> BERT and ELECTRA pretraining TFRecords",
    accounting=("sentences_in", "sentences_empty", "instances_dropped_empty_segment"),
    files=stage_files,
    finalize=finalize,
)
