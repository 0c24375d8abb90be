"""The noun filters (`noun_filters_v1`): which nouns soynlp returned are kept, and why not.

In:  `{noun: Noun}` from `pipeline.text.noun_extraction`, the `nouns` config
     section and the texts of the stop and unit lists.
Out: `filter_nouns` -> (kept nouns sorted by frequency then noun, [(dropped
     noun, reason)] sorted by noun); reasons in REASONS order: low_frequency,
     unit, number_or_symbol, contains_digits, punctuation, too_short,
     too_long, non_hangul, stopword.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Mapping

from pipeline.config import NounsConfig
from pipeline.text.hangul import hangul_share
from pipeline.text.noun_extraction import Noun

FILTERS_VERSION = "noun_filters_v1"

REASONS = (
    "low_frequency",
    "unit",
    "number_or_symbol",
    "contains_digits",
    "punctuation",
    "too_short",
    "too_long",
    "non_hangul",
    "stopword",
)


@dataclasses.dataclass(frozen=True)
class NounRules:
    """The filter settings and word lists, loaded once on the launcher and shipped to workers."""

    min_frequency: int = 1
    min_length: int = 2
    max_length: int = 20
    min_hangul_ratio: float = 0.5
    allow_digits: bool = False
    stopwords: frozenset[str] = frozenset()
    stop_suffixes: tuple[str, ...] = ()
    units: frozenset[str] = frozenset()


def parse_word_list(text: str) -> list[str]:
    """One entry per line; blank lines and `#` comments ignored; NFC-normalised."""
    entries = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            entries.append(unicodedata.normalize("NFC", entry))
    return entries


def make_rules(config: NounsConfig, stop_list: str = "", units_list: str = "") -> NounRules:
    """Rules from the config section and the contents of the stop and unit lists."""
    stop_entries = parse_word_list(stop_list)
    return NounRules(
        min_frequency=config.min_noun_frequency,
        min_length=config.min_noun_length,
        max_length=config.max_noun_length,
        min_hangul_ratio=config.min_hangul_ratio,
        allow_digits=config.allow_digits,
        stopwords=frozenset(e for e in stop_entries if not e.startswith("-")),
        stop_suffixes=tuple(sorted({e[1:] for e in stop_entries if e.startswith("-") and len(e) > 1})),
        units=frozenset(parse_word_list(units_list)),
    )


_LEADING_NUMBER = re.compile(r"^[0-9][0-9.,]*")


def is_unit(word: str, units: frozenset[str]) -> bool:
    """A unit alone (mm, 중량%) or after a number (10mm, 3.5중량%)."""
    return word in units or _LEADING_NUMBER.sub("", word) in units


def noun_drop_reason(noun: Noun, rules: NounRules) -> str | None:
    """None when the noun is kept, else the first reason (in REASONS order) it is dropped."""
    word = noun.noun
    if noun.frequency < rules.min_frequency:
        return "low_frequency"
    if is_unit(word, rules.units):
        return "unit"
    if not any(ch.isalpha() for ch in word):
        return "number_or_symbol"  # 1, ①, 1.5, (2)
    if not rules.allow_digits and any(ch.isdigit() or unicodedata.category(ch) == "No" for ch in word):
        return "contains_digits"  # 제1항, 500시간
    if not all(ch.isalnum() for ch in word):
        return "punctuation"  # (c), “발명”, B-B'
    if len(word) < rules.min_length:
        return "too_short"
    if len(word) > rules.max_length:
        return "too_long"
    if hangul_share(word) < rules.min_hangul_ratio:
        return "non_hangul"
    if (
        word in rules.stopwords
        or any(part in rules.stopwords for part in noun.parts)
        or word.endswith(rules.stop_suffixes)
    ):
        return "stopword"
    return None


def filter_nouns(nouns: Mapping[str, Noun], rules: NounRules) -> tuple[list[Noun], list[tuple[Noun, str]]]:
    """-> (kept nouns sorted by frequency then noun, [(dropped noun, reason)] sorted by noun)."""
    kept, dropped = [], []
    for noun in nouns.values():
        reason = noun_drop_reason(noun, rules)
        if reason is None:
            kept.append(noun)
        else:
            dropped.append((noun, reason))
    kept.sort(key=lambda n: (-n.frequency, n.noun))
    dropped.sort(key=lambda d: d[0].noun)
    return kept, dropped
