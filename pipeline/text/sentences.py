"""Rule-based sentence splitter for Korean patent text.

Input: ONE paragraph that is already normalised (Unicode NFC, markup removed,
whitespace collapsed to single spaces, stripped).
Output: its sentences, in order, each stripped and non-empty. No character is
dropped or altered: ``''.join(split_sentences(t))`` equals ``t`` with the
whitespace at the split points removed.

How it works: one precompiled regex finds the candidate boundaries, i.e.
sentence-final punctuation (``.``, ``?``, ``!``), any closing brackets/quotes
right after it, then whitespace. Each candidate is accepted or rejected by
cheap checks on the word to its left and the token to its right. There is no
per-character Python loop, so text without candidates costs only a regex scan.

Rules (the project's labelling policy), in short:

* A period after Hangul ends a sentence: predicate endings (…다. …이다.
  …한다. …된다. …있다.), nominal endings (…함. …임. …음. …됨.) and the
  noun-final claims (…를 포함하는 장치.). ``?``/``!`` after Korean text end a
  sentence too. ``'도 1은 …이다. 도 2는 …이다.'`` gives one sentence per figure.
* A period after a number+unit, an English word, a formula or ``)`` ends a
  sentence only when the next token starts a new sentence (Hangul, a capital
  letter, an enumeration marker such as ``2)``, ``(a)``, ``①``, ``2.``, a
  number or Latin word with Hangul glued on: ``5개``, ``pH는``), and not when
  it is a bare particle/connective (``Inc. 에서``, ``min. 동안``, ``및``).
  English sentences inside Korean text therefore split at ``. `` + capital
  letter or Hangul unless the word before the period is an abbreviation.
* Never split inside decimals (1.5, v2.1, 802.11ax: no space follows the
  period, so they are never candidates), after abbreviations (e.g., i.e.,
  etc., vs., et al., Fig., FIG., No., Co., Ltd., Inc., U.S., Pat., ...),
  single-letter initials (``J. Smith``, ``C.I.``), Korean dates
  (``2024. 3. 15.``), a bare number after Korean text (``청구항 1.``,
  ``1. 세척, 2. 건조``), labels at the start of a sentence (``1.``,
  ``2.3.1.``, ``가.``, ``II.``, ``Ⅳ.``) and Korean labels after ``:``/``,``
  (``…: 가. 세척, 나. 건조``). Reference numerals ``(10)`` and chemical names
  (``N,N-dimethylformamide``) contain no candidate at all.
* A period inside a quotation stays in the sentence when the Korean sentence
  continues after the closing quote (``“고정된다.”라고 …`` is one sentence);
  likewise for any period inside “…”, ‘…’ or (…) whose closer follows within
  a short distance and is glued to Hangul (``“It is thin. It is uniform.”이라고``,
  ``(…후술한다. 도 5 참조)는``).
* ``;`` never splits (a claim ``(a) …단계; (b) …단계; 및 (c) …`` is one
  sentence).
* Closing brackets/quotes right after the final punctuation stay with the
  sentence (``…이다.)``, ``…한다.”``).
"""

from __future__ import annotations

import re

# Recorded in stage manifests; bump whenever a rule changes so that outputs
# produced by different rule sets are never mixed silently.
SPLITTER_VERSION = "patent_ko_v1"

__all__ = [
    "SPLITTER_VERSION",
    "evaluate_boundaries",
    "load_gold",
    "split_sentences",
]

# Closing brackets and quotes that may follow sentence-final punctuation and
# belong to the sentence they close.
_CLOSERS = ")]}\"'”’」』》〉>"

# Candidate boundary: final punctuation, optional closers, then whitespace.
# Requiring whitespace is what keeps decimals (1.5), versions (v2.1),
# formulas (LiNi0.8Co0.1Mn0.1O2) and '…다.”라고' out of the candidate set
# for free, at regex speed.
_CAND = re.compile(r"[.?!][" + re.escape(_CLOSERS) + r"]*\s+")

# Does the token after a candidate look like the start of a new sentence?
# Hangul, a capital letter, a circled/parenthesised number, a bullet, an
# enumeration marker ('2)', '2.' but not the decimal '2.5'), '(a)', '(1)' or
# a bracket/quote that opens onto one of those; a number or a lower-case
# Latin word with Hangul glued to it ('5개', 'pH는').
# A Hangul token that is a bare particle or a connective ('에서', '및',
# '동안') continues the sentence: 'Sigma Inc. 에서', '10 min. 동안'. ('이상',
# '이하' are not in the list: '이상 반응은', '이하, …' start sentences.)
_START = re.compile(
    r"(?!(?:은|는|을|를|의|에|에서|에게|으로|로|으로서|로서|으로써|로써|와|과|가|이나|며"
    r"|이며|이고|및|또는|혹은|내지|등|등의|등을|등이|등은|등과|등에|등으로|미만"
    r"|초과|정도|동안|까지|부터|만큼|보다|처럼|라고|라는|이라고|이라는)(?:\s|$|,))"
    r"[가-힣ᄀ-ᇿ㄰-㆏A-Z①-⑳⑴-⒇㉠-㉻※•▶►■□◆◇○●\-*]"
    r"|\d{1,3}(?:\)|\.(?!\d))"
    r"|\d[\d,.]*[가-힣]"  # '5개 시편의', '100회 반복'
    r"|\d{1,3}[A-Z][A-Za-z]?\s"  # '1H NMR', '13C NMR'
    r"|[a-z][A-Za-z0-9]*(?:[가-힣]|[A-Z])"  # 'pH는', 'mRNA의', 'iPhone'
    r"|\((?:[A-Za-z0-9]{1,3}\)|[A-Z가-힣0-9①-⑳])"
    r"|[“\"'‘「『\[<《〈](?=[A-Z가-힣0-9])"
)

# After a closing quote, a token starting with a quotative or case particle
# continues the same sentence ('“고정된다.” 라고 한다').
_QUOTE_CONT = re.compile(
    r"(?:이?라(?:고|는|며|면|하|$|\s)|(?:고|는|은|를|을|와|과|의|에|로|으로|등|및|이|가)(?:\s|$|[,.]))"
)

# Abbreviations after which a period never ends a sentence (lower-cased,
# with their final period). Multi-letter dotted forms such as 'e.g.', 'i.e.',
# 'U.S.' are caught by _DOTTED below instead of being listed.
_ABBREV = frozenset(
    """
    fig. figs. no. nos. eq. eqs. ex. exs. ref. refs. tab. vol. vols. pp. p.
    pat. appl. publ. pub. ser. e.g. i.e. etc. vs. al. cf. ca. approx.
    dr. mr. mrs. ms. prof. jr. sr. st. co. ltd. inc. corp. mfg. bros. dept.
    univ. inst. assn. int. natl. nat. chem. phys. biol. sci. res. rev. lett.
    soc. am. acad. proc. j. mol. eng. technol. mater. med. pharm. ind.
    jan. feb. mar. apr. jun. jul. aug. sep. sept. oct. nov. dec.
    viz. resp. avg. conc. wt. aq. para. chap. esp. incl.
    """.split()  # noqa: SIM905 - a word list is easier to maintain as text
)

# 'U.S.', 'e.g.', 'i.e.', 'a.m.', single initials 'J.' / enumeration 'a.'.
_DOTTED = re.compile(r"(?:[A-Za-z]\.)+")

# Enumeration/section labels, recognised only at a sentence start: '1.',
# '2.3.1.', 'a.', 'II.', 'ⅳ.', Korean '가.' '나.' ….
_LABEL = re.compile(
    r"[(\[]?(?:\d{1,3}(?:\.\d{1,3})*|[A-Za-z]|[IVX]{1,5}|[ivx]{1,5}|[Ⅰ-ⅿ]{1,4}"
    r"|[가나다라마바사아자차카타파하])[)\]]?\."
)

# Korean enumeration labels used inside a sentence ('…: 가. 세척, 나. 건조').
_KO_LABELS = frozenset("가나다라마바사아자차카타파하")

# Quotation/bracket pairs a period may sit inside ('“…이다.”라고').
_PAIRS = ("“”", "‘’", "()")

# Opening brackets/quotes: a '?'/'!' right after one is not sentence-final.
_OPENERS = "([{\"'“‘「『《〈<"

_NUMBER_CHARS = frozenset("0123456789,.")

# The end of a word after the last opening bracket/quote glued to it; used
# with search(text, word_start, end) so '\Z' anchors at `end`.
_TAIL = re.compile(r"[^\s(\[{\"'“‘「『《〈<]*\Z")


def _is_hangul(ch: str) -> bool:
    return "가" <= ch <= "힣" or "ᄀ" <= ch <= "ᇿ" or "㄰" <= ch <= "㆏"


def _is_ascii_letter(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z")


# How far ahead (characters) a closing quote/parenthesis is looked for when
# a period sits inside an open pair. Bounded so that an unbalanced bracket
# cannot swallow the rest of a paragraph, and so the check stays O(1)-ish.
_PAIR_LOOKAHEAD = 120
# How far back an opener is counted: keeps a long run of non-boundaries in
# one sentence (e.g. 'e.g. ' x 1000) linear instead of quadratic.
_PAIR_LOOKBACK = 400


def _inside_open_pair(text: str, start: int, p: int, nxt: int, op: str, cl: str) -> bool:
    """True when an `op` opened in text[start:p] is still open at p and its
    `cl` comes soon after, directly followed by Hangul: the sentence goes on
    after the closer ('“고정된다. 이동된다.”라고 …', '(도 1 참조. 이하 동일)는')."""
    lo = max(start, p - _PAIR_LOOKBACK)
    if text.count(op, lo, p) <= text.count(cl, lo, p):
        return False
    close = text.find(cl, nxt, nxt + _PAIR_LOOKAHEAD)
    if close < 0 or close + 1 >= len(text):
        return False  # not closed nearby: treat the opener as unbalanced
    if text.find(op, nxt, close) >= 0:
        return False  # another pair opens first: not a simple continuation
    return _is_hangul(text[close + 1])


def _boundary(text: str, p: int, nxt: int, start: int, pairs: tuple[str, ...]) -> bool:
    """Decide the candidate whose punctuation is at `p`; the next sentence
    would begin at `nxt`; the current sentence began at `start`; `pairs`
    holds the quote/bracket pairs ('“”', '()') present in the paragraph."""
    if p == start or nxt >= len(text):
        return False
    punct = text[p]
    prev = text[p - 1]
    ws = max(text.rfind(" ", start, p) + 1, start)  # first index of the word at p
    closers = text[p + 1 : nxt].rstrip()

    # A bare label opening the sentence ('1.', '2.3.', 'a.', 'II.', 'Ⅳ.',
    # '가.') is part of the sentence it numbers.
    if ws == start and punct == "." and _LABEL.fullmatch(text, ws, p + 1):
        return False

    # A period inside a quotation/parenthesis that closes soon after and is
    # followed by the rest of the Korean sentence does not end it, whatever
    # the language inside ('“The layer is thin. It is uniform.”이라고').
    if pairs and not closers:
        for pair in pairs:
            if _inside_open_pair(text, start, p, nxt, pair[0], pair[1]):
                return False

    if _is_hangul(prev):
        # Korean text before the punctuation ends the sentence (predicate
        # '…다.', nominal '…함.', noun-final claim '…장치.', '…까?'), unless
        # it is an in-sentence label after ':' ',' ';' ('…포함한다: 가. 세척,
        # 나. 건조.'), or a closing quote is followed by a particle ('”라고').
        if punct == "." and p - ws == 1 and prev in _KO_LABELS and ws >= 2 and text[ws - 2] in ":,;":
            return False
        return not (closers and any(q in closers for q in "\"'”’」』") and _QUOTE_CONT.match(text, nxt))

    if punct != ".":
        # '?' / '!' after non-Hangul: a question/exclamation only after a
        # word, number or closer, and only if a new sentence follows.
        if prev in _OPENERS or prev == " ":
            return False
        return _START.match(text, nxt) is not None

    if "0" <= prev <= "9":
        word = _TAIL.search(text, ws, p).group()
        if word and all(c in _NUMBER_CHARS for c in word):
            # A bare number + '.' inside Korean text is a date part
            # ('2024. 3. 15. 출원된') or a label ('청구항 1.', '1. 세척, 2. 건조'):
            # never an end. After Latin text or a citation it can end an
            # English sentence ('in 2019. The', '…, 132, 1234. 상기').
            if ws == start:
                return False
            pws = max(text.rfind(" ", start, ws - 1) + 1, start)
            pword = text[pws : ws - 1]
            if any(_is_hangul(c) for c in pword):
                return False
            if pword.endswith(".") and all(c in _NUMBER_CHARS for c in pword):
                return False  # date: '2024. 3. 15.'
        # Formula or code ending in a digit (LiNi0.8Co0.1Mn0.1O2, H2O).
        return _START.match(text, nxt) is not None

    if _is_ascii_letter(prev):
        # The word after any opener glued to it: '특징(e.g.', '도 3(FIG.'.
        word = _TAIL.search(text, ws, p + 1).group()
        if word.lower() in _ABBREV or _DOTTED.fullmatch(word):
            return False
        # English word or unit ('10 mm.'): ends only before a new sentence.
        return _START.match(text, nxt) is not None

    # ')', '%', '℃', a closing quote, an ellipsis ...: a new sentence must follow.
    return _START.match(text, nxt) is not None


def split_sentences(text: str) -> list[str]:
    """Split one normalised paragraph into sentences (see module docstring)."""
    if not text:
        return []
    out: list[str] = []
    start = 0
    # Looked up once per paragraph, not per candidate (keeps it linear).
    pairs = tuple(pair for pair in _PAIRS if pair[0] in text)
    for m in _CAND.finditer(text):
        p = m.start()
        nxt = m.end()
        if _boundary(text, p, nxt, start, pairs):
            # The sentence keeps its punctuation and closers; only the
            # whitespace between the two sentences is dropped.
            piece = text[start:nxt].strip()
            if piece:
                out.append(piece)
            start = nxt
    last = text[start:].strip()
    if last:
        out.append(last)
    return out


def _boundary_offsets(joined: str, pieces: list[str]) -> set[int]:
    """Start offsets in `joined` of every piece after the first."""
    offsets: set[int] = set()
    pos = 0
    for i, piece in enumerate(pieces):
        at = joined.find(piece, pos)
        if at < 0:  # cannot happen for a conforming splitter; be defensive
            raise ValueError(f"piece not found in input: {piece!r}")
        if i:
            offsets.add(at)
        pos = at + len(piece)
    return offsets


def evaluate_boundaries(cases: list[list[str]]) -> dict:
    """Boundary precision/recall/F1 of `split_sentences` on gold cases.

    Each case is a list of gold sentences; the splitter input is
    ``' '.join(case)``. A boundary is the character offset in that string
    where a sentence (other than the first) starts; only internal boundaries
    count, so a one-sentence case contributes no gold boundary.
    """
    tp = fp = fn = 0
    gold_total = 0
    for case in cases:
        joined = " ".join(case)
        gold = _boundary_offsets(joined, case)
        pred = _boundary_offsets(joined, split_sentences(joined))
        gold_total += len(gold)
        tp += len(gold & pred)
        fp += len(pred - gold)
        fn += len(gold - pred)
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "gold_boundaries": gold_total,
        "cases": len(cases),
    }


def load_gold(path) -> list[list[str]]:
    """Read a gold file: UTF-8, '#' lines are comments, cases are separated
    by a blank line, each line of a case is one gold sentence."""
    cases: list[list[str]] = []
    current: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for raw in fh:
            if raw.startswith("#"):
                continue
            line = raw.strip()
            if not line:
                if current:
                    cases.append(current)
                    current = []
                continue
            current.append(line)
    if current:
        cases.append(current)
    return cases
