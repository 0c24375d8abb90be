"""mecab-ko-dic's user dictionary format: 12-column CSV rows and curated term lists.

A row is `surface,left_id,right_id,cost,POS,semantic,jongseong,reading,type,
start_pos,end_pos,expression`; ids and costs left empty are assigned by the
compiler (`python -m mecab dict-index`). The final-consonant flag (T/F) is read
off the last syllable, digits and Latin letters by their Korean names.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence

from pipeline.text.hangul import is_hangul_syllable

COLUMNS = (
    "surface",
    "left_id",
    "right_id",
    "cost",
    "pos",
    "semantic",
    "jongseong",
    "reading",
    "type",
    "start_pos",
    "end_pos",
    "expression",
)
# v2: added nouns get a word cost by their length (`noun_cost`, dictionary.length_costs)
# by default; v1 left it to mecab-dict-index (2953 for NNP).
CSV_VERSION = "mecab_ko_user_csv_v2"

TYPES = ("*", "Inflect", "Compound", "Preanalysis")
# Sources in order of precedence when two give the same surface.
SOURCES = ("user_csv", "term_list", "extracted")

# ------------------------------------------------------------------ rows

# Sino-Korean reading of a final digit: 영 일 이 삼 사 오 육 칠 팔 구.
_DIGIT_HAS_FINAL = {"0": True, "1": True, "2": False, "3": True, "4": False,
                    "5": False, "6": True, "7": True, "8": True, "9": False}  # fmt: skip
# Latin letters read as their Korean letter names (LED -> 이디, PCM -> 피씨엠):
# 엘, 엠, 엔, 알 and 제트 end in a consonant, the rest do not.
_LATIN_HAS_FINAL = set("LMNRZlmnrz")
# Greek letters common in patents: 알파 베타 감마 델타 엡실론 세타 람다 뮤 파이 시그마 오메가...
_GREEK_HAS_FINAL = set("εΕ")


def _number_has_final(digits: str, after_point: bool) -> bool:
    """Does the Korean reading of a run of digits end in a consonant?

    After a decimal point digits are read one by one (1.50 -> 일 점 오 영).
    Otherwise a number ending in zeros ends in a unit: 십 백 천 만 억 조 경
    (only 조 has no final consonant); 0 alone is 영.
    """
    if after_point:
        return _DIGIT_HAS_FINAL[digits[-1]]
    stripped = digits.rstrip("0")
    zeros = len(digits) - len(stripped)
    if not stripped:
        return True  # 영
    if zeros == 0:
        return _DIGIT_HAS_FINAL[digits[-1]]
    if zeros % 4:
        return True  # 십, 백, 천
    return zeros // 4 != 3  # 만, 억, 경 end in a consonant; 조 does not


def final_consonant(surface: str) -> str:
    """mecab-ko-dic's jongseong flag, 'T' or 'F', from how the surface ends when read aloud.

    Hangul: the last syllable's 받침. Digits: the Korean reading of the number.
    Latin: the Korean name of the last letter. Trailing symbols (brackets,
    primes) are skipped; anything else (Hanja, other scripts) counts as 'F'.
    mecab-ko-dic has no right-context id for NNP with '*', so never '*'.
    """
    end = len(surface)
    while end and not surface[end - 1].isalnum():
        end -= 1
    if not end:
        return "F"
    last = surface[end - 1]
    if is_hangul_syllable(last):
        return "T" if (ord(last) - 0xAC00) % 28 else "F"
    if "0" <= last <= "9":
        start = end
        while start and "0" <= surface[start - 1] <= "9":
            start -= 1
        after_point = start > 0 and surface[start - 1] == "."
        return "T" if _number_has_final(surface[start:end], after_point) else "F"
    if last.isascii():
        return "T" if last in _LATIN_HAS_FINAL else "F"
    return "T" if last in _GREEK_HAS_FINAL else "F"


def noun_cost(surface: str, cost: int | None, length_costs: Sequence[int]) -> int | None:
    """The word cost of an added noun: `cost` when set; else by its length in
    characters, length_costs[0] for 2 or fewer, [1] for 3, ... the last for the
    rest; None (mecab-dict-index assigns it) when both are empty.

    Why by length: a lower cost makes an entry win more often; long entries are
    compounds that the stock dictionary splits and can hardly match inside an
    unrelated word, short ones can (입구 inside 유입구). On the demo, (1000, 500, 0)
    keeps 98% of the dictionary nouns whole (compiler cost: 77%, 1000 for all:
    95%) with no more wrong wins than 1000 for all (docs/stages.md, dictionary).
    """
    if cost is not None:
        return cost
    if not length_costs:
        return None
    return length_costs[max(0, min(len(surface) - 2, len(length_costs) - 1))]


def compound_expression(parts: Sequence[str], pos: str = "NNG") -> str:
    """('합성', '세제') -> '합성/NNG/*+세제/NNG/*', as mecab-ko-dic writes compounds."""
    return "+".join(f"{part}/{pos}/*" for part in parts)


def csv_row(
    surface: str,
    pos: str = "NNP",
    parts: Sequence[str] = (),
    part_pos: str = "NNG",
    cost: int | None = None,
) -> tuple[str, ...]:
    """A user dictionary row in mecab-ko-dic's 12 columns.

    left-id and right-id stay empty, and so does cost unless one is given:
    `mecab-dict-index` assigns them from the bundled model (costs depend on
    POS and the final-consonant flag).
    """
    compound = len(parts) > 1
    return (
        surface,
        "",
        "",
        "" if cost is None else str(cost),
        pos,
        "*",
        final_consonant(surface),
        surface,
        "Compound" if compound else "*",
        "*",
        "*",
        compound_expression(parts, part_pos) if compound else "*",
    )


def format_csv_line(row: Sequence[str]) -> str:
    return ",".join(row) + "\n"


def split_csv_line(line: str) -> list[str]:
    """Fields of one CSV line; MeCab reads double-quoted fields the same way."""
    return next(csv.reader([line]))


_POS = re.compile(r"^[A-Z]+(\+[A-Z]+)*$")
_INT = re.compile(r"^-?[0-9]+$")


def csv_row_error(fields: Sequence[str]) -> str | None:
    """None when the fields form a valid mecab-ko-dic user row, else the reason."""
    if len(fields) != len(COLUMNS):
        hint = (
            " (mecab-ko-dic's sample format: compiles, but parse() then fails)" if len(fields) == 13 else ""
        )
        return f"{len(fields)} columns, expected {len(COLUMNS)}{hint}"
    row = dict(zip(COLUMNS, fields, strict=True))
    surface = row["surface"]
    if not surface or surface != surface.strip() or any(ch.isspace() for ch in surface):
        return "surface is empty or contains whitespace"
    for name in ("left_id", "right_id", "cost"):
        if row[name] and not _INT.match(row[name]):
            return f"{name} must be empty or an integer, got {row[name]!r}"
    if not _POS.match(row["pos"]):
        return f"pos must be a tag such as NNP or VV+EC, got {row['pos']!r}"
    if not row["semantic"]:
        return "semantic class is empty (use *)"
    if row["jongseong"] not in ("T", "F", "*"):
        return f"final-consonant flag must be T, F or *, got {row['jongseong']!r}"
    if row["jongseong"] == "*" and row["pos"].startswith("NN") and not row["left_id"]:
        return "final-consonant flag * has no context id for nouns: use T or F"
    if not row["reading"]:
        return "reading is empty (use the surface or *)"
    if row["type"] not in TYPES:
        return f"type must be one of {', '.join(TYPES)}, got {row['type']!r}"
    for name in ("start_pos", "end_pos"):
        if row[name] != "*" and not _POS.match(row[name]):
            return f"{name} must be * or a tag, got {row[name]!r}"
    expression = row["expression"]
    if expression == "*":
        if row["type"] != "*":
            return f"type {row['type']} needs an expression (part/POS/*+part/POS/*)"
    elif not all(item.count("/") >= 2 and not item.startswith("/") for item in expression.split("+")):
        return f"expression must be part/POS/semantic items joined by +, got {expression!r}"
    return None


def parse_term_line(line: str) -> tuple[str, tuple[str, ...]] | str | None:
    """A curated list line -> (term, parts); None for blank/comment lines; a str is an error.

    Format: `term` or `term<TAB>part+part` (a compound and its parts).
    """
    text = line.split("#", 1)[0].strip()
    if not text:
        return None
    fields = text.split("\t")
    if len(fields) > 2:
        return "more than two tab-separated fields"
    term = fields[0].strip()
    parts = tuple(p.strip() for p in fields[1].split("+")) if len(fields) == 2 else ()
    if any(ch.isspace() or ch in ',"' for ch in term):
        return "term contains whitespace, a comma or a quote"
    if parts and "".join(parts) != term:
        return f"parts {'+'.join(parts)!r} do not spell the term {term!r}"
    if parts and any(not p for p in parts):
        return "empty compound part"
    return term, parts
