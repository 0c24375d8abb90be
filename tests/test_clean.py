"""Pure functions of the clean stage, on short literal patent text (no Beam)."""

import pytest

from pipeline.config import CleanConfig
from pipeline.io import file_shuffle
from pipeline.stages.clean import (
    clean_document,
    decide_ids,
    decide_texts,
    document_hash,
    duplicate_documents,
    duplicate_ids,
    duplicate_paragraphs,
    format_document,
    hangul_ratio,
    key_partition,
    normalize_text,
    sentence_drop_reason,
    strip_markup,
)

CONFIG = CleanConfig()


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


def test_dedup_markers_keep_the_smallest_instance():
    # Instances are (doc_id, source, shard); markers go to the losers' shards.
    instances = [("KR3", "c.xml", 1), ("KR1", "a.xml", 0), ("KR2", "b.xml", 2)]
    assert list(duplicate_documents(("h", instances), {})) == [
        (2, ("duplicate_document", "b.xml", -1, "same text as KR1")),
        (1, ("duplicate_document", "c.xml", -1, "same text as KR1")),
    ]
    places = [("KR2", "b.xml", 2, 4), ("KR1", "a.xml", 0, 7)]
    assert list(duplicate_paragraphs(("h", places), {})) == [
        (2, ("duplicate_paragraph", "b.xml", 4, "same text as KR1#7")),
    ]
    # An instance rejected as a duplicate id never wins: the next one does.
    assert list(duplicate_paragraphs(("h", places), {"a.xml": True})) == []
    assert list(duplicate_documents(("h", instances), {"a.xml": True})) == [
        (1, ("duplicate_document", "c.xml", -1, "same text as KR2")),
    ]
    # Two instances of one id: the smaller source wins, whatever the order.
    assert list(duplicate_ids(("KR1", [("z.jsonl:3", 1), ("a.xml", 0)]))) == [
        (1, ("duplicate_doc_id", "z.jsonl:3", -1, "same id as a.xml")),
    ]


def test_dedup_keys_from_different_shards_meet_in_their_partition(tmp_path):
    """Shards exchange their keys through files; each hash partition decides alone,
    and together they give the markers of one global grouping."""
    shards = {
        0: ([("KR1", ("a.xml", 0))], [("h1", ("KR1", "a.xml", 0))], [("p1", ("KR1", "a.xml", 0, 2))]),
        1: (
            [("KR1", ("z.jsonl:3", 1)), ("KR9", ("b.xml", 1))],
            [("h1", ("KR9", "b.xml", 1)), ("h2", ("KR1", "z.jsonl:3", 1))],
            [("p1", ("KR9", "b.xml", 1, 0)), ("p1", ("KR1", "z.jsonl:3", 1, 5))],
        ),
    }
    by_partition = {}
    for index, kinds in shards.items():
        keys = {}
        for kind, pairs in enumerate(kinds):
            for key, value in pairs:
                keys.setdefault((key_partition(key), kind), []).append((key, value))
        blocks = {place: file_shuffle.dump(k) for place, k in keys.items()}
        refs = file_shuffle.write_blocks(str(tmp_path / f"{index}.bin"), blocks)
        for (partition, kind), ref in refs.items():
            by_partition.setdefault(partition, []).append((kind, ref))
    assert len(by_partition) > 1  # the keys really are spread over partitions
    ids = [m for element in by_partition.items() for m in decide_ids(element)]
    assert ids == [(1, ("duplicate_doc_id", "z.jsonl:3", -1, "same id as a.xml"))]
    losers = {marker[1]: True for _, marker in ids}
    texts = [m for element in by_partition.items() for m in decide_texts(element, losers)]
    assert sorted(texts) == [
        (1, ("duplicate_document", "b.xml", -1, "same text as KR1")),
        (1, ("duplicate_paragraph", "b.xml", 0, "same text as KR1#2")),
    ]


def test_document_hash_ignores_ids_but_not_text():
    a = {"doc_id": "A", "paragraphs": [{"sentences": ["같은 문장이다."]}]}
    b = {"doc_id": "B", "paragraphs": [{"sentences": ["같은 문장이다."]}]}
    c = {"doc_id": "C", "paragraphs": [{"sentences": ["다른 문장이다."]}]}
    assert document_hash(a) == document_hash(b) != document_hash(c)
