"""Sentences -> Mecab-ko morphemes, with the start of every eojeol marked.

In:  sentence rows of `clean`'s table (`layout.sentence_schema()`), a compiled
     user dictionary (optional).
Out: rows of morph's table (`layout.morph_schema()`): `morphemes`, the
     morphemes joined by single spaces, and `word_starts`, one '1'/'0' per
     morpheme ('1' when it begins a space-separated word of the sentence);
     `restore_spacing` rebuilds the sentence; `format_rows` writes clean's text
     layout (one sentence per line, blank lines between paragraphs or documents).

`MecabBatchTagger.tag(sentences)` gives both columns for a batch at once:
MeCab-ko's C++ tagger in this process (python-mecab-ko's `_mecab.Tagger`,
`-Owakati`), one call per sentence; the morpheme strings are its output lines,
and the word-start marks come from comparing, in numpy over the whole batch,
which characters follow a space in the sentences and in the output. No Python
object per morpheme. The morphemes are `MeCab().morphs()`, token for token
(same tagger, same dictionaries; only the output format differs); a sentence
with whitespace other than single spaces between words takes
`MeCab().morphs()` itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# mecab_morphs_v2: MeCab().morphs() exactly (v1 read -Owakati output and
# split it on any whitespace, which differed for morphemes such as U+3000);
# the same output for every sentence `clean` writes.
TAGGER_VERSION = "mecab_morphs_v2"

# MeCab-ko skips only " \t\n\v\r" between morphemes and never puts one in a
# morpheme; -Owakati writes each morpheme and a space, then a newline. The fast
# path takes sentences whose only whitespace is single spaces between words:
# their output's spaces are exactly the morpheme boundaries.
# Sentences it does not take: any whitespace but a space, two spaces in a row,
# a space first or last. _IRREGULAR_LINES looks for one in sentences joined by
# newlines.
_IRREGULAR = re.compile(r"[^\S ]|  |^ | $")
_IRREGULAR_LINES = re.compile(r"[^\S \n]|  |^ | $", re.MULTILINE)
_SPACE, _NEWLINE, _ONE, _ZERO = ord(" "), ord("\n"), ord("1"), ord("0")


def _after_break(chars):
    """Per character (UTF-32 code points): is it first, or after a space or newline?"""
    import numpy as np

    out = np.empty(len(chars), dtype=bool)
    out[:1] = True
    out[1:] = (chars[:-1] == _SPACE) | (chars[:-1] == _NEWLINE)
    return out


def word_starts(sentence: str, morphemes: list[str]) -> str | None:
    """'1' for each morpheme that begins a space-separated word of `sentence`, else '0'.

    MeCab drops whitespace and keeps every other character, so the morphemes
    tile the sentence's non-space characters in order. Returns None when they
    do not (the caller then treats each morpheme as its own word and counts it).
    """
    marks = []
    pos, n = 0, len(sentence)
    for morpheme in morphemes:
        start_of_word = pos == 0
        while pos < n and sentence[pos].isspace():
            pos += 1
            start_of_word = True
        if not sentence.startswith(morpheme, pos):
            return None
        marks.append("1" if start_of_word else "0")
        pos += len(morpheme)
    if sentence[pos:].strip():
        return None
    return "".join(marks)


def restore_spacing(morphemes: str, marks: str) -> str:
    """Space-joined morphemes + their word-start marks -> the original sentence."""
    out = []
    for morpheme, mark in zip(morphemes.split(" "), marks, strict=True):
        if mark == "1" and out:
            out.append(" ")
        out.append(morpheme)
    return "".join(out)


class MecabBatchTagger:
    """MeCab-ko over batches of sentences, in this process.

    `tag(sentences)` -> (morphemes, marks, unaligned): per sentence the
    morphemes joined by single spaces (`" ".join(MeCab().morphs(s))`) and
    `word_starts(s, morphs)`; a sentence whose morphemes do not tile it (only
    possible with odd whitespace) gets every morpheme marked '1' and is
    counted in `unaligned`. `split(sentences)` gives the morpheme lists.
    """

    def __init__(self, user_dictionary: str | None = None) -> None:
        import _mecab
        import mecab_ko_dic
        from mecab import mecabrc_path

        options = ["--rcfile", str(mecabrc_path), "--dicdir", str(mecab_ko_dic.dictionary_path)]
        if user_dictionary:
            options += ["--userdic", user_dictionary]
        self._user_dictionary = user_dictionary
        self._parse = _mecab.Tagger([*options, "-Owakati"]).parse
        self._mecab = None  # python-mecab-ko's MeCab, for the sentences the fast path does not take

    def _morphs(self, sentence: str) -> list[str]:
        if self._mecab is None:
            import mecab

            self._mecab = mecab.MeCab(user_dictionary_path=self._user_dictionary)
        return self._mecab.morphs(sentence)

    def tag(self, sentences: Sequence[str]) -> tuple[list[str], list[str], int]:
        joined = "\n".join(sentences)
        if joined.count("\n") == len(sentences) - 1 and not _IRREGULAR_LINES.search(joined):
            return (*self._tag_regular(sentences, joined), 0) if sentences else ([], [], 0)
        regular = [s for s in sentences if not _IRREGULAR.search(s)]
        morphemes, marks = self._tag_regular(regular, "\n".join(regular)) if regular else ([], [])
        # Some sentences with odd whitespace: those take MeCab().morphs().
        out_m, out_w, unaligned = [], [], 0
        fast = iter(zip(morphemes, marks, strict=True))
        for sentence in sentences:
            if not _IRREGULAR.search(sentence):
                m, w = next(fast)
            else:
                morphs = self._morphs(sentence)
                m, w = " ".join(morphs), word_starts(sentence, morphs)
                if w is None:
                    unaligned += 1
                    w = "1" * len(morphs)
            out_m.append(m)
            out_w.append(w)
        return out_m, out_w, unaligned

    def _tag_regular(self, sentences: Sequence[str], joined: str) -> tuple[list[str], list[str]]:
        """Sentences with single spaces between words only; `joined`: them joined by newlines."""
        import numpy as np

        out = "".join(map(self._parse, sentences))  # per sentence: 'm1 m2 ... mk \n'
        morphemes = out.replace(" \n", "\n").split("\n")
        # Without their spaces, the sentences and the output are the same
        # characters (the morphemes tile each sentence). A character after a
        # space or a newline starts a morpheme in the output, a word in the
        # sentences: each morpheme's mark is whether it starts a word.
        text = np.frombuffer((joined + "\n").encode("utf-32-le"), dtype=np.uint32)
        tagged = np.frombuffer(out.encode("utf-32-le"), dtype=np.uint32)
        in_text, in_tagged = text != _SPACE, tagged != _SPACE
        chars = text[in_text]
        if not np.array_equal(chars, tagged[in_tagged]):
            raise RuntimeError("MeCab's morphemes do not spell the sentences")
        newline = chars == _NEWLINE
        codes = np.where(newline, _NEWLINE, np.where(_after_break(text)[in_text], _ONE, _ZERO))
        marks = (
            codes.astype(np.uint8)[_after_break(tagged)[in_tagged] | newline]
            .tobytes()
            .decode("ascii")
            .split("\n")
        )
        if len(morphemes) != len(sentences) + 1 or len(marks) != len(sentences) + 1:
            raise RuntimeError(f"MeCab gave {len(morphemes) - 1} sentences for {len(sentences)}")
        return morphemes[:-1], marks[:-1]

    def split(self, sentences: Sequence[str]) -> list[list[str]]:
        """Each sentence's morphemes, `MeCab().morphs(sentence)`."""
        morphemes, _, _ = self.tag(sentences)
        return [m.split(" ") if m else [] for m in morphemes]


def morph_rows(rows: list[dict], tagger: MecabBatchTagger, on_unaligned=None) -> list[dict]:
    """Sentence rows from `clean` -> morph rows (same order).

    A sentence whose morphemes do not tile it gets every morpheme marked as a
    word start, and `on_unaligned()` is called (the stage counts them).
    """
    morphemes, marks, unaligned = tagger.tag([r["text"] for r in rows])
    if on_unaligned is not None:
        for _ in range(unaligned):
            on_unaligned()
    return [
        {
            "doc_id": row["doc_id"],
            "cpc_section": row["cpc_section"],
            "paragraph_index": row["paragraph_index"],
            "section": row["section"],
            "sentence_index": row["sentence_index"],
            "morphemes": m,
            "word_starts": w,
        }
        for row, m, w in zip(rows, morphemes, marks, strict=True)
    ]


def format_rows(rows: list[dict], previous: dict | None, blank_line_between: str) -> tuple[str, dict | None]:
    """Morph rows -> text in clean's layout; `previous` is the last row already written."""
    parts = []
    for row in rows:
        if previous is not None:
            new_doc = row["doc_id"] != previous["doc_id"]
            new_paragraph = new_doc or row["paragraph_index"] != previous["paragraph_index"]
            if new_doc or (blank_line_between == "paragraphs" and new_paragraph):
                parts.append("\n")
        parts.append(row["morphemes"] + "\n")
        previous = row
    return "".join(parts), previous


def text_layout(morphemes: Sequence[str], doc_ids, paragraph_indexes, previous, blank_line_between: str):
    """Columns of morph rows -> (text in clean's layout, key of the last row), like `format_rows`.

    `doc_ids` / `paragraph_indexes`: Arrow arrays (or sequences) of the rows.
    `previous` is the key the last call returned (None at the start of a
    shard): a doc id ('documents') or a (doc id, paragraph) pair
    ('paragraphs'). A blank line goes before each row whose key differs from
    the row's before it. Where the keys change is found by Arrow compute, so
    the only Python loop is over those places.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(morphemes)
    if not n:
        return "", previous
    docs = doc_ids if isinstance(doc_ids, pa.Array) else pa.array(doc_ids, pa.string())
    by_paragraph = blank_line_between == "paragraphs"
    changed = pc.not_equal(docs[1:], docs[:-1])
    if by_paragraph:
        paragraphs = (
            paragraph_indexes
            if isinstance(paragraph_indexes, pa.Array)
            else pa.array(paragraph_indexes, pa.int64())
        )
        changed = pc.or_(changed, pc.not_equal(paragraphs[1:], paragraphs[:-1]))

        def key(i: int):
            return docs[i].as_py(), paragraphs[i].as_py()
    else:

        def key(i: int):
            return docs[i].as_py()

    breaks = (np.flatnonzero(changed.to_numpy(zero_copy_only=False)) + 1).tolist()
    bounds = [0, *breaks, n]
    groups = "\n\n".join("\n".join(morphemes[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    blank_first = previous is not None and key(0) != previous
    return ("\n" if blank_first else "") + groups + "\n", key(n - 1)
