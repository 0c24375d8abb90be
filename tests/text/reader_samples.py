"""Sample inputs shared by the reader tests: a KIPO XML publication (bibliographic
block + PatentCAFDOC), its expected paragraphs, and small assertion helpers.
"""

from __future__ import annotations

import pytest

from pipeline.text.publication import InputRejected, Publication

APPLICANT = "주식회사 가나다소재"
INVENTOR = "홍길동"
AGENT = "특허법인 라마바"
APP_NO = "10-2020-0123456"
OPEN_NO = "10-2021-0099999"
ADDRESS = "서울특별시 강남구 테헤란로 123"

BIBLIO = f"""
  <KR_BibliographicInformation>
    <KR_DocumentType>공개특허공보(A)</KR_DocumentType>
    <KR_OpenNumber>{OPEN_NO}</KR_OpenNumber>
    <KR_OpenDate>20210801</KR_OpenDate>
    <KR_ApplicationInformation>
      <KR_ApplicationNumber>{APP_NO}</KR_ApplicationNumber>
      <KR_ApplicationDate>20200915</KR_ApplicationDate>
    </KR_ApplicationInformation>
    <KR_PriorityInformation><KR_PriorityNumber>JP2019-555555</KR_PriorityNumber></KR_PriorityInformation>
    <KR_IPCInformation><KR_MainClassification value="H01L 21/02"/></KR_IPCInformation>
    <KR_CPCInformation>
      <KR_CPCClassification value="Y02E 10/50"/>
      <KR_CPCClassification value="C01B 33/12"/>
    </KR_CPCInformation>
    <KR_ApplicantInformation><KR_Applicant><KR_Name>{APPLICANT}</KR_Name>
      <KR_Address>{ADDRESS}</KR_Address></KR_Applicant></KR_ApplicantInformation>
    <KR_InventorInformation><KR_Inventor><KR_Name>{INVENTOR}</KR_Name></KR_Inventor></KR_InventorInformation>
    <KR_AgentInformation><KR_Agent><KR_Name>{AGENT}</KR_Name></KR_Agent></KR_AgentInformation>
  </KR_BibliographicInformation>"""

CAFDOC = """
  <PatentCAFDOC>
    <description>
      <invention-title>산화막 형성 방법{METHOD FOR FORMING OXIDE FILM}</invention-title>
      <technical-field><p num="0001">본 발명은 SiO<sub>2</sub> 막에 관한 것이다.</p></technical-field>
      <background-art>
        <p num="0002">종래에는 열산화를 사용하였다.</p>
        <citation-list><patent-literature><p num="0003">(특허문헌 1) 한국 공개특허 제10-2000-0000001호</p></patent-literature></citation-list>
      </background-art>
      <summary-of-invention>
        <tech-problem><p num="0004">저온 공정이 과제이다.</p></tech-problem>
        <tech-solution><p num="0005">플라즈마를 사용한다.</p></tech-solution>
        <advantageous-effects><p num="0006">막질이 향상된다.</p></advantageous-effects>
      </summary-of-invention>
      <description-of-drawings>
        <p num="0007"><figref num="1">도 1</figref>은 단면도이다.<br/>도 2는 평면도이다.</p>
      </description-of-drawings>
      <description-of-embodiments>
        <p num="0008">두께는 10<sup>-3</sup> mm이다<figref num="3"/>.<img id="i1" he="10" wi="10" file="pat00001.tif" img-format="tif"/></p>
        <p num="0009"><tables num="1"><table><row><entry>표의 셀 텍스트</entry></row></table></tables></p>
        <p num="0010">식은 다음과 같다 <maths num="1"><math>수식 내용</math></maths>로 정의된다.</p>
        <chemistry num="1"><img file="pat00002.tif"/>화학식 내용</chemistry>
        <reference-signs-list><p num="0011">10: 기판</p></reference-signs-list>
      </description-of-embodiments>
    </description>
    <claims>
      <claim num="1"><claim-text>기판;<br/>상기 기판 상의 SiO<sub>2</sub> 막을 포함하는 소자.</claim-text></claim>
      <claim num="2"><claim-text>제1항에 있어서, 두께가 10 nm인 소자.</claim-text></claim>
      <claim num="3"><claim-text>삭제</claim-text></claim>
    </claims>
    <abstract><summary><p num="0001a">저온에서 산화막을 형성한다.</p></summary>
      <abstract-figure><figref num="1"/></abstract-figure></abstract>
    <drawings><figure num="1"><img he="10" wi="10" file="pat00001.tif" img-format="tif"/></figure></drawings>
  </PatentCAFDOC>"""

EXPECTED = [
    ("title", "산화막 형성 방법"),
    ("technical_field", "본 발명은 SiO2 막에 관한 것이다."),
    ("background_art", "종래에는 열산화를 사용하였다."),
    ("tech_problem", "저온 공정이 과제이다."),
    ("tech_solution", "플라즈마를 사용한다."),
    ("advantageous_effects", "막질이 향상된다."),
    ("description_of_drawings", "도 1은 단면도이다.\n도 2는 평면도이다."),
    ("description_of_embodiments", "두께는 10-3 mm이다."),
    ("description_of_embodiments", "식은 다음과 같다 로 정의된다."),
    ("claims", "기판;\n상기 기판 상의 SiO2 막을 포함하는 소자."),
    ("claims", "제1항에 있어서, 두께가 10 nm인 소자."),
    ("abstract", "저온에서 산화막을 형성한다."),
]

DOCTYPE = '<!DOCTYPE KIPO PUBLIC "-//KIPO//DTD Patent Publication 1.0//KO" "kipo.dtd">'


def kipo(
    body: str = CAFDOC,
    biblio: str = BIBLIO,
    decl: str = '<?xml version="1.0" encoding="UTF-8"?>',
    doctype: str = DOCTYPE,
    root_attrs: str = "",
) -> str:
    return f"{decl}\n{doctype}\n<KIPO{root_attrs}>{biblio}{body}\n</KIPO>\n"


def pairs(pub: Publication) -> list[tuple[str, str]]:
    return [(p.section, p.text) for p in pub.paragraphs]


def all_text(pub: Publication) -> str:
    return "\n".join(p.text for p in pub.paragraphs)


def reason(fn, *args) -> str:
    with pytest.raises(InputRejected) as exc:
        fn(*args)
    return exc.value.reason
