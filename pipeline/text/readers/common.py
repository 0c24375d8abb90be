"""What every reader shares: reject details, classification sections, titles.

Small pure helpers: `cpc_section_of(codes)` -> section letter A-H or None,
`split_title(raw)` -> the Korean part of a KIPO title, the deleted-claim
texts, the "no prose" check that raises `InputRejected("no_text")`,
`repair_text` (lone surrogates -> U+FFFD) and `reader_error(exc, source)`
(an unexpected exception -> the unit's reject).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pipeline.text.publication import InputRejected, Paragraph

_CLASSIFICATION_RE = re.compile(r"([A-Ha-h])\s?\d{2}\s?[A-Za-z]")
_TITLE_ENGLISH_RE = re.compile(r"^(?P<ko>.*?)\s*\{(?P<en>[^{}]*)\}\s*$", re.DOTALL)

# A claim whose whole text is this was deleted during prosecution: no prose.
DELETED_CLAIM_TEXTS = frozenset({"삭제", "(삭제)"})


# Lone surrogates: valid in JSON ("\\ud800") and in Python strings, impossible
# in UTF-8, so the Parquet writer would fail on them.
SURROGATE = re.compile("[\ud800-\udfff]")


def _detail(source: str, message: str) -> str:
    return f"{source}: {message}" if source else message


def repair_text(text: str) -> str:
    """`text` with each lone surrogate replaced by U+FFFD (which `clean` drops)."""
    return SURROGATE.sub("\ufffd", text) if SURROGATE.search(text) else text


def reader_error(exc: BaseException, source: str) -> InputRejected:
    """An unexpected failure while reading one unit, as that unit's reject 'reader_error'.

    Fault isolation: a reader bug on one rare input costs that input, not
    the run; the stage's `max_reject_share` still stops a systematic one.
    """
    message = repair_text(f"{type(exc).__name__}: {exc}")[:300]
    return InputRejected("reader_error", _detail(source, message))


def cpc_section_of(codes: Iterable[str]) -> str | None:
    """First CPC/IPC section letter A-H among `codes` (in order), else None.

    Codes such as 'H01L 21/02 (2006.01)' give 'H'; codes that do not look like
    a classification symbol (or belong to section Y) are skipped.
    """
    for code in codes:
        if not isinstance(code, str):
            continue
        m = _CLASSIFICATION_RE.match(code.strip())
        if m:
            return m.group(1).upper()
    return None


def split_title(raw: str) -> str:
    """Korean title from a KIPO title '한글 명칭{ENGLISH TITLE}'.

    The trailing '{ENGLISH}' group is dropped (the corpus is Korean text; the
    English part is a parallel translation, not prose of the document). When
    nothing precedes the braces, the English text is kept without braces.
    """
    text = raw.strip()
    m = _TITLE_ENGLISH_RE.match(text)
    if not m:
        return text
    ko = m.group("ko").strip()
    return ko if ko else m.group("en").strip()


def _require_prose(paragraphs: Sequence[Paragraph], source: str) -> None:
    # A title alone is not prose: such a publication is useless as text.
    if not any(p.section != "title" for p in paragraphs):
        raise InputRejected("no_text", _detail(source, "no prose paragraphs"))


def _emit(out: list[Paragraph], section: str, text: str) -> None:
    text = text.strip()
    if text:
        out.append(Paragraph(section, text))
