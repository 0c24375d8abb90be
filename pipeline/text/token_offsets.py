"""Word pieces with the character span of the original text each one came from.

In:  a `pipeline.text.tokenizer.Tokenizer` (cased, as every tokenizer of this
     pipeline is) and a text.
Out: `Piece(piece, id, start, end)` per word piece, in the order and with the
     ids `tokenizer.pieces(text)` gives, where `text[start:end]` is the stretch
     of the text the piece stands for.

Built only on the tokenizer's public functions (Mecab-ko's morphemes through
`Tokenizer.morphs`, the basic split's character rules, `word_pieces`), so the
pieces are the pretraining tokenisation's (rule `korpat_bidir_wordpiece_v1`);
`tests/text/test_token_offsets.py` checks they equal `tokenizer.pieces(text)`.
Rule `token_offsets_v1`:

1. Morphemes are located in the text in order (`align_morphemes`): at the
   cursor, else after skipping whitespace. Mecab-ko gives surfaces, which tile
   the text, but a morpheme that does not match there (a restored form such as
   하/았 for 했, a pretokenized input) is not dropped: the unmatched run of
   morphemes shares the stretch of text up to where the next morpheme is found.
2. Inside a morpheme that matched, every character keeps its own offset through
   the basic split (punctuation and CJK characters stand alone, spaces separate,
   dropped characters vanish), and each piece spans the characters it covers:
   its length without `##`, one character for `[UNK]`.
3. Inside a morpheme that did not match, every piece spans the whole stretch.
"""

from __future__ import annotations

from typing import NamedTuple

from pipeline.text.tokenizer import (
    SUFFIX,
    Tokenizer,
    is_cjk,
    is_dropped,
    is_punctuation,
    is_space,
    word_pieces,
)

OFFSETS_VERSION = "token_offsets_v1"


class Piece(NamedTuple):
    piece: str
    id: int
    start: int
    end: int


def align_morphemes(text: str, morphemes: list[str]) -> list[tuple[int, int, bool]]:
    """(start, end, exact) per morpheme: exact when text[start:end] == morpheme; otherwise
    the stretch it shares with its unmatched neighbours (rule 1 of the module docstring)."""

    def locate(morpheme: str, pos: int) -> int | None:
        if text.startswith(morpheme, pos):
            return pos
        skipped = pos
        while skipped < len(text) and text[skipped].isspace():
            skipped += 1
        return skipped if text.startswith(morpheme, skipped) else None

    spans: list[tuple[int, int, bool]] = []
    pos, i = 0, 0
    while i < len(morphemes):
        found = locate(morphemes[i], pos)
        if found is not None:
            spans.append((found, found + len(morphemes[i]), True))
            pos = found + len(morphemes[i])
            i += 1
            continue
        # An unmatched run: it ends at the next morpheme found later in the text.
        while pos < len(text) and text[pos].isspace():
            pos += 1
        j, stop = i + 1, len(text)
        while j < len(morphemes):
            later = text.find(morphemes[j], pos + 1) if morphemes[j] else -1
            if later != -1:
                stop = later
                break
            j += 1
        stretch_end = stop
        while stretch_end > pos and text[stretch_end - 1].isspace():
            stretch_end -= 1
        spans.extend((pos, max(pos, stretch_end), False) for _ in range(i, j))
        pos, i = max(pos, stretch_end), j
    return spans


def _words_with_offsets(morpheme: str, start: int) -> list[tuple[str, list[int]]]:
    """The basic split of one morpheme, each word with its characters' offsets in the text."""
    words: list[tuple[str, list[int]]] = []
    chars: list[str] = []
    offsets: list[int] = []

    def flush() -> None:
        if chars:
            words.append(("".join(chars), list(offsets)))
            chars.clear()
            offsets.clear()

    for k, ch in enumerate(morpheme):
        if is_punctuation(ch) or is_cjk(ch):
            flush()
            words.append((ch, [start + k]))
        elif is_space(ch):
            flush()
        elif not is_dropped(ch):
            chars.append(ch)
            offsets.append(start + k)
    flush()
    return words


class OffsetTokenizer:
    """`pieces(text)` -> list[Piece]: a Tokenizer's pieces with their character spans."""

    def __init__(self, tokenizer: Tokenizer):
        if not tokenizer._cased:
            raise ValueError("offsets need a cased tokenizer: case folding (NFD) changes character counts")
        self.tokenizer = tokenizer
        self.token_dict = tokenizer._token_dict  # KorPatBERT's tokenizer API names it so
        self.unk = tokenizer._token_unk
        self._cache: dict[str, list[str]] = {}

    def _split(self, word: str) -> list[str]:
        found = self._cache.get(word)
        if found is None:
            found = self._cache[word] = word_pieces(word, self.token_dict, self.unk)
        return found

    def pieces(self, text: str) -> list[Piece]:
        morphemes = self.tokenizer.morphs(text)
        out: list[Piece] = []
        for morpheme, (start, end, exact) in zip(morphemes, align_morphemes(text, morphemes), strict=True):
            for word, offsets in _words_with_offsets(morpheme, start):
                k = 0
                for piece in self._split(word):
                    width = 1 if piece == self.unk else len(piece) - (len(SUFFIX) if k else 0)
                    piece_id = self.token_dict[piece]
                    if exact:
                        out.append(Piece(piece, piece_id, offsets[k], offsets[k + width - 1] + 1))
                    else:
                        out.append(Piece(piece, piece_id, start, end))
                    k += width
        return out
