"""Sentence filters and per-document cleaning, on short literal patent text (no Beam)."""

import pytest

from pipeline.config import CleanConfig
from pipeline.text.cleaning import clean_document, format_document, hangul_ratio, sentence_drop_reason

CONFIG = CleanConfig()


def test_hangul_ratio():
    assert hangul_ratio("가나다") == 1.0
    assert hangul_ratio("가 1") == 0.5
    assert hangul_ratio("") == 0.0


@pytest.mark.parametrize(
    "sentence, reason",
    [
        ("본 발명은 합성세제액에 관한 것이다.", None),
        ("도시함.", "too_short"),
        ("가" * 2001, "too_long"),
        ("1.5 2.5 3.5 4.5 5.5 6.5 7.5", "low_hangul"),
        ("The device comprises a housing and a lid.", "low_hangul"),
        ("상기 단계에서 ------------ 로 표시된다.", "repeated_chars"),
    ],
)
def test_sentence_filters(sentence, reason):
    assert sentence_drop_reason(sentence, CONFIG) == reason


@pytest.mark.parametrize(
    "sentence, default, at_zero",
    [
        ("The cooling plate is made of an aluminium alloy.", "low_hangul", None),
        ("冷却板はアルミニウム合金からなる。", "low_hangul", None),
        ("所述冷却板由铝合金制成。", "low_hangul", None),
        # Mixed script: Hanja words with Hangul particles and endings (40% and 20% Hangul).
        ("本 發明은 蓄電池 모듈用 冷却板에 關한 것이다.", None, None),
        ("上記 第1 電極 및 第2 電極 間의 距離 D는 5 mm 以下이다.", "low_hangul", None),
    ],
)
def test_other_scripts_follow_min_hangul_ratio(sentence, default, at_zero):
    assert sentence_drop_reason(sentence, CONFIG) == default
    assert sentence_drop_reason(sentence, CleanConfig(min_hangul_ratio=0.0)) == at_zero


def test_unpunctuated_20000_character_sentence_is_one_counted_drop():
    words = "상기 기판 위에 절연막을 형성하고 그 위에 전극층을 적층하며 "
    giant = (words * (20_000 // len(words) + 1))[:20_000].strip()
    cleaned, drops = clean_document(_doc("본 발명은 세제에 관한 것이다.", giant), CONFIG)
    assert [p["paragraph_index"] for p in cleaned["paragraphs"]] == [0]
    assert [(d["kind"], d["reason"]) for d in drops] == [
        ("sentence", "too_long"),
        ("paragraph", "no_sentences_left"),
    ]
    assert len(drops[0]["snippet"]) == CONFIG.snippet_chars


def _doc(*paragraphs):
    return {
        "doc_id": "KR1",
        "cpc_section": "C",
        "paragraphs": [
            {"paragraph_index": i, "section": "description_of_embodiments", "text": t}
            for i, t in enumerate(paragraphs)
        ],
    }


def test_clean_document_splits_filters_and_accounts():
    doc = _doc(
        "본 발명은 세제에 관한 것이다. 상기 세제는 계면활성제를 포함한다.",
        "1.5 2.5",
        "도 1은 세제 용기의 사시도이다.<br/>도 2는 용기의 단면도이다.",
    )
    cleaned, drops = clean_document(doc, CONFIG)
    assert [p["sentences"] for p in cleaned["paragraphs"]] == [
        ["본 발명은 세제에 관한 것이다.", "상기 세제는 계면활성제를 포함한다."],
        ["도 1은 세제 용기의 사시도이다.", "도 2는 용기의 단면도이다."],
    ]
    assert [p["paragraph_index"] for p in cleaned["paragraphs"]] == [0, 2]
    assert [(d["kind"], d["reason"], d["paragraph_index"]) for d in drops] == [
        ("sentence", "too_short", 1),
        ("paragraph", "no_sentences_left", 1),
    ]


def test_format_document_bert_layout():
    cleaned = {
        "doc_id": "KR1",
        "cpc_section": None,
        "paragraphs": [{"sentences": ["가 문장이다.", "나 문장이다."]}, {"sentences": ["다 문장이다."]}],
    }
    assert format_document(cleaned, "paragraphs") == "가 문장이다.\n나 문장이다.\n\n다 문장이다.\n\n"
    assert format_document(cleaned, "documents") == "가 문장이다.\n나 문장이다.\n다 문장이다.\n\n"
