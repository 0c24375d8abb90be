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
`google_bert_instances_v2`): one target length per document (short_seq_prob),
segments A/B cut at a random sentence, B from another document half the time
(and always when the chunk has a single sentence), `truncate_seq_pair`, then
masking: 15% of the tokens, 80% [MASK] / 10% random / 10% kept, special tokens
never chosen. Differences, on purpose: the random replacement never draws a
reserved head token ([PAD], [CLS]...), whole-word groups never cross a [SEP],
and "whole word" means an eojeol as `morph` marked it (see `encode_sentence`).

v2 keeps v1's (and Google's) distributions but not its random stream, for
speed: masking draws from a numpy generator seeded by the bucket's generator,
MASK_BATCH instances at a time (`mask_flat`), and truncation draws how many
tokens leave a side's front as one Binomial(n, 1/2) (`truncation`), not one
coin per token. Same seed, same files, whatever the runner or worker count;
but not v1's files, hence the new version.

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
runner or the number of workers. Sentences reach their bucket, and examples
their shard, through scratch files (`pipeline/io/file_shuffle.py`), not a Beam
shuffle, which the DirectRunner would hold whole in its own process: a task
holds one morph shard's tokens (SPILL_SENTENCES at a time), one bucket, or
the read buffers of one shard's merge (MERGE_BUFFER_BYTES).

Speed: the per-instance work is kept off per-token Python. Sentences leave
`TokenizeSentences` as token bytes joined from per-morpheme bytes, and are
split once per bucket into (ids, start bytes) by two numpy calls, so segments
are list/bytes slices; truncation counts its cuts, then slices; a batch of
instances is masked by a few numpy calls. Examples are written as protobuf
wire bytes by `tfrecords_fast`, and the TFRecord files framed and gzipped
there too, without TensorFlow: those bytes are the ones the tf.train.Example
and tf.io.TFRecordWriter path writes, and the instances the ones a
token-by-token reference makes from the same draws (tests/test_tfrecords.py
checks each piece against it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import heapq
import os
import random
import sys
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from operator import getitem
from typing import Any

import apache_beam as beam
import numpy as np
from apache_beam.io import fileio
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import TfrecordsConfig
from pipeline.io import file_shuffle, filesystems
from pipeline.layout import DEFAULT_MAX_PREDICTIONS, SCHEMA_DIR, SPLITS, OutputSpec, output_specs  # noqa: F401 (re-exported for tests)
from pipeline.pretraining.example_writer import BertExampleWriter, example_bytes, write_tfrecord_file
from pipeline.pretraining.features import feature_spec, rename_v2, tf_feature_spec  # noqa: F401
from pipeline.run.stage import Stage, StageContext
from pipeline.text.tokenizer import (
    LAYOUTS,
    Tokenizer,
    vocab_size,  # noqa: F401
)

NAME = "tfrecords"
BERT_VERSION = "google_bert_instances_v2"
ELECTRA_VERSION = "electra_packing_v1"
SHARDING_VERSION = "bucket_roundrobin_v1"
SCRATCH = "_scratch"  # exchange files while the stage runs; deleted by finalize

# Google's defaults for max_predictions_per_seq at its two sequence lengths.

# ------------------------------------------------------------------ seeds


def seed_for(global_seed: int, *parts: object) -> int:
    """A 64-bit seed derived from the global seed and a key (split, bucket...).

    sha256 of the text, not hash(): the same in every process and Python version.
    """
    text = "/".join(str(p) for p in (global_seed, *parts))
    return int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "big")


def bucket_of(doc_id: str, num_buckets: int) -> int:
    return filesystems.stable_shard(doc_id, num_buckets)


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


# The byte of a native uint32 that holds its lowest bit (the start mark).
_LOW_BYTE = 0 if sys.byteorder == "little" else 3


class PieceCache:
    """Morpheme -> WordPiece ids through the fast tokenizer, memoised (morphemes repeat)."""

    def __init__(self, tokenizer: Tokenizer, max_size: int = 1 << 20) -> None:
        self._tokenizer = tokenizer
        self._ids = tokenizer._token_dict
        self._cache: dict[str, tuple[int, ...]] = {}
        self._whole: dict[str, dict[str, tuple[int, ...]]] = {}
        self._plain: dict[str, dict[str, tuple[int, ...]]] = {}
        self._whole_bytes: dict[str, dict[str, bytes]] = {}
        self._plain_bytes: dict[str, dict[str, bytes]] = {}
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

    def encode_bytes(self, morphemes: str, word_starts: str, whole_word: bool = True) -> bytes:
        """`encode_sentence`'s tokens as `array("I", tokens).tobytes()`, built from per-morpheme bytes.

        Each morpheme's bytes are memoised per mark, so a sentence is one join:
        no list of ints and no array in between.
        """
        cache = self._whole_bytes if whole_word else self._plain_bytes
        words = morphemes.split(" ")
        try:
            data = b"".join(map(getitem, map(cache.__getitem__, words), word_starts))
        except KeyError:  # a new morpheme (or a mark that is neither '0' nor '1')
            if len(cache) + len(words) > self._max_size:
                cache.clear()
            for word in words:
                if word not in cache:
                    by_mark = self._by_mark(word, whole_word)
                    cache[word] = {mark: array("I", t).tobytes() for mark, t in by_mark.items()}
            try:
                data = b"".join(map(getitem, map(cache.__getitem__, words), word_starts))
            except KeyError:
                return array("I", encode_sentence(morphemes, word_starts, self, whole_word)).tobytes()
        if data and whole_word and not data[_LOW_BYTE] & 1:  # the first piece starts a group
            data = data[:_LOW_BYTE] + bytes((data[_LOW_BYTE] | 1,)) + data[_LOW_BYTE + 1 :]
        return data

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


def truncated_counts(len_a: int, len_b: int, max_num_tokens: int) -> tuple[int, int]:
    """How many tokens Google's truncate_seq_pair drops from A and from B.

    Its loop drops one token at a time from the longer side (from B on a tie):
    first the gap closes, then B and A take turns. That depends on the lengths
    alone, so it is counted here in closed form.
    """
    excess = len_a + len_b - max_num_tokens
    if excess <= 0:
        return 0, 0
    if len_a > len_b:
        first = min(excess, len_a - len_b)  # from A until the two are equal
        rest = excess - first
        return first + rest // 2, (rest + 1) // 2
    first = min(excess, len_b - len_a + 1)  # from B until A is the longer by one
    rest = excess - first
    return (rest + 1) // 2, first + rest // 2


def truncation(len_a: int, len_b: int, max_num_tokens: int, rng: random.Random) -> tuple[int, int, int, int]:
    """Google's truncate_seq_pair, counted: (front of A, back of A, front of B, back of B) to drop.

    Google drops each token from the front or the back with a fair coin, so
    the tokens dropped from a side's front are Binomial(dropped, 1/2): drawn
    here as the popcount of that many random bits, one draw per side instead
    of one per token (rule v2; v1 drew per token).
    """
    drop_a, drop_b = truncated_counts(len_a, len_b, max_num_tokens)
    front_a = rng.getrandbits(drop_a).bit_count() if drop_a else 0
    front_b = rng.getrandbits(drop_b).bit_count() if drop_b else 0
    return front_a, drop_a - front_a, front_b, drop_b - front_b


def truncate_seq_pair(tokens_a: list, tokens_b: list, max_num_tokens: int, rng: random.Random) -> None:
    """Google's, in place: drop from the longer side, from its front or back at random."""
    front_a, back_a, front_b, back_b = truncation(len(tokens_a), len(tokens_b), max_num_tokens, rng)
    tokens_a[:] = tokens_a[front_a : len(tokens_a) - back_a]
    tokens_b[:] = tokens_b[front_b : len(tokens_b) - back_b]


# ------------------------------------------------------------------ masking

# Masking is done for a batch of sequences at once with numpy (rule v2): the
# draws per sequence are no longer Python calls. A batch is flat: the
# sequences' `starts` bytes concatenated (1 where a masking group begins), their
# lengths, and the flat indices of the special tokens ([CLS], [SEP]).
MASK_BATCH = 512


def mask_flat(
    starts: bytes, lengths: np.ndarray, special: np.ndarray, params: BertParams, gen: np.random.Generator
) -> tuple[list[int], list[int], list[int]]:
    """Google's create_masked_lm_predictions for a batch of sequences.

    -> (positions, replacements, counts): for each sequence in turn, `counts[s]`
    positions (within the sequence, sorted) and the id each one takes, -1 for
    "kept". `starts` must mark every special token and the piece after it as
    a group start; groups that begin at a special token are never candidates.

    Per sequence, as Google: num_to_predict = min(max_predictions,
    max(1, round(n * masked_lm_prob))); candidate groups in random order, taken
    while they fit (a group that would overshoot is skipped, the next tried);
    each masked piece becomes [MASK] (80%), a random non-reserved id (10%) or
    stays (10%).
    """
    m = len(lengths)
    first = np.cumsum(lengths) - lengths
    total = int(first[-1] + lengths[-1]) if m else 0
    is_start = np.frombuffer(starts, dtype=np.uint8).astype(bool)
    is_start[first] = True  # a sequence's first piece begins a group
    group_start = np.flatnonzero(is_start)
    group_length = np.diff(group_start, append=total)
    sequence_begins = np.zeros(total, dtype=bool)
    sequence_begins[first] = True
    group_seq = np.cumsum(sequence_begins[group_start]) - 1
    is_special = np.zeros(total, dtype=bool)
    is_special[special] = True
    candidate = ~is_special[group_start]
    cand_start, cand_length, cand_seq = group_start[candidate], group_length[candidate], group_seq[candidate]
    to_predict = np.minimum(
        params.max_predictions_per_seq,
        np.maximum(1, np.rint(lengths * params.masked_lm_prob).astype(np.int64)),
    )
    # Row s of the grids: sequence s's candidates, in position order, padded.
    per_seq = np.bincount(cand_seq, minlength=m)
    cand_column = np.arange(len(cand_start)) - np.repeat(np.cumsum(per_seq) - per_seq, per_seq)
    width = int(per_seq.max()) if m else 0
    never_fits = params.max_predictions_per_seq + 1
    in_position_order = np.full((m, width), never_fits, dtype=np.int64)
    in_position_order[cand_seq, cand_column] = cand_length
    # Shuffle each row: sort by random keys, the padding (key 2) last.
    keys = gen.random((m, width))
    keys[in_position_order == never_fits] = 2.0
    shuffled = np.argsort(keys, axis=1)
    grid = np.take_along_axis(in_position_order, shuffled, axis=1)
    # Google's greedy take in two steps. The prefix that fits, at once: the
    # lengths are positive, so it is where the running sum stays within the
    # target. Then, only in rows with room left, each round takes the first
    # later group that fits the room (the one Google's loop would take next).
    take = np.cumsum(grid, axis=1) <= to_predict[:, None]
    examined = take.sum(axis=1)  # the prefix length; that column did not fit
    room = to_predict - np.where(take, grid, 0).sum(axis=1)
    rows = np.flatnonzero((room > 0) & (examined < per_seq))
    columns = np.arange(width)
    while rows.size:
        fits = (columns > examined[rows, None]) & (grid[rows] <= room[rows, None])
        some = fits.any(axis=1)
        rows, fits = rows[some], fits[some]
        column = fits.argmax(axis=1)
        take[rows, column] = True
        room[rows] -= grid[rows, column]
        examined[rows] = column
        rows = rows[room[rows] > 0]
    # Back to position order: the chosen candidates come out sorted.
    taken_in_position_order = np.zeros((m, width), dtype=bool)
    np.put_along_axis(taken_in_position_order, shuffled, take, axis=1)
    chosen = taken_in_position_order[cand_seq, cand_column]
    begin, length, seq = cand_start[chosen], cand_length[chosen], cand_seq[chosen]
    positions = np.arange(int(length.sum())) + np.repeat(begin - (np.cumsum(length) - length), length)
    kind = gen.random(len(positions))
    replacement = np.full(len(positions), -1, dtype=np.int64)
    replacement[kind < 0.8] = params.mask_id
    random_word = kind >= 0.9
    replacement[random_word] = gen.integers(params.random_low, params.random_high, int(random_word.sum()))
    seq = np.repeat(seq, length)
    counts = np.bincount(seq, minlength=m)
    return (positions - first[seq]).tolist(), replacement.tolist(), counts.tolist()


def apply_masks(ids: list[int], positions: list[int], replacements: list[int]) -> tuple[list[int], list[int]]:
    """(masked ids, labels) of one sequence from `mask_flat`'s positions and replacements."""
    output = list(ids)
    for position, new in zip(positions, replacements, strict=True):
        if new >= 0:
            output[position] = new
    return output, [ids[p] for p in positions]


def mask_tokens(
    ids: list[int],
    starts: Sequence[int],
    special: Sequence[int],
    params: BertParams,
    gen: np.random.Generator,
) -> tuple[list[int], list[int], list[int]]:
    """Masking of one sequence -> (ids, positions, labels), positions sorted.

    `special` holds the positions of [CLS] and [SEP]: never candidates.
    Candidates are groups of positions: a new group begins where `starts` is
    1 or after a special token.
    """
    starts = bytearray(1 if s else 0 for s in starts)
    for i in special:
        starts[i] = 1
        if i + 1 < len(ids):
            starts[i + 1] = 1
    positions, replacements, _ = mask_flat(
        bytes(starts), np.array([len(ids)]), np.array(special, dtype=np.int64), params, gen
    )
    output, labels = apply_masks(ids, positions, replacements)
    return output, positions, labels


# Inside instance building a sentence is (ids, starts): its piece ids, and one
# byte per piece, 1 where the piece begins a masking group. Segments are then
# list and bytes concatenations and slices, and a batch of instances is
# masked with a few numpy calls, instead of per-token Python work.
Sentence = tuple[list[int], bytes]
# Segments A and B before masking: (ids_a, starts_a, ids_b, starts_b, is_random_next).
Pair = tuple[list[int], bytes, list[int], bytes, bool]


def split_tokens(tokens: list[int]) -> Sentence:
    """Encoded tokens (id * 2 + start) -> (ids, starts)."""
    return [t >> 1 for t in tokens], bytes([t & 1 for t in tokens])


def split_documents(documents: list[list[list[int]]]) -> list[list[Sentence]]:
    return [[split_tokens(s) for s in d] for d in documents]


def create_instances_from_document(
    documents: list[list[list[int]]],
    document_index: int,
    params: BertParams,
    rng: random.Random,
    gen: np.random.Generator,
) -> list[BertInstance]:
    """Google's create_instances_from_document on encoded tokens (id * 2 + start)."""
    pairs = segment_pairs(split_documents(documents), document_index, params, rng)
    return mask_pairs(pairs, params, gen)


def segment_pairs(
    documents: list[list[Sentence]], document_index: int, params: BertParams, rng: random.Random
) -> list[Pair]:
    """Google's create_instances_from_document on (ids, starts) sentences, before masking."""
    document = documents[document_index]
    max_num_tokens = params.max_seq_length - 3
    target_seq_length = max_num_tokens
    if rng.random() < params.short_seq_prob:
        target_seq_length = rng.randint(2, max_num_tokens)
    pairs: list[Pair] = []
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
                    pairs.append((ids_a, starts_a, ids_b, starts_b, is_random_next))
                else:
                    Metrics.counter(NAME, "instances_dropped_empty_segment").inc()
            current_chunk = []
            current_length = 0
        i += 1
    return pairs


def _join(sentences: list[Sentence]) -> Sentence:
    if len(sentences) == 1:
        return sentences[0]
    ids: list[int] = []
    for sentence in sentences:
        ids += sentence[0]
    return ids, b"".join([s[1] for s in sentences])


def mask_pairs(pairs: list[Pair], params: BertParams, gen: np.random.Generator) -> list[BertInstance]:
    """Segment pairs -> masked instances ([CLS] A [SEP] B [SEP]), one `mask_flat` call for all."""
    if not pairs:
        return []
    cls_id, sep_id = params.cls_id, params.sep_id
    # Every special token and the piece after it begin a group.
    starts = b"".join([b"".join((b"\x01\x01", p[1][1:], b"\x01\x01", p[3][1:], b"\x01")) for p in pairs])
    len_a = np.array([len(p[0]) for p in pairs], dtype=np.int64)
    lengths = len_a + np.array([len(p[2]) for p in pairs], dtype=np.int64) + 3
    first = np.cumsum(lengths) - lengths
    special = np.concatenate((first, first + len_a + 1, first + lengths - 1))
    positions, replacements, counts = mask_flat(starts, lengths, special, params, gen)
    instances, j = [], 0
    for (ids_a, _, ids_b, _, is_random_next), count in zip(pairs, counts, strict=True):
        output = [cls_id, *ids_a, sep_id, *ids_b, sep_id]
        where = positions[j : j + count]
        labels = [output[p] for p in where]
        for p, new in zip(where, replacements[j : j + count], strict=True):  # apply_masks, inlined
            if new >= 0:
                output[p] = new
        j += count
        segment_ids = [0] * (len(ids_a) + 2) + [1] * (len(ids_b) + 1)
        instances.append(BertInstance(output, segment_ids, where, labels, is_random_next))
    return instances


def bert_bucket_instances(
    documents: list[list[Sentence]],
    params: BertParams,
    dupe_factor: int,
    rng: random.Random,
    finish: Callable[[BertInstance], Any] | None = None,
) -> list:
    """All instances of one bucket, as create_training_instances makes them (shuffled).

    `documents` hold (ids, starts) sentences (`group_sentences`,
    `split_documents`). Segments come from `rng`; masking from a numpy
    generator seeded by `rng`'s first draw, MASK_BATCH instances at a time.
    With `finish` (a serializer), each instance goes through it as soon as it
    is masked and only the result is kept: the shuffle draws on the count
    alone, so the order is the same, and a bucket holds bytes, not lists of
    ints (less memory, and far less for the cyclic GC to walk).
    """
    gen = np.random.default_rng(rng.getrandbits(64))
    documents = [d for d in documents if d]
    rng.shuffle(documents)
    made: list = []
    pending: list[Pair] = []
    for _ in range(dupe_factor):
        for index in range(len(documents)):
            pending += segment_pairs(documents, index, params, rng)
            if len(pending) >= MASK_BATCH:
                instances = mask_pairs(pending, params, gen)
                made.extend(map(finish, instances) if finish else instances)
                pending = []
    instances = mask_pairs(pending, params, gen)
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


def group_sentences(sentences: Iterable[tuple[str, int, int, bytes]]) -> list[list[Sentence]]:
    """`group_documents`, with each sentence split into (ids, starts) as `split_tokens` does.

    The bucket's tokens are split by two numpy calls over all of them, then sliced.
    """
    ordered = sorted(sentences)
    tokens = np.frombuffer(b"".join([s[3] for s in ordered]), dtype=np.uint32)
    all_ids = (tokens >> 1).tolist()
    all_starts = (tokens & 1).astype(np.uint8).tobytes()
    documents: list[list[Sentence]] = []
    previous, begin = None, 0
    for key, _, _, data in ordered:
        if key != previous:
            documents.append([])
            previous = key
        end = begin + len(data) // 4
        documents[-1].append((all_ids[begin:end], all_starts[begin:end]))
        begin = end
    return documents


# ------------------------------------------------------------------ Beam


@contextlib.contextmanager
def cyclic_gc_paused():
    """Python's cyclic GC off for the block (back to its former state after).

    Building a bucket allocates ~10 container objects per instance and makes
    no reference cycles, so reference counting frees all of it; but every
    generation-2 collection those allocations trigger walks every object the
    worker holds (the runner's buffered elements too): a fifth of the build's
    CPU time at dupe_factor 10.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def scratch_dir(output_dir: str, spec_name: str) -> str:
    """Where one output's exchange files live while the stage runs (see pipeline/io/file_shuffle.py)."""
    return filesystems.join(output_dir, SCRATCH, spec_name)


class TokenizeSentences(beam.DoFn):
    """Morph shard path -> ((split, bucket), BlockRef) for each bucket its sentences reach.

    A block holds [(doc key, paragraph, sentence, token bytes), ...] of one
    (split, bucket) in shard order; `group_sentences` sorts them, so the order
    in which a bucket's blocks are read changes nothing downstream. A new
    scratch file starts every SPILL_SENTENCES sentences.
    """

    def __init__(self, vocab_path: str, config: TfrecordsConfig, whole_word: bool, scratch: str) -> None:
        self._vocab_path, self._config, self._whole_word = vocab_path, config, whole_word
        self._scratch = scratch

    def setup(self):
        local = os.path.join(tempfile.mkdtemp(prefix="vocab_"), "vocab.txt")
        with open(local, "wb") as f:
            f.write(filesystems.read_bytes(self._vocab_path))
        self._pieces = PieceCache(Tokenizer(local, pretokenized=True, mode="fast"))

    def take_sentences(self, rows: Iterator[dict], limit: int) -> tuple[dict, int, int]:
        """Up to `limit` non-empty sentences from `rows` -> ({(split, bucket): [sentence, ...]},
        rows read, empty rows)."""
        c = self._config
        encode, whole_word = self._pieces.encode_bytes, self._whole_word
        partitions: dict[tuple[str, int], list] = {}
        doc_id = partition = None
        n_in = n_empty = held = 0
        for row in rows:
            n_in += 1
            tokens = encode(row["morphemes"], row["word_starts"], whole_word)
            if not tokens:
                n_empty += 1
                continue
            if row["doc_id"] != doc_id:  # a document's rows mostly come together: hash once
                doc_id = row["doc_id"]
                key = (split_of(doc_id, c.eval_percent), bucket_of(doc_id, c.num_buckets))
                partition = partitions.setdefault(key, [])
            partition.append(
                (document_key(row, c.document), row["paragraph_index"], row["sentence_index"], tokens)
            )
            held += 1
            if held >= limit:
                break
        return partitions, n_in, n_empty

    def process(self, path):
        name = path.rstrip("/").rsplit("/", 1)[-1]
        columns = ["doc_id", "paragraph_index", "sentence_index", "morphemes", "word_starts"]
        rows = iter(filesystems.iter_parquet_rows(path, columns=columns))
        progress = filesystems.Progress(NAME, "sentences")
        segment = 0
        while True:
            with cyclic_gc_paused():  # a tuple per sentence
                partitions, n_in, n_empty = self.take_sentences(rows, SPILL_SENTENCES)
                blocks = {key: file_shuffle.dump(sentences) for key, sentences in partitions.items()}
                del partitions
            progress.tick(n_in)  # a counter update per row cost more than tokenizing
            Metrics.counter(NAME, "sentences_in").inc(n_in)
            Metrics.counter(NAME, "sentences_empty").inc(n_empty)
            if blocks:
                file = filesystems.join(
                    self._scratch, file_shuffle.unique_name(f"tokens-{name}-{segment:05d}")
                )
                yield from file_shuffle.write_blocks(file, blocks).items()
            del blocks
            if not n_in:
                return
            segment += 1


# Sentences a tokenising task holds before it writes them out as one more
# scratch file (~100 bytes each), so its memory does not grow with its shard.
SPILL_SENTENCES = 500_000


class BuildExamples(beam.DoFn):
    """((split, bucket), its sentence BlockRefs) -> ((split, bucket), examples made, {piece: BlockRef}).

    The bucket's examples are dealt into `num_shards[split]` pieces, example j
    to piece j % shards, each piece a block of framed (sort key, j, serialized
    example) records in sort order; `deal_pieces` sends each piece to the
    shard that the bucket's offset in its split gives it.
    """

    def __init__(
        self, spec: OutputSpec, vocab_path: str, config: TfrecordsConfig, num_shards: dict, scratch: str
    ) -> None:
        self._spec, self._vocab_path, self._config = spec, vocab_path, config
        self._num_shards, self._scratch = num_shards, scratch

    def setup(self):
        from pipeline.text.tokenizer import parse_vocab

        # Through FileSystems: the vocab may be on gs://.
        vocab = parse_vocab(filesystems.read_bytes(self._vocab_path).decode("utf-8"))
        spec, c = self._spec, self._config
        self._cls, self._sep = vocab["[CLS]"], vocab["[SEP]"]
        self._params = bert_params(vocab, spec.seq_length, spec.max_predictions, c)
        names = feature_spec("bert", spec.seq_length, spec.max_predictions, c.v2_feature_names)
        self._write = BertExampleWriter(spec.seq_length, spec.max_predictions, list(names))

    def examples(self, split: str, bucket: int, sentences: Iterable[tuple]) -> list[tuple[int, bytes]]:
        """A bucket's sentences -> [(sort key, serialized example), ...] in the order made."""
        spec, c = self._spec, self._config
        rng = random.Random(seed_for(c.seed, spec.name, split, bucket))
        with cyclic_gc_paused():
            if spec.flavour == "bert":
                documents = group_sentences(sentences)
                made = bert_bucket_instances(documents, self._params, c.dupe_factor, rng, self._write)
            else:
                documents = group_documents(sentences)
                made = [
                    example_bytes(
                        electra_features(a, b, spec.seq_length, self._cls, self._sep, c.v2_feature_names)
                    )
                    for a, b in electra_bucket_examples(
                        [[[t >> 1 for t in s] for s in d] for d in documents], spec.seq_length, rng
                    )
                ]
            del documents
            return [(rng.getrandbits(64), data) for data in made]

    def process(self, element):
        key, refs = element
        split, bucket = key
        made = self.examples(split, bucket, chain.from_iterable(file_shuffle.load_blocks(refs)))
        count = len(made)
        Metrics.counter(NAME, f"{self._spec.name}_{split}_examples").inc(count)
        shards = self._num_shards[split]
        with cyclic_gc_paused():
            blocks = {
                piece: file_shuffle.frame_records(
                    sorted((made[j][0], j, made[j][1]) for j in range(piece, count, shards))
                )
                for piece in range(min(shards, count))
            }
        del made
        file = filesystems.join(self._scratch, file_shuffle.unique_name(f"examples-{split}-{bucket:05d}"))
        yield key, count, file_shuffle.write_blocks(file, blocks)


def bucket_offsets(counts: dict) -> dict:
    """{(split, bucket): count} -> {(split, bucket): examples dealt before it in its split}."""
    offsets, totals = {}, {}
    for key in sorted(counts):
        split = key[0]
        offsets[key] = totals.get(split, 0)
        totals[split] = offsets[key] + counts[key]
    return offsets


def deal_pieces(built: tuple, offsets: dict, num_shards: dict) -> list[tuple]:
    """A bucket's pieces -> [((split, shard), (bucket, BlockRef)), ...]: example k of a split,
    counted bucket by bucket in bucket order, goes to shard k % shards, so piece r
    (the bucket's examples r, r + shards, ...) goes to shard (offset + r) % shards."""
    key, _, pieces = built
    split, bucket = key
    shards = num_shards[split]
    return [
        ((split, (offsets[key] + piece) % shards), (bucket, ref)) for piece, ref in sorted(pieces.items())
    ]


class DealPieces(beam.DoFn):
    def __init__(self, num_shards: dict) -> None:
        self._num_shards = num_shards
        self._counts = self._offsets = None

    def process(self, built, counts):
        if counts is not self._counts:  # the side input, once per bundle
            self._counts, self._offsets = counts, bucket_offsets(counts)
        yield from deal_pieces(built, self._offsets, self._num_shards)


def file_path(metadata) -> str:
    return metadata.path


def shard_file(output_dir: str, spec_name: str, split: str, index: int, num_shards: int, gzip: bool) -> str:
    folder = filesystems.join(output_dir, spec_name, f"Split-{split}")
    return filesystems.shard_path(folder, "part", index, num_shards, ".tfrecord.gz" if gzip else ".tfrecord")


# Read buffer of one shard writer, shared by the pieces it merges (one per bucket).
MERGE_BUFFER_BYTES = 64 << 20


def _tagged(bucket: int, frames: Iterable[tuple[int, int, bytes]]) -> Iterable[tuple]:
    for sort_key, index, data in frames:
        yield sort_key, bucket, index, data


def shard_examples(pieces: Iterable[tuple[int, file_shuffle.BlockRef]]) -> Iterable[tuple]:
    """A shard's pieces, (bucket, BlockRef) -> its examples as (sort key, bucket, index, data)
    in sort order. Streams: each piece is read in chunks and the pieces merged, so
    memory does not grow with the shard."""
    pieces = sorted(pieces, key=lambda p: (p[0], p[1].path, p[1].start))
    chunk = min(1 << 20, max(16 << 10, MERGE_BUFFER_BYTES // max(1, len(pieces))))
    return heapq.merge(*(_tagged(bucket, file_shuffle.iter_frames(ref, chunk)) for bucket, ref in pieces))


class WriteShard(beam.DoFn):
    """((split, shard), {"pieces": [(bucket, BlockRef), ...]}) -> one TFRecord file, examples
    sorted by sort key."""

    def __init__(self, output_dir: str, spec: OutputSpec, num_shards: dict, gzip: bool) -> None:
        self._output_dir, self._spec, self._num_shards, self._gzip = output_dir, spec, num_shards, gzip

    def process(self, element):
        (split, index), grouped = element
        examples = shard_examples(grouped.get("pieces", []))
        path = shard_file(
            self._output_dir, self._spec.name, split, index, self._num_shards[split], self._gzip
        )
        # The bytes tf.io.TFRecordWriter writes, without importing TensorFlow.
        yield split, write_tfrecord_file(path, (data for _, _, _, data in examples), self._gzip)


def built_count(built: tuple) -> tuple:
    key, count, _ = built
    return key, count


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
        scratch = scratch_dir(self._output_dir, self._spec.name)
        # Sentences and examples travel through scratch files
        # (pipeline/io/file_shuffle.py); Beam groups only their BlockRefs, so no
        # runner holds the corpus.
        built = (
            pipeline
            | "Match" >> fileio.MatchFiles(self._glob)
            | "Paths" >> beam.Map(file_path)
            | "Spread" >> beam.Reshuffle()
            | "Tokenize" >> beam.ParDo(TokenizeSentences(self._vocab_path, c, whole_word, scratch))
            | "GroupByBucket" >> beam.GroupByKey()
            | "Build" >> beam.ParDo(BuildExamples(self._spec, self._vocab_path, c, num_shards, scratch))
        )
        counts = beam.pvalue.AsDict(built | "Counts" >> beam.Map(built_count))
        pieces = built | "Deal" >> beam.ParDo(DealPieces(num_shards), counts=counts)
        every = [(split, i) for split, n in sorted(num_shards.items()) for i in range(n)]
        every_shard = pipeline | "Shards" >> beam.Create([(k, None) for k in every])
        return (
            {"shard": every_shard, "pieces": pieces}
            | "GroupByShard" >> beam.CoGroupByKey()
            | "Write" >> beam.ParDo(WriteShard(self._output_dir, self._spec, num_shards, c.gzip))
        )


def vocab_paths(ctx: StageContext) -> dict[str, str]:
    return layout.pretraining_vocabs(ctx.config, ctx.config.tfrecords, ctx.upstream_dirs[layout.VOCAB])


def build(p: beam.Pipeline, ctx: StageContext) -> None:
    config = ctx.config.tfrecords
    glob = filesystems.join(ctx.upstream_dirs["morph"], "sentences", "part-*.parquet")
    vocabs = vocab_paths(ctx)
    for spec in output_specs(config):
        _ = p | f"Records_{spec.name}" >> BuildPretrainingRecords(
            glob, vocabs[spec.flavour], spec, config, ctx.output_dir
        )


def finalize(ctx: StageContext) -> dict:
    """Write each output's schema beside it, validate the output (or `validate_shards` of
    each split) with TFDV, and report the example counts validated."""
    from pipeline.pretraining import schema_files

    config = ctx.config.tfrecords
    filesystems.delete_tree(filesystems.join(ctx.output_dir, SCRATCH))
    report = {}
    for spec in output_specs(config):
        folder = filesystems.join(ctx.output_dir, spec.name)
        schema_text = schema_files.schema_text(spec, vocab_size(vocab_paths(ctx)[spec.flavour]))
        filesystems.write_bytes(filesystems.join(folder, "schema.pbtxt"), schema_text.encode())
        counts = {}
        for split in SPLITS:
            files = filesystems.list_files(filesystems.join(folder, f"Split-{split}", "part-*"))
            if config.validate_shards:
                files = files[: config.validate_shards]
            counts[split] = schema_files.validate_files(files, schema_text, config.gzip)
        report[spec.name] = counts
        filesystems.write_json(filesystems.join(folder, "counts.json"), counts)
    return report


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
