"""Patent paragraph text -> one normalised line: markup stripped, Unicode normalised.

In:  a paragraph's raw text as a reader returned it (XML/HTML tags possible).
Out: `strip_markup(text)` without the known tags (tables and formulas dropped
     with their content); `normalize_text(text)` NFC-normalised (see README),
     full-width ASCII folded, control and format characters removed, whitespace
     collapsed to single spaces. Never lower-cases, never strips accents.
"""

from __future__ import annotations

import re
import unicodedata

NORMALIZER_VERSION = "normalize_v1"

# Tables and formulas are not prose: drop them with their content.
_BLOCK_MARKUP = re.compile(
    r"<(tables?|maths?|chemistry|chem|figure)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
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


def strip_markup(text: str) -> str:
    """Remove known XML/HTML markup; `<br/>` becomes a space, `SiO<sub>2</sub>` -> SiO2."""
    if "<" not in text:
        return text
    text = _BLOCK_MARKUP.sub(" ", text)
    text = _BREAK_TAG.sub(" ", text)
    return _INLINE_TAG.sub("", text)


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
