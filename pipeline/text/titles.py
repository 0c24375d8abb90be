"""A publication's title -> its Korean title: a trailing English title is cut off.

`korean_title(raw) -> TitleResult(text, outcome)`, one pure function that every
reader calls on every title it finds (`pipeline.text.readers`).

Titles come with their English translation appended in two forms:

- KIPRIS records: `한글 명칭(ENGLISH TITLE)`;
- KIPO XML and e-filing text: `한글 명칭{ENGLISH TITLE}` (`[ENGLISH TITLE]` too).

The corpus is Korean text, and the English title is a translation, not prose
of the document (a title with its English appended is mostly Latin letters,
which `clean` rejects as `low_hangul`). So:

- `cut`: the title ends with a bracketed English title (below): the text
  before it, whitespace-stripped, is the title;
- `kept`: no trailing English title: the title as given (whitespace-stripped);
- `dropped`: the title has no Korean (Hangul or Hanja) at all, e.g. an English
  title alone, or only whitespace: text is "" and no title paragraph is made.

The trailing group is found by walking back from the final closing bracket to
its opening bracket, counting nested brackets of every kind, half- or
full-width ( `()` `（）` `{}` `｛｝` `[]` `［］` ): `장치(DISPLAY (OLED) DEVICE)` cuts
at the first `(`. Its content is an English title when it holds no Hangul and:

- in `{...}` (KIPO's marker for the English title): any Latin letter;
- in `(...)` / `[...]`: two or more Latin words (a word: letters and digits
  joined by `-`, `'` or `.`, holding a Latin letter: `METHOD`, `Wi-Fi`,
  `H.264`, `5G`); or one Latin word alone, of two characters or more, that
  is not an abbreviation of the Korean before it. An abbreviation is an
  acronym-shaped word (at most 6 characters, 2 capitals or a digit, never 3
  lower-case letters in a row: PET, OLED, IoT, SiC, 5G, MOSFET) after at
  least 4 Hangul syllables or Hanja (`폴리에틸렌 테레프탈레이트(PET)` stays;
  `마스크(MASK)`, `구두(SHOES)`, `우산(Umbrella)` are cut). A one-word English
  title after a long Korean title (`휴대용 가방(BAG)`) is the known miss: it
  stays. A word among numbers is a measurement (`(10 MHz)`, `(25 °C)`,
  `(pH 7)`) and a single letter a label (`(A)`): both stay.

Korean inside the bracket (`(주)`, `(半導體)`, `(제1 실시예)`) means it is not an
English title: the title is kept whole. Full-width Latin letters count as
Latin. A group that is opened and never closed (`방법(METHOD FOR MANUFA`, a
truncated record) is cut when its content is two or more Latin words. At most
one group is cut: `발광 소자(LED)(LIGHT EMITTING DIODE)` -> `발광 소자(LED)`.
"""

from __future__ import annotations

import re
from typing import NamedTuple

TITLE_RULE_VERSION = "korean_title_v1"

KEPT, CUT, DROPPED = "kept", "cut", "dropped"
OUTCOMES = (KEPT, CUT, DROPPED)

_OPENERS = {"(": "(", "（": "(", "{": "{", "｛": "{", "[": "[", "［": "["}
_CLOSERS = {")": "(", "）": "(", "}": "{", "｝": "{", "]": "[", "］": "["}

# Hangul, or Hanja (CJK ideographs, extension A, compatibility ideographs).
_KOREAN = re.compile(
    "[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7a3\ud7b0-\ud7ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"
)
_LATIN = re.compile("[A-Za-z\uff21-\uff3a\uff41-\uff5a\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f]")
# A word: letters and digits (half- or full-width), joined by - ' . (Wi-Fi, H.264).
_ALNUM = "0-9A-Za-z\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_WORD = re.compile(f"[{_ALNUM}]+(?:[-'.\u00b7][{_ALNUM}]+)*")
_UPPER = re.compile("[A-Z\uff21-\uff3a]")
_DIGIT = re.compile("[0-9\uff10-\uff19]")
_LOWER_RUN = re.compile("[a-z\uff41-\uff5a]{3}")
_SYLLABLE = re.compile("[\uac00-\ud7a3\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

ACRONYM_MAX_CHARS = 6
ACRONYM_MIN_SYLLABLES = 4


class TitleResult(NamedTuple):
    text: str  # the Korean title ("" when dropped)
    outcome: str  # KEPT, CUT or DROPPED


def korean_title(raw: str) -> TitleResult:
    """The Korean title of `raw` and what was done to it (module docstring)."""
    text = raw.strip()
    if not _KOREAN.search(text):
        return TitleResult("", DROPPED)
    group = _trailing_group(text)
    if group is None:
        return TitleResult(text, KEPT)
    start, kind, inner = group
    prefix = text[:start].rstrip()
    if _KOREAN.search(prefix) and _is_english_title(inner, kind, prefix):
        return TitleResult(prefix, CUT)
    return TitleResult(text, KEPT)


def _trailing_group(text: str) -> tuple[int, str, str] | None:
    """(start of the opening bracket, its kind, the content) of the group that ends
    `text`, or of a group opened and never closed; None when there is neither."""
    if text[-1] in _CLOSERS:
        depth = 0
        for i in range(len(text) - 1, -1, -1):
            ch = text[i]
            if ch in _CLOSERS:
                depth += 1
            elif ch in _OPENERS:
                depth -= 1
                if depth == 0:
                    return i, _OPENERS[ch], text[i + 1 : -1]
        return None  # more closing than opening brackets: leave it alone
    # An unclosed group (a truncated record): the last opening bracket that
    # nothing after it closes.
    depth = 0
    for i in range(len(text) - 1, -1, -1):
        ch = text[i]
        if ch in _CLOSERS:
            depth += 1
        elif ch in _OPENERS:
            if depth == 0:
                return i, "unclosed", text[i + 1 :]
            depth -= 1
    return None


def _is_english_title(inner: str, kind: str, prefix: str) -> bool:
    if _KOREAN.search(inner) or not _LATIN.search(inner):
        return False
    if kind == "{":
        return True
    words = _WORD.findall(inner)
    latin = [w for w in words if _LATIN.search(w)]
    if len(latin) >= 2:
        return True
    if kind == "unclosed" or len(words) > 1 or len(latin[0]) < 2:
        return False  # a word among numbers ('10 MHz', 'pH 7'): a unit; one letter ('(A)'): a label
    return not _is_abbreviation(latin[0], prefix)


def _is_abbreviation(word: str, prefix: str) -> bool:
    """An acronym-shaped word after enough Korean to abbreviate (module docstring)."""
    acronym = (
        len(word) <= ACRONYM_MAX_CHARS
        and (len(_UPPER.findall(word)) >= 2 or bool(_DIGIT.search(word)))
        and not _LOWER_RUN.search(word)
    )
    return acronym and len(_SYLLABLE.findall(prefix)) >= ACRONYM_MIN_SYLLABLES
