"""Patent paragraph text -> one normalised line: markup stripped, Unicode normalised.

In:  a paragraph's raw text as a reader returned it (XML/HTML tags possible).
Out: `strip_markup(text)` without the known tags (tables and formulas dropped
     with their content); `normalize_text(text)` NFC-normalised (see docs/stages.md, clean),
     full-width ASCII folded, control and format characters removed, whitespace
     collapsed to single spaces. Never lower-cases, never strips accents.
"""

from __future__ import annotations

import bisect
import re
import unicodedata

NORMALIZER_VERSION = "normalize_v1"

# Tables and formulas are not prose: drop them with their content. What is
# dropped is what `<(NAME)\b[^>]*>.*?</\1\s*>` (case-insensitive) would match;
# `_drop_blocks` finds it in linear time, where that regex rescans the rest of
# the text for every unclosed opening tag (quadratic).
_BLOCK_OPEN = re.compile(r"<(tables?|maths?|chemistry|chem|figure)\b", re.IGNORECASE)
_BLOCK_CLOSE = re.compile(r"</(tables?|maths?|chemistry|chem|figure)\s*>", re.IGNORECASE)
# Inline tags seen in patent XML and in JSON dumps made from it. Only known
# names are removed, so a literal "a < b" in a formula survives.
_INLINE_TAG = re.compile(
    r"</?(?:br|sub|sup|b|i|u|em|strong|span|font|p|figref|img|patcit|nplcit|crossref|"
    r"claim-ref|o|smallcaps|table|tr|td|th|thead|tbody|entry|row|colspec|tgroup)\b[^>]*/?>",
    re.IGNORECASE,
)
_BREAK_TAG = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
# Whitespace other than single spaces: most paragraphs have none, and a
# search is much cheaper than a substitution that rebuilds the string.
_IRREGULAR_WHITESPACE = re.compile(r"[^\S ]| {2}")
# Full-width ASCII (U+FF01..U+FF5E) maps to ASCII by a fixed offset.
_FULLWIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)}
_FULLWIDTH[0x3000] = 0x20  # ideographic space


def _drop_blocks(text: str) -> str:
    """Each block element (opening tag to its first closing tag) -> one space.

    Scans left to right like `re.sub`: an opening tag with no closing tag
    after it stays (the inline pass removes the tag itself); blocks never
    nest (the first closing tag of the same name ends one). The ends of tags
    and the closing tags are looked up by bisection in lists made once, so
    the cost is linear in the text, whatever the tags.
    """
    if not _BLOCK_OPEN.search(text):
        return text
    tag_ends = [m.start() for m in re.finditer(">", text)]
    closes: dict[str, tuple[list[int], list[int]]] = {}
    for m in _BLOCK_CLOSE.finditer(text):
        starts, ends = closes.setdefault(m.group(1).casefold(), ([], []))
        starts.append(m.start())
        ends.append(m.end())
    out, pos = [], 0
    for m in _BLOCK_OPEN.finditer(text):
        if m.start() < pos:
            continue  # inside a block already dropped
        i = bisect.bisect_left(tag_ends, m.end())
        if i == len(tag_ends):
            break  # no '>' left: no opening tag completes from here on
        starts, ends = closes.get(m.group(1).casefold(), ((), ()))
        j = bisect.bisect_right(starts, tag_ends[i])
        if j == len(starts):
            continue  # never closed: not a block
        out.append(text[pos : m.start()])
        out.append(" ")
        pos = ends[j]
    if not out:
        return text
    out.append(text[pos:])
    return "".join(out)


def strip_markup(text: str) -> str:
    """Remove known XML/HTML markup; `<br/>` becomes a space, `SiO<sub>2</sub>` -> SiO2.

    Linear in the text (a 10 MB paragraph of unclosed `<table>` tags takes
    seconds, not hours).
    """
    if "<" not in text:
        return text
    text = _drop_blocks(text)
    text = _BREAK_TAG.sub(" ", text)
    # A tag needs a '>': tags can only start before the last one. Past it the
    # inline pattern would rescan the rest of the text from every '<' in vain.
    last = text.rfind(">")
    if last < 0:
        return text
    return _INLINE_TAG.sub("", text[: last + 1]) + text[last + 1 :]


def _drop_control(text: str) -> str:
    # Cc (NUL, escape codes...) become spaces so words do not glue together;
    # Cf (zero-width space, BOM, soft hyphen, bidi marks) vanish. Tabs and
    # newlines are whitespace and are collapsed just after.
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if cat == "Cc" and ch not in "\t\n\r":
            out.append(" ")
        elif cat in ("Cf", "Co", "Cs") or ch == "\ufffd":
            continue
        else:
            out.append(ch)
    return "".join(out)


_NEEDS_CONTROL_PASS = re.compile(
    r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffd\ue000-\uf8ff]"
)


_HAS_FULLWIDTH = re.compile("[\uff01-\uff5e\u3000]")
_ANYTHING_TO_FIX = re.compile(
    "|".join((_HAS_FULLWIDTH.pattern, _NEEDS_CONTROL_PASS.pattern, _IRREGULAR_WHITESPACE.pattern))
)


def normalize_text(text: str, form: str = "NFC", fold_fullwidth: bool = True) -> str:
    """Markup-free text -> one normalised line. Never lower-cases, never strips accents."""
    text = unicodedata.normalize(form, text)
    # Most paragraphs need none of the fixes below: one scan says so.
    if not _ANYTHING_TO_FIX.search(text):
        return text.strip()
    # str.translate with a dict costs a lookup per character: only pay it
    # when there is something to fold.
    if fold_fullwidth and _HAS_FULLWIDTH.search(text):
        text = text.translate(_FULLWIDTH)
    if _NEEDS_CONTROL_PASS.search(text):
        text = _drop_control(text)
    if _IRREGULAR_WHITESPACE.search(text):
        text = _WHITESPACE.sub(" ", text)
    return text.strip()
