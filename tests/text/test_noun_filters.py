"""The noun filters: rules from the word lists, each drop reason, sorting."""

import pytest

from pipeline.config import NounsConfig
from pipeline.text import noun_filters
from pipeline.text.noun_extraction import Noun
from pipeline.text.noun_filters import NounRules
from tests.helpers import REPO

# ------------------------------------------------------------------ filters
RULES = noun_filters.make_rules(
    NounsConfig(min_noun_frequency=2),
    stop_list="# comment\n상기\n-하면\n나타  # stem\n",
    units_list="mm\n중량%\n℃\n",
)


def test_make_rules_reads_words_suffixes_and_comments():
    assert RULES.stopwords == frozenset({"상기", "나타"})
    assert RULES.stop_suffixes == ("하면",)
    assert RULES.units == frozenset({"mm", "중량%", "℃"})


@pytest.mark.parametrize(
    "word, frequency, parts, reason",
    [
        ("합성세제액", 10, ("합성", "세제", "액"), None),
        ("계면활성제", 10, (), None),
        ("세제", 1, (), "low_frequency"),
        ("mm", 50, (), "unit"),
        ("10mm", 50, (), "unit"),
        ("3.5중량%", 50, (), "unit"),
        ("℃", 50, (), "unit"),
        ("①", 50, (), "number_or_symbol"),
        ("1.5", 50, (), "number_or_symbol"),
        ("(2)", 50, (), "number_or_symbol"),
        ("제1항", 50, (), "contains_digits"),
        ("500시간", 50, (), "contains_digits"),
        ("“발명”", 50, (), "punctuation"),
        ("(c)", 50, (), "punctuation"),
        ("층", 50, (), "too_short"),
        ("가" * 21, 50, (), "too_long"),
        ("PET", 50, (), "non_hangul"),
        ("PET필름", 50, (), "non_hangul"),  # 2 of 5 characters are Hangul
        ("상기", 50, (), "stopword"),
        ("감압하면", 50, (), "stopword"),  # suffix -하면
        ("나타부재", 50, ("나타", "부재"), "stopword"),  # a stopword part
    ],
)
def test_noun_drop_reason(word, frequency, parts, reason):
    assert noun_filters.noun_drop_reason(Noun(word, frequency, 0.9, parts), RULES) == reason


def test_digits_and_latin_can_be_kept():
    rules = NounRules(allow_digits=True, min_hangul_ratio=0.0)
    assert noun_filters.noun_drop_reason(Noun("제1전극", 5, 1.0), rules) is None
    assert noun_filters.noun_drop_reason(Noun("PET필름", 5, 1.0), rules) is None


def test_filter_nouns_sorts_and_keeps_every_drop():
    raw = {w: Noun(w, f, 1.0) for w, f in (("세제", 5), ("전지", 9), ("①", 9), ("상기", 30), ("계면", 5))}
    kept, dropped = noun_filters.filter_nouns(raw, RULES)
    assert [n.noun for n in kept] == ["전지", "계면", "세제"]
    assert [(n.noun, r) for n, r in dropped] == [("①", "number_or_symbol"), ("상기", "stopword")]


def test_bundled_lists_load():
    with open(f"{REPO}/dictionaries/stopwords.txt", encoding="utf-8") as f:
        stop = f.read()
    with open(f"{REPO}/dictionaries/units.txt", encoding="utf-8") as f:
        units = f.read()
    rules = noun_filters.make_rules(NounsConfig(), stop, units)
    assert "나타" in rules.stopwords and "하면" in rules.stop_suffixes and "중량부" in rules.units
    assert not any(" " in w for w in rules.stopwords | rules.units)
