"""Morph sentences -> the tokens the pretraining builders work on, and documents of them.

In:  a morph row's `morphemes` (space-joined) and `word_starts` ('1' where an
     eojeol begins), a vocabulary's WordPiece split (`PieceCache`).
Out: encoded tokens, one int per piece: id * 2 + start, where start is 1 when
     the piece begins a masking group (an eojeol with whole-word masking, every
     piece without), so truncation and packing move one list, not two; as a
     list (`encode_sentence`) or as native uint32 bytes (`PieceCache.encode_bytes`).
     Then a bucket's (document key, paragraph, sentence, token bytes) records
     grouped into documents (`group_documents`, `group_sentences`).
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable
from itertools import chain
from operator import getitem

import numpy as np

from pipeline.text.tokenizer import Tokenizer

# A token inside the builders is one int: id * 2 + start, where start is 1 when
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


# Inside instance building a sentence is (ids, starts): its piece ids, and one
# byte per piece, 1 where the piece begins a masking group. Segments are then
# list and bytes concatenations and slices, and a batch of instances is
# masked with a few numpy calls, instead of per-token Python work.
Sentence = tuple[list[int], bytes]


def split_tokens(tokens: list[int]) -> Sentence:
    """Encoded tokens (id * 2 + start) -> (ids, starts)."""
    return [t >> 1 for t in tokens], bytes([t & 1 for t in tokens])


def document_key(row: dict, document: str) -> str:
    """The document a morph row belongs to: its publication, or one paragraph of it."""
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
