"""mecab-ko-dic's user CSV format: final consonants, rows, validation, term lists."""

import os

import pytest

from pipeline.text import mecab_dictionary
from tests.helpers import REPO


# ------------------------------------------------------------------ rows
@pytest.mark.parametrize(
    "surface, flag",
    [
        ("합성세제액", "T"),  # 액: ㄱ
        ("합성세제", "F"),  # 제: no 받침
        ("열중착", "T"),
        ("PET필름", "T"),  # ends in Hangul: 름
        ("LED", "F"),  # 디
        ("PCM", "T"),  # 엠
        ("GaN", "T"),  # 엔
        ("CO2", "F"),  # 이
        ("3", "T"),  # 삼
        ("10", "T"),  # 십
        ("12", "F"),  # 십이
        ("10000", "T"),  # 만
        ("1000000000000", "F"),  # 일조
        ("1.5", "F"),  # 일 점 오
        ("1.50", "T"),  # 일 점 오 영
        ("B-B'", "F"),  # the prime is skipped: 비
        ("(주)", "F"),
        ("勾配", "F"),  # Hanja: no reading available, F
        ("ㄱ자형", "T"),
    ],
)
def test_final_consonant(surface, flag):
    assert mecab_dictionary.final_consonant(surface) == flag


def test_compound_expression():
    assert mecab_dictionary.compound_expression(("합성", "세제")) == "합성/NNG/*+세제/NNG/*"
    assert mecab_dictionary.compound_expression(("양극", "활물질"), "NNP") == "양극/NNP/*+활물질/NNP/*"


def test_csv_row_single_and_compound():
    assert mecab_dictionary.csv_row("열중착") == (
        "열중착",
        "",
        "",
        "",
        "NNP",
        "*",
        "T",
        "열중착",
        "*",
        "*",
        "*",
        "*",
    )
    assert mecab_dictionary.format_csv_line(mecab_dictionary.csv_row("합성세제", parts=("합성", "세제"))) == (
        "합성세제,,,,NNP,*,F,합성세제,Compound,*,*,합성/NNG/*+세제/NNG/*\n"
    )
    assert mecab_dictionary.csv_row("세제", "NNG", cost=1000)[3:5] == ("1000", "NNG")


VALID = "합성세제액,,,,NNP,*,T,합성세제액,Compound,*,*,합성/NNG/*+세제/NNG/*+액/NNG/*"


@pytest.mark.parametrize(
    "line, reason",
    [
        (VALID, None),
        ("가격결정,1786,3546,2953,NNP,*,T,가격결정,*,*,*,*", None),
        ("먹었다,,,,VV+EP,*,F,먹었다,Inflect,VV,EP,먹/VV/*+었/EP/*", None),
        ('",",,,,SC,*,*,",",*,*,*,*', None),  # MeCab reads quoted fields too
        ("세제,,,,NNP,*,F,세제,*,*,*,*,*", "13 columns, expected 12"),
        ("세제,,,,NNP,*,F,세제,*,*,*", "11 columns, expected 12"),
        (",,,,NNP,*,F,세제,*,*,*,*", "surface is empty"),
        ("세 제,,,,NNP,*,F,세제,*,*,*,*", "contains whitespace"),
        ("세제,,,abc,NNP,*,F,세제,*,*,*,*", "cost must be empty or an integer"),
        ("세제,,,,nnp,*,F,세제,*,*,*,*", "pos must be a tag"),
        ("세제,,,,NNP,*,Y,세제,*,*,*,*", "final-consonant flag must be T, F or *"),
        ("세제,,,,NNP,*,*,세제,*,*,*,*", "use T or F"),
        ("세제,,,,NNP,*,F,세제,Compound,*,*,*", "needs an expression"),
        ("세제,,,,NNP,*,F,세제,Mixed,*,*,*", "type must be one of"),
        ("세제,,,,NNP,*,F,세제,Compound,*,*,세제", "expression must be part/POS/semantic"),
    ],
)
def test_csv_row_error(line, reason):
    error = mecab_dictionary.csv_row_error(mecab_dictionary.split_csv_line(line))
    if reason is None:
        assert error is None
    else:
        assert reason in error


@pytest.mark.parametrize(
    "line, parsed",
    [
        ("합성세제액\t합성+세제+액", ("합성세제액", ("합성", "세제", "액"))),
        ("열중착", ("열중착", ())),
        ("  # a comment", None),
        ("", None),
        ("합성세제\t합성+세재", "do not spell the term"),
        ("합성 세제", "whitespace"),
        ("a\tb\tc", "more than two"),
    ],
)
def test_parse_term_line(line, parsed):
    result = mecab_dictionary.parse_term_line(line)
    if isinstance(parsed, str):
        assert parsed in result
    else:
        assert result == parsed


def test_bundled_seed_terms_parse_and_are_split_by_the_stock_dictionary():
    import mecab

    with open(os.path.join(REPO, "dictionaries", "seed_terms.txt"), encoding="utf-8") as f:
        terms = [mecab_dictionary.parse_term_line(line) for line in f]
    terms = [t for t in terms if t is not None]
    assert len(terms) >= 100 and all(isinstance(t, tuple) for t in terms)
    stock = mecab.MeCab()
    assert [term for term, _ in terms if len(stock.parse(term)) == 1] == []


def test_noun_cost_by_length_unless_a_cost_is_set():
    costs = (1000, 500, 0)
    assert [
        mecab_dictionary.noun_cost(s, None, costs) for s in ("가", "입구", "전구체", "열교환기", "표면에너지")
    ] == [
        1000,
        1000,
        500,
        0,
        0,
    ]
    assert mecab_dictionary.noun_cost("표면에너지", 2953, costs) == 2953
    assert mecab_dictionary.noun_cost("표면에너지", None, ()) is None  # the compiler assigns it
    assert mecab_dictionary.noun_cost("전구체", None, (800,)) == 800
