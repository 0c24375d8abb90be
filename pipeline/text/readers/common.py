"""What every reader shares: reject details, classification sections, titles.

Small pure helpers: `cpc_section_of(codes)` -> section letter A-H or None,
`Titles` (every title a reader finds goes through
`pipeline.text.titles.korean_title`, and the Korean titles become the
publication's first paragraphs), the deleted-claim texts, the "no prose" check that raises `InputRejected("no_text")`,
`repair_text` (lone surrogates -> U+FFFD) and `reader_error(exc, source)`
(an unexpected exception -> the unit's reject).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from pipeline.text.publication import InputRejected, Paragraph
from pipeline.text.titles import korean_title

_CLASSIFICATION_RE = re.compile(r"([A-Ha-h])\s?\d{2}\s?[A-Za-z]")

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
    """The Korean title of `raw`: `korean_title(raw).text` ("" when it has no Korean)."""
    return korean_title(raw).text


class Titles:
    """The titles a reader finds, through `korean_title`, in the order found.

    `add(raw)` takes one title as the document gives it; a blank one is no
    title and is not counted. `paragraphs` are the Korean titles (a dropped
    title gives none), which every reader puts first; `outcomes` says what
    was done to each title ('kept', 'cut', 'dropped') for ingest's counters.
    """

    def __init__(self) -> None:
        self.paragraphs: list[Paragraph] = []
        self.outcomes: list[str] = []

    def add(self, raw: str) -> None:
        if not raw.strip():
            return
        text, outcome = korean_title(raw)
        self.outcomes.append(outcome)
        if text:
            self.paragraphs.append(Paragraph("title", text))

    def __bool__(self) -> bool:
        return bool(self.outcomes)


def _require_prose(paragraphs: Sequence[Paragraph], source: str) -> None:
    # A title alone is not prose: such a publication is useless as text.
    if not any(p.section != "title" for p in paragraphs):
        raise InputRejected("no_text", _detail(source, "no prose paragraphs"))


def _emit(out: list[Paragraph], section: str, text: str) -> None:
    text = text.strip()
    if text:
        out.append(Paragraph(section, text))
