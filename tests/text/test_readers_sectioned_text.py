"""pipeline.text.readers.sectioned_text: 【】 sectioned text -> Publication."""

from __future__ import annotations

import pytest

from pipeline.text.readers import (
    decode_bytes,
    parse_sectioned_text,
)
from tests.text.reader_samples import (
    ADDRESS,
    AGENT,
    APP_NO,
    APPLICANT,
    INVENTOR,
    OPEN_NO,
    all_text,
    pairs,
    reason,
)

# --------------------------------------------------------------------------
# Sectioned text
# --------------------------------------------------------------------------

SECTIONED = f"""공개특허공보 표지
【서류명】 특허출원서
【출원인】
【성명】 {APPLICANT}
【주소】 {ADDRESS}
【발명자】 {INVENTOR}
【대리인】 {AGENT}
【출원번호】 {APP_NO}
【출원일자】 2020.09.15
【공개번호】 {OPEN_NO}
【공개일자】 2021.08.01
【국제특허분류】 H01L 21/02
【CPC】 Y02E 10/50, C01B 33/12
【심사청구】 있음

【발명의 설명】
【발명의 명칭】
산화막 형성 방법{{METHOD FOR FORMING OXIDE FILM}}
【기술분야】
【0001】
본 발명은 SiO2 막에 관한 것이다.
【배경기술】
【0002】 종래에는 열산화를 사용하였다.

두 번째 블록이다.
【선행기술문헌】
【특허문헌】
【0003】
(특허문헌 1) 한국 공개특허 제10-2000-0000001호
【발명의 내용】
【해결하려는 과제】
【0004】
저온 공정이 과제이다.
【과제의 해결 수단】
【0005】
플라즈마를 사용한다.
【발명의 효과】
【발명의 효과】
【0006】
막질이 향상된다.
【도면의 간단한 설명】
【0007】
도 1은 단면도이다.
도 2는 평면도이다.
【발명을 실시하기 위한 구체적인 내용】
【0008】
두께는 10 nm이다.
【표 1】
구분 측정값 표데이터
【0009】
【실시예 1】
실시예 문단이다.
【산업상 이용가능성】
【0010】
산업에 이용된다.
【부호의 설명】
10: 기판
【청구범위】
【청구항 1】
기판;

상기 기판 상의 막을 포함하는 소자.
【청구항 2】
제1항에 있어서, 두께가 10 nm인 소자.
【청구항 3】
삭제
【요약서】
【요약】
저온에서 산화막을 형성한다.
【대표도】
도 1
【색인어】
산화막, 저온
"""


def test_sectioned_text_sections_and_paragraph_numbers():
    pub = parse_sectioned_text(SECTIONED, "t/a.txt", "a")
    assert pairs(pub) == [
        ("title", "산화막 형성 방법"),
        ("technical_field", "본 발명은 SiO2 막에 관한 것이다."),
        ("background_art", "종래에는 열산화를 사용하였다."),
        ("background_art", "두 번째 블록이다."),
        ("tech_problem", "저온 공정이 과제이다."),
        ("tech_solution", "플라즈마를 사용한다."),
        ("advantageous_effects", "막질이 향상된다."),
        ("description_of_drawings", "도 1은 단면도이다.\n도 2는 평면도이다."),
        ("description_of_embodiments", "두께는 10 nm이다."),
        ("description_of_embodiments", "실시예 문단이다."),
        ("description", "산업에 이용된다."),
        ("claims", "기판;\n\n상기 기판 상의 막을 포함하는 소자."),
        ("claims", "제1항에 있어서, 두께가 10 nm인 소자."),
        ("abstract", "저온에서 산화막을 형성한다."),
    ]
    assert pub.doc_id == OPEN_NO
    assert pub.cpc_section == "C"


def test_sectioned_text_excludes_bibliographic_and_dropped_parts():
    text = all_text(parse_sectioned_text(SECTIONED, "a.txt", "a"))
    for value in (APPLICANT, INVENTOR, AGENT, APP_NO, OPEN_NO, ADDRESS, "특허출원서", "공개특허공보", "있음"):
        assert value not in text
    for dropped in ("특허문헌", "표데이터", "10: 기판", "산화막, 저온", "【", "0001", "METHOD"):
        assert dropped not in text


def test_sectioned_text_id_and_classification_fallbacks():
    body = "【기술분야】\n본문이다.\n"
    pub = parse_sectioned_text(f"【출원번호】 {APP_NO}\n【국제특허분류】 G06F 3/01\n" + body, "a.txt", "stem")
    assert (pub.doc_id, pub.cpc_section) == (APP_NO, "G")
    pub = parse_sectioned_text(body, "a.txt", "stem")
    assert (pub.doc_id, pub.cpc_section) == ("stem", None)


def test_sectioned_text_headers_without_body_and_unknown_headers():
    # Section headers are an allow-list: an unknown header's body is skipped.
    text = "【기술분야】\n【배경기술】\n배경.\n【알 수 없는 머리말】\n기타 설명.\n【청구범위】\n【청구항 1】\n청구.\n【청구항의 수】\n3\n"
    assert pairs(parse_sectioned_text(text, "a.txt", "a")) == [
        ("background_art", "배경."),
        ("claims", "청구."),
    ]


def test_sectioned_text_claim_with_formula_label_continues():
    text = "【기술분야】\n본문.\n【청구범위】\n【청구항 1】\n하기 화학식 1의 화합물:\n【화학식 1】\n상기 화학식 1에서 R은 수소이다.\n"
    assert pairs(parse_sectioned_text(text, "a.txt", "a"))[1:] == [
        ("claims", "하기 화학식 1의 화합물:\n\n상기 화학식 1에서 R은 수소이다.")
    ]


def test_sectioned_text_without_headers_and_no_text():
    pub = parse_sectioned_text("첫 문단.\n\n둘째 문단.\n", "a.txt", "a")
    assert pairs(pub) == [("description", "첫 문단."), ("description", "둘째 문단.")]
    assert (
        reason(parse_sectioned_text, "【출원인】 홍길동\n【발명의 명칭】\n명칭\n", "a.txt", "a") == "no_text"
    )
    assert reason(parse_sectioned_text, "  \n", "a.txt", "a") == "no_text"


@pytest.mark.parametrize("codec", ["cp949", "euc-kr"])
def test_sectioned_text_legacy_encoding_via_decode_bytes(codec):
    pub = parse_sectioned_text(decode_bytes(SECTIONED.encode(codec)), "a.txt", "a")
    assert pub.paragraphs[0].text == "산화막 형성 방법"
    assert pub.doc_id == OPEN_NO


def test_address_sections_never_become_text():
    text = (
        "【발명의 명칭】 전지\n【기술분야】\n본 발명은 전지에 관한 것이다.\n"
        "【발명자의 주소】\n서울특별시 강남구 테헤란로 1\n【0002】\n둘째 문단이다.\n"
    )
    assert pairs(parse_sectioned_text(text, "a.txt", "a")) == [
        ("title", "전지"),
        ("technical_field", "본 발명은 전지에 관한 것이다."),
    ]
