"""Google BERT's pretraining instances (MLM + NSP) from documents of encoded sentences.

In:  one bucket's documents, each a list of (ids, starts) sentences
     (`sentence_encoding.group_sentences`), a `random.Random` for the bucket.
Out: masked `BertInstance`s ([CLS] A [SEP] B [SEP], masked positions and
     labels, the NSP label), in Google's shuffled order.

BERT instances follow Google's `create_pretraining_data.py` (rule
`google_bert_instances_v2`, `NspCounts(balanced=False)` or no counts): one
target length per document (short_seq_prob),
segments A/B cut at a random sentence, B from another document half the time
(and always when the chunk has a single sentence), `truncate_seq_pair`, then
masking: 15% of the tokens, 80% [MASK] / 10% random / 10% kept, special tokens
never chosen. Differences, on purpose: the random replacement never draws a
reserved head token ([PAD], [CLS]...), whole-word groups never cross a [SEP],
and "whole word" means an eojeol as `morph` marked it (see `encode_sentence`).

NSP balance (rule `google_bert_instances_v3`, the stage's default): Google's
rule gives a random next wherever a chunk holds one sentence, and a random
next puts the chunk's unused sentences back, so a document's last sentence,
put back alone, becomes one more random next. On long publications that
skews the label-1 share a little (56% on the demo); on abstracts of ~2.2
sentences it makes 2 random pairs for every real one (67-77%). v3 changes two
things and nothing else (segments, truncation and masking are v2's):
- a chunk closes on its target length only once it holds two sentences (or
  at the document's end), so a real next segment exists whenever the
  document has one (the pair is truncated as usual);
- the random-or-real draw keeps the bucket's running count even: while the
  bucket's pairs hold more random than real next segments, a chunk that can
  have a real next gets it; otherwise random with probability 1/2, or 1/3
  when a random next would put back a single sentence that ends the document
  (that sentence can only become one more random pair: 2 random : 1 real).
Only documents of one sentence still force a random next; `NspCounts` counts
them, and the stage warns when they keep the share above 0.55.

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

Speed: segments are list/bytes slices of the (ids, starts) sentences;
truncation counts its cuts, then slices; a batch of instances is masked by a
few numpy calls. tests/pretraining/test_bert_instances.py checks the instances
against a token-by-token reference making the same draws.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from pipeline.pretraining.sentence_encoding import Sentence, split_tokens
from pipeline.text.tokenizer import LAYOUTS

GOOGLE_BERT_VERSION = "google_bert_instances_v2"
BERT_VERSION = "google_bert_instances_v3"
# tfrecords.nsp_rule -> the rule version it writes with.
NSP_RULES = {"balanced": BERT_VERSION, "google": GOOGLE_BERT_VERSION}


@dataclasses.dataclass
class NspCounts:
    """A bucket's NSP labels so far; with `balanced`, `segment_pairs` keeps them even (v3)."""

    balanced: bool = True
    random_next: int = 0
    actual_next: int = 0
    forced_random: int = 0  # one-sentence chunks: no real next segment existed

    def add(self, other: NspCounts) -> None:
        self.random_next += other.random_next
        self.actual_next += other.actual_next
        self.forced_random += other.forced_random

    def share(self) -> float | None:
        """The label-1 (random next) share; None without pairs."""
        total = self.random_next + self.actual_next
        return self.random_next / total if total else None

    def as_dict(self) -> dict:
        return {
            "random_next": self.random_next,
            "actual_next": self.actual_next,
            "forced_random": self.forced_random,
        }


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


# Segments A and B before masking: (ids_a, starts_a, ids_b, starts_b, is_random_next).
Pair = tuple[list[int], bytes, list[int], bytes, bool]


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
    documents: list[list[Sentence]],
    document_index: int,
    params: BertParams,
    rng: random.Random,
    dropped: Callable[[], Any] | None = None,
    nsp: NspCounts | None = None,
) -> list[Pair]:
    """Google's create_instances_from_document on (ids, starts) sentences, before masking.

    A pair left with an empty segment after truncation is dropped, as Google
    does, and `dropped()` called for it (the stage counts them). With `nsp`,
    the pairs' labels are counted into it, and with `nsp.balanced` made by
    rule v3 (module docstring); without, or not balanced, by Google's (v2).
    """
    balanced = nsp is not None and nsp.balanced
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
    last = len(document) - 1
    while i < len(document):
        segment = document[i]
        current_chunk.append(segment)
        current_length += len(segment[0])
        if i == last or (current_length >= target_seq_length and (len(current_chunk) >= 2 or not balanced)):
            if current_chunk:
                a_end = 1
                if len(current_chunk) >= 2:
                    a_end = 1 + below(len(current_chunk) - 1)
                ids_a, starts_a = _join(current_chunk[:a_end])
                forced = len(current_chunk) == 1
                if forced:
                    is_random_next = True
                elif balanced:
                    draw = rng.random()
                    if nsp.random_next > nsp.actual_next:
                        is_random_next = False
                    else:
                        # A random next here would put back the document's last
                        # sentence alone: one more random pair to come.
                        lone_rest = i == last and len(current_chunk) - a_end == 1
                        is_random_next = draw < (1 / 3 if lone_rest else 0.5)
                else:
                    is_random_next = rng.random() < 0.5
                if is_random_next:
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
                    ids_b, starts_b = _join(current_chunk[a_end:])
                len_a, len_b = len(ids_a), len(ids_b)
                if len_a + len_b > max_num_tokens:
                    front_a, back_a, front_b, back_b = truncation(len_a, len_b, max_num_tokens, rng)
                    ids_a, starts_a = ids_a[front_a : len_a - back_a], starts_a[front_a : len_a - back_a]
                    ids_b, starts_b = ids_b[front_b : len_b - back_b], starts_b[front_b : len_b - back_b]
                if ids_a and ids_b:
                    pairs.append((ids_a, starts_a, ids_b, starts_b, is_random_next))
                    if nsp is not None:
                        if is_random_next:
                            nsp.random_next += 1
                            nsp.forced_random += forced
                        else:
                            nsp.actual_next += 1
                elif dropped is not None:
                    dropped()
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


@dataclasses.dataclass
class UnmaskedInstance:
    """[CLS] A [SEP] B [SEP] before masking, for dynamic masking (`features.dynamic_bert_features`)."""

    input_ids: list[int]
    segment_ids: list[int]
    starts: bytes  # 1 where a masking group begins: each special token and the piece after it too
    is_random_next: bool


def unmasked_pairs(pairs: list[Pair], params: BertParams) -> list[UnmaskedInstance]:
    """Segment pairs -> unmasked instances, with the group starts `mask_pairs` masks by."""
    cls_id, sep_id = params.cls_id, params.sep_id
    return [
        UnmaskedInstance(
            [cls_id, *ids_a, sep_id, *ids_b, sep_id],
            [0] * (len(ids_a) + 2) + [1] * (len(ids_b) + 1),
            b"".join((b"\x01\x01", starts_a[1:], b"\x01\x01", starts_b[1:], b"\x01")),
            is_random_next,
        )
        for ids_a, starts_a, ids_b, starts_b, is_random_next in pairs
    ]


def bert_bucket_instances(
    documents: list[list[Sentence]],
    params: BertParams,
    dupe_factor: int,
    rng: random.Random,
    finish: Callable[[BertInstance], Any] | None = None,
    dropped: Callable[[], Any] | None = None,
    nsp: NspCounts | None = None,
    masked: bool = True,
) -> list:
    """All instances of one bucket, as create_training_instances makes them (shuffled).

    `documents` hold (ids, starts) sentences (`group_sentences`,
    `split_documents`). Segments come from `rng`; masking from a numpy
    generator seeded by `rng`'s first draw, MASK_BATCH instances at a time.
    With `finish` (a serializer), each instance goes through it as soon as it
    is masked and only the result is kept: the shuffle draws on the count
    alone, so the order is the same, and a bucket holds bytes, not lists of
    ints (less memory, and far less for the cyclic GC to walk). `dropped` is
    called for each pair dropped with an empty segment (`segment_pairs`).
    `nsp` counts the NSP labels and, when balanced, keeps them even (rule v3);
    None: Google's rule (v2), uncounted. `masked=False` (dynamic masking):
    `UnmaskedInstance`s, no masking draws (call it with dupe_factor 1: the
    trainer draws new masks each epoch).
    """
    gen = np.random.default_rng(rng.getrandbits(64))

    def make(pairs: list[Pair]) -> list:
        return mask_pairs(pairs, params, gen) if masked else unmasked_pairs(pairs, params)

    documents = [d for d in documents if d]
    rng.shuffle(documents)
    made: list = []
    pending: list[Pair] = []
    for _ in range(dupe_factor):
        for index in range(len(documents)):
            pending += segment_pairs(documents, index, params, rng, dropped, nsp)
            if len(pending) >= MASK_BATCH:
                instances = make(pending)
                made.extend(map(finish, instances) if finish else instances)
                pending = []
    instances = make(pending) if pending else []
    made.extend(map(finish, instances) if finish else instances)
    rng.shuffle(made)
    return made
