"""ELECTRA's pretraining examples: sentences packed into (first, second) segment pairs.

In:  one bucket's documents, each a list of sentences as id lists, a
     `random.Random` for the bucket.
Out: (first, second) id lists, at most `max_length` with [CLS] and [SEP]s.

ELECTRA examples follow google-research/electra's `build_pretraining_dataset.py`
(rule `electra_packing_v1`): sentences packed greedily up to L, split into two
segments by its rules, no masking.
"""

from __future__ import annotations

import random

ELECTRA_VERSION = "electra_packing_v1"


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
