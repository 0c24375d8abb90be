"""Markup stripping and normalisation, on short literal patent text (no Beam)."""

import pytest

from pipeline.text.normalize import normalize_text, strip_markup


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("SiO<sub>2</sub> 층", "SiO2 층"),
        ("도 1은 사시도이다.<br/>도 2는 단면도이다.", "도 1은 사시도이다. 도 2는 단면도이다."),
        ('도 <figref num="3"/>3에 도시된', "도 3에 도시된"),
        ("앞 <tables><table><tr><td>1.5</td></tr></table></tables> 뒤", "앞   뒤"),
        ("x<sup>2</sup>+1", "x2+1"),
        ("a < b 이고 c > d 이다", "a < b 이고 c > d 이다"),
    ],
)
def test_strip_markup(raw, expected):
    assert strip_markup(raw) == expected


@pytest.mark.parametrize(
    "raw, expected",
    [
        # NFC keeps units, superscripts and circled numbers that NFKC would rewrite.
        ("면적은 3 m² 이고 ① 단계에서 3.5 ㎛", "면적은 3 m² 이고 ① 단계에서 3.5 ㎛"),
        # Full-width ASCII and the ideographic space fold to ASCII.
        ("（ＰＥＴ）　필름１２", "(PET) 필름12"),
        # Decomposed Hangul (jamo sequences) compose into syllables.
        ("\u1112\u1161\u11ab\u1100\u1173\u11af", "한글"),
        # Case is never touched.
        ("Graphene Oxide(GO)", "Graphene Oxide(GO)"),
        # Control characters become spaces; zero-width and BOM vanish.
        ("단\x00계\u200b를\ufeff 포함한다\t\n.", "단 계를 포함한다 ."),
        ("  여러   공백\r\n줄바꿈  ", "여러 공백 줄바꿈"),
        ("소프트\u00ad하이픈", "소프트하이픈"),
    ],
)
def test_normalize_text(raw, expected):
    assert normalize_text(raw) == expected


def test_nfkc_is_available_but_rewrites_units():
    assert normalize_text("3 m² ㎛ ①", form="NFKC") == "3 m2 μm 1"
