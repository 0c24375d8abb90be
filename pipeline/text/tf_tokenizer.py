"""The tokenizer's subword step inside a TensorFlow graph (tensorflow-text).

    tf_tok = TFTokenizer.from_tokenizer(Tokenizer("vocab.txt"))
    ids = tf_tok.tokenize(tf.constant(["본 발명 은 세제 액 포 에 관한 것 이 다 ."]))   # RaggedTensor [B, pieces]
    ids, segments = tf_tok.encode(texts, max_len=128)                       # [CLS] ... [SEP] + padding

What goes in is morpheme-split text (Mecab-ko's morphemes joined by spaces, as
`Tokenizer.morpheme_text` or the morph stage writes it); what comes out are the
ids that `pipeline.text.tokenizer.Tokenizer` (either mode) gives for the same text,
with KorPatBERT's forward/backward choice, not plain WordPiece. How each step
is done with graph ops:

- Basic split: three RE2 rewrites (separators -> space, NUL/U+FFFD/Cc/Cf
  removed, punctuation and CJK ideographs spaced out), then a whitespace split.
  The character classes are listed code point by code point from Python's
  `unicodedata` (once per process, ~0.6 s), not written as RE2's `\\p{P}`:
  RE2's Unicode tables are newer (15.0 against 14.0 in Python 3.11) and would
  treat 30 code points assigned in between differently.
- Forward split: `text.WordpieceTokenizer` with `split_unknown_characters=True`,
  so an unmatched character becomes one [UNK] as in the reference (the default,
  and `FastWordpieceTokenizer`, turn the whole word into [UNK]).
- Backward split: the same op run on each word reversed, with a vocabulary
  rewritten so that greedy longest match from the left of the reversed word is
  the reference's match from the right. Each character is followed by a marker,
  `\\x01`, or `\\x02` after the character that starts the original word; an
  entry `##xy` becomes `y\\x01x\\x01` and an entry `xy` becomes `y\\x01x\\x02`, so
  a `##` entry can never match the start of the word and a plain entry can only
  match there (the markers are control characters, which the basic split
  removes from words). Markers left alone after an [UNK] map to a skip id.
- The choice: ids <= 4 dropped, rows sorted, compared lexicographically with
  -1 padding (so a prefix compares less), forward where strictly less.

Only `cased=True` (what Korean needs) is supported.
"""

from __future__ import annotations

import functools
import unicodedata

import tensorflow as tf
import tensorflow_text as text

from pipeline.text.tokenizer import (
    BACKWARD_UNK,
    CJK_RANGES,
    RESERVED_MAX_ID,
    SUFFIX,
    Tokenizer,
    is_punctuation,
    is_space,
)

_MARK, _START_MARK = "\x01", "\x02"
_SKIP_ID = -2  # marker pieces; any value but -1 (the op's "not in vocab")


def _re2_class(codes: list[int]) -> str:
    ranges: list[list[int]] = []
    for code in codes:
        if ranges and code == ranges[-1][1] + 1:
            ranges[-1][1] = code
        else:
            ranges.append([code, code])
    return "[" + "".join(f"\\x{{{lo:X}}}-\\x{{{hi:X}}}" for lo, hi in ranges) + "]"


@functools.lru_cache(maxsize=1)
def _char_classes() -> tuple[str, str, str]:
    """RE2 classes (separators, dropped, isolated) with the reference's rules, from Python's tables."""
    isolated = {code for lo, hi in CJK_RANGES for code in range(lo, hi + 1)}  # all Lo or unassigned
    separators, dropped = [], []
    category = unicodedata.category
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # surrogates never reach a graph as UTF-8
        ch = chr(code)
        cat = category(ch)
        if is_punctuation(ch):
            isolated.add(code)
        elif is_space(ch) or (ch.isspace() and cat != "Cc"):
            separators.append(code)  # the second test: Zl/Zp, on which str.split() separates
        elif code in (0, 0xFFFD) or cat in ("Cc", "Cf"):
            dropped.append(code)
    return _re2_class(separators), _re2_class(dropped), "(" + _re2_class(sorted(isolated)) + ")"


def basic_split(texts: tf.Tensor) -> tf.RaggedTensor:
    """[B] strings -> [B, words], the reference's basic split (cased)."""
    separators, dropped, isolated = _char_classes()
    texts = tf.strings.regex_replace(texts, separators, " ")
    texts = tf.strings.regex_replace(texts, dropped, "")
    texts = tf.strings.regex_replace(texts, isolated, r" \1 ")
    return tf.strings.split(texts)


def _encode_reversed(piece: str, starts_word: bool) -> str:
    chars = piece[::-1]
    marks = [_MARK] * len(chars)
    if starts_word:
        marks[-1] = _START_MARK
    return "".join(c + m for c, m in zip(chars, marks, strict=True))


def _table(keys: list[str], values: list[int]) -> tf.lookup.StaticHashTable:
    init = tf.lookup.KeyValueTensorInitializer(
        tf.constant(keys, tf.string), tf.constant(values, tf.int64), key_dtype=tf.string, value_dtype=tf.int64
    )
    return tf.lookup.StaticHashTable(init, default_value=-1)


def _reverse_rows(rt: tf.RaggedTensor) -> tf.RaggedTensor:
    starts = tf.gather(rt.row_starts(), rt.value_rowids())
    limits = tf.gather(rt.row_limits(), rt.value_rowids())
    positions = tf.range(tf.shape(rt.values, out_type=rt.row_splits.dtype)[0], dtype=rt.row_splits.dtype)
    return rt.with_values(tf.gather(rt.values, starts + limits - 1 - positions))


def _sorted_kept(ids: tf.RaggedTensor, width: tf.Tensor) -> tf.Tensor:
    kept = tf.ragged.boolean_mask(ids, ids > RESERVED_MAX_ID)
    big = tf.constant(tf.int64.max, tf.int64)
    dense = kept.to_tensor(default_value=big)
    dense = tf.pad(dense, [[0, 0], [0, width - tf.shape(dense, out_type=tf.int64)[1]]], constant_values=big)
    dense = tf.sort(dense, axis=1)
    dense = tf.where(dense == big, tf.constant(-1, tf.int64), dense)
    # A trailing -1 column: every row non-empty, equal rows stay equal.
    return tf.pad(dense, [[0, 0], [0, 1]], constant_values=-1)


def choose(forward: tf.RaggedTensor, backward: tf.RaggedTensor) -> tf.RaggedTensor:
    """Per word: forward if its sorted ids (> 4) compare less than backward's, else backward."""
    width = tf.maximum(forward.bounding_shape(1), backward.bounding_shape(1))
    f, b = _sorted_kept(forward, width), _sorted_kept(backward, width)
    differs = f != b
    first = tf.argmax(tf.cast(differs, tf.int32), axis=1, output_type=tf.int32)
    f_at = tf.gather(f, first, batch_dims=1)
    b_at = tf.gather(b, first, batch_dims=1)
    take_forward = tf.reduce_any(differs, axis=1) & (f_at < b_at)
    n = tf.shape(take_forward, out_type=tf.int64)[0]
    rows = tf.range(n, dtype=tf.int64)
    both = tf.concat([forward.with_row_splits_dtype(tf.int64), backward.with_row_splits_dtype(tf.int64)], 0)
    return tf.gather(both, tf.where(take_forward, rows, rows + n))


class TFTokenizer(tf.Module):
    """In-graph ids for morpheme-split text, equal to `Tokenizer`'s (see module docstring)."""

    def __init__(
        self,
        token_dict: dict[str, int],
        token_cls: str = "[CLS]",
        token_sep: str = "[SEP]",
        token_unk: str = "[UNK]",
        pad_index: int = 0,
    ):
        super().__init__()
        self.cls_id = token_dict[token_cls]
        self.sep_id = token_dict[token_sep]
        self.pad_index = pad_index
        unk_id = token_dict[token_unk]
        tokens = [t for t in token_dict if t]
        longest = max(map(len, tokens))

        forward = dict(token_dict)
        forward[SUFFIX + token_unk] = unk_id  # what the op writes for a non-initial unknown character
        self._forward_table = _table(list(forward), list(forward.values()))
        self._forward = text.WordpieceTokenizer(
            self._forward_table,
            suffix_indicator=SUFFIX,
            max_bytes_per_word=1 << 30,
            max_chars_per_token=longest,
            token_out_type=tf.int64,
            unknown_token=token_unk,
            split_unknown_characters=True,
        )

        backward: dict[str, int] = {}
        for token in tokens:
            if token.startswith(SUFFIX):
                if len(token) > len(SUFFIX):
                    backward[_encode_reversed(token[len(SUFFIX) :], starts_word=False)] = token_dict[token]
            else:
                backward[_encode_reversed(token, starts_word=True)] = token_dict[token]
        backward[BACKWARD_UNK] = token_dict[BACKWARD_UNK]
        backward[_MARK] = backward[_START_MARK] = _SKIP_ID
        self._backward_table = _table(list(backward), list(backward.values()))
        self._backward = text.WordpieceTokenizer(
            self._backward_table,
            suffix_indicator="",  # piece types are carried by the markers instead
            max_bytes_per_word=1 << 30,
            max_chars_per_token=2 * longest,
            token_out_type=tf.int64,
            unknown_token=BACKWARD_UNK,
            split_unknown_characters=True,
        )

    @classmethod
    def from_tokenizer(cls, tokenizer: Tokenizer) -> TFTokenizer:
        if not tokenizer._cased:
            raise ValueError("TFTokenizer supports cased=True only")
        return cls(
            tokenizer._token_dict,
            tokenizer._token_cls,
            tokenizer._token_sep,
            tokenizer._token_unk,
            tokenizer.pad_index,
        )

    def _backward_ids(self, words: tf.Tensor) -> tf.RaggedTensor:
        chars = tf.strings.unicode_split(words, "UTF-8")
        reversed_chars = _reverse_rows(chars)
        is_last = tf.equal(
            tf.range(tf.shape(reversed_chars.values, out_type=tf.int64)[0]),
            tf.gather(reversed_chars.row_limits(), reversed_chars.value_rowids()) - 1,
        )
        marks = tf.where(is_last, _START_MARK, _MARK)
        encoded = tf.strings.reduce_join(
            reversed_chars.with_values(tf.strings.join([reversed_chars.values, marks])), axis=1
        )
        ids = self._backward.tokenize(encoded)
        return _reverse_rows(tf.ragged.boolean_mask(ids, ids != _SKIP_ID))

    def tokenize(self, texts: tf.Tensor) -> tf.RaggedTensor:
        """[B] morpheme-split strings -> [B, pieces] int64 ids (no [CLS]/[SEP])."""
        words = basic_split(texts)
        flat = words.flat_values
        pieces = choose(self._forward.tokenize(flat), self._backward_ids(flat))
        return words.with_row_splits_dtype(tf.int64).with_flat_values(pieces).merge_dims(1, 2)

    def encode(self, texts: tf.Tensor, max_len: int) -> tuple[tf.Tensor, tf.Tensor]:
        """Single segments as `Tokenizer.encode(text, max_len=max_len)`: [B, max_len] ids and segments."""
        if max_len < 2:
            raise ValueError("max_len must leave room for [CLS] and [SEP]")
        pieces = self.tokenize(texts)[:, : max_len - 2]
        n = pieces.nrows()
        cls = tf.fill([n, 1], tf.constant(self.cls_id, tf.int64))
        sep = tf.fill([n, 1], tf.constant(self.sep_id, tf.int64))
        packed = tf.concat([cls, pieces, sep], axis=1)
        ids = packed.to_tensor(default_value=tf.constant(self.pad_index, tf.int64), shape=[None, max_len])
        return ids, tf.zeros_like(ids)
