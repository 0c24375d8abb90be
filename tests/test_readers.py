"""Unit tests for pipeline.text.readers and scripts/build_demo_corpus.py (small literal inputs)."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from pipeline.text import readers
from pipeline.text.publication import SECTIONS, InputRejected, Publication
from pipeline.text.readers import (
    decode_bytes,
    iter_jsonl,
    iter_parquet,
    parse_kipo_xml,
    parse_record,
    parse_sectioned_text,
)

REPO = Path(__file__).resolve().parents[1]

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


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or URL fails the test."""

    def forbidden(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", forbidden)
    monkeypatch.setattr(socket, "create_connection", forbidden)
    monkeypatch.setattr(urllib.request, "urlopen", forbidden)


# --------------------------------------------------------------------------
# KIPO XML
# --------------------------------------------------------------------------


def test_kipo_sections_inline_markup_and_order():
    pub = parse_kipo_xml(kipo().encode("utf-8"), "in/a.xml", "a")
    assert pairs(pub) == EXPECTED
    assert pub.source == "in/a.xml"
    assert all(p.section in SECTIONS for p in pub.paragraphs)


def test_kipo_drops_tables_maths_chemistry_citations_and_reference_signs():
    text = all_text(parse_kipo_xml(kipo().encode("utf-8"), "a.xml", "a"))
    for dropped in (
        "표의 셀 텍스트",
        "수식 내용",
        "화학식 내용",
        "특허문헌",
        "10: 기판",
        "pat0000",
        "METHOD",
    ):
        assert dropped not in text


def test_kipo_bibliographic_data_never_becomes_a_paragraph():
    pub = parse_kipo_xml(kipo().encode("utf-8"), "a.xml", "a")
    text = all_text(pub)
    for value in (
        APPLICANT,
        INVENTOR,
        AGENT,
        APP_NO,
        OPEN_NO,
        ADDRESS,
        "JP2019-555555",
        "20200915",
        "공개특허공보",
    ):
        assert value not in text
    assert pub.doc_id == OPEN_NO
    # First CPC code of sections A-H (Y02E is skipped), before IPC.
    assert pub.cpc_section == "C"


def test_kipo_doc_id_and_classification_fallbacks():
    only_app = f"<KR_BibliographicInformation><KR_ApplicationNumber>{APP_NO}</KR_ApplicationNumber>"
    only_app += '<KR_IPCInformation><KR_MainClassification value="H01L 21/02"/></KR_IPCInformation>'
    only_app += "</KR_BibliographicInformation>"
    pub = parse_kipo_xml(kipo(biblio=only_app).encode(), "a.xml", "stem")
    assert (pub.doc_id, pub.cpc_section) == (APP_NO, "H")
    # Codes as element text instead of value= attributes.
    text_codes = "<KR_BibliographicInformation><KR_CPCInformation>g06f 3/01; H04L 1/00</KR_CPCInformation>"
    text_codes += "</KR_BibliographicInformation>"
    assert parse_kipo_xml(kipo(biblio=text_codes).encode(), "a.xml", "stem").cpc_section == "G"
    pub = parse_kipo_xml(kipo(biblio="").encode(), "a.xml", "KR1020200000001")
    assert (pub.doc_id, pub.cpc_section) == ("KR1020200000001", None)


def test_kipo_namespaced_root_and_no_patentcafdoc_wrapper():
    pub = parse_kipo_xml(kipo(root_attrs=' xmlns="http://www.kipo.go.kr"').encode(), "a.xml", "a")
    assert pairs(pub) == EXPECTED
    bare = "<description><technical-field><p num='0001'>본문.</p></technical-field></description>"
    assert pairs(parse_kipo_xml(kipo(body=bare, biblio="").encode(), "a.xml", "a")) == [
        ("technical_field", "본문.")
    ]


def test_kipo_title_variants():
    def title_of(inner: str) -> list[str]:
        body = f"<PatentCAFDOC><description>{inner}<technical-field><p>본문.</p></technical-field>"
        body += "</description></PatentCAFDOC>"
        pub = parse_kipo_xml(kipo(body=body, biblio="").encode(), "a.xml", "a")
        return [p.text for p in pub.paragraphs if p.section == "title"]

    assert title_of("<invention-title>{ONLY ENGLISH}</invention-title>") == ["ONLY ENGLISH"]
    assert title_of(
        '<invention-title lang="ko">한글 명칭</invention-title><invention-title lang="en">ENGLISH</invention-title>'
    ) == ["한글 명칭"]
    assert title_of("<invention-title>제1 {A} 명칭{TITLE}</invention-title>") == ["제1 {A} 명칭"]


def test_kipo_loose_text_and_unknown_containers():
    body = """<PatentCAFDOC><description>
      <technical-field>문단 태그 없는 본문 H<sub>2</sub>O.</technical-field>
      <industrial-applicability><p>산업상 이용 가능하다.</p></industrial-applicability>
      <mode-for-invention><wrapper><p>실시 형태.</p></wrapper></mode-for-invention>
      <p num="0009">구역 밖 문단.</p>
    </description></PatentCAFDOC>"""
    assert pairs(parse_kipo_xml(kipo(body=body, biblio="").encode(), "a.xml", "a")) == [
        ("technical_field", "문단 태그 없는 본문 H2O."),
        ("description", "산업상 이용 가능하다."),
        ("description_of_embodiments", "실시 형태."),
        ("description", "구역 밖 문단."),
    ]


def test_kipo_doctype_with_external_dtd_parses_and_is_never_fetched(no_network, tmp_path):
    for doctype in (
        DOCTYPE,
        '<!DOCTYPE KIPO SYSTEM "http://127.0.0.1:9/kipo.dtd">',
        f'<!DOCTYPE KIPO SYSTEM "file://{tmp_path}/missing.dtd">',
        '<!DOCTYPE KIPO SYSTEM "kipo.dtd" [<!ELEMENT KIPO ANY><!ATTLIST KIPO v CDATA #IMPLIED>]>',
    ):
        assert pairs(parse_kipo_xml(kipo(doctype=doctype).encode(), "a.xml", "a")) == EXPECTED


def test_kipo_html_character_entities_resolve_with_a_dtd():
    body = "<PatentCAFDOC><description><technical-field><p>A&nbsp;B &amp; C&#12593;</p></technical-field>"
    body += "</description></PatentCAFDOC>"
    assert (
        parse_kipo_xml(kipo(body=body, biblio="").encode(), "a.xml", "a").paragraphs[0].text == "A\xa0B & Cㄱ"
    )


BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE KIPO [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">\n'
        for i in range(1, 10)
    )
    + "]>\n<KIPO><PatentCAFDOC><description><p>&lol9;</p></description></PatentCAFDOC></KIPO>"
)


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(BILLION_LAUGHS, id="billion-laughs"),
        pytest.param(
            '<!DOCTYPE KIPO [<!ENTITY x SYSTEM "file:///etc/passwd">]><KIPO><description><p>&x;</p></description></KIPO>',
            id="external-file-entity",
        ),
        pytest.param(
            '<!DOCTYPE KIPO [<!ENTITY x SYSTEM "http://127.0.0.1:9/x">]><KIPO><description><p>&x;</p></description></KIPO>',
            id="network-entity",
        ),
        pytest.param(
            '<!DOCTYPE KIPO [<!ENTITY % p SYSTEM "http://127.0.0.1:9/p.dtd"> %p;]><KIPO/>',
            id="parameter-entity",
        ),
        pytest.param(
            '<!DOCTYPE KIPO [<!NOTATION tif SYSTEM "tif"><!ENTITY pic SYSTEM "pic.tif" NDATA tif>]><KIPO/>',
            id="unparsed-entity",
        ),
        pytest.param('<!DOCTYPE KIPO [<!ENTITY t "제목">]><KIPO><p>&t;</p></KIPO>', id="internal-entity"),
    ],
)
def test_kipo_entity_declarations_rejected_without_expansion(no_network, doc):
    start = time.monotonic()
    assert reason(parse_kipo_xml, doc.encode("utf-8"), "bomb.xml", "bomb") == "xml_entities_forbidden"
    assert time.monotonic() - start < 1.0


@pytest.mark.parametrize(
    "data",
    [
        b"<KIPO><PatentCAFDOC><description><p>",
        kipo().encode("utf-8")[: len(kipo().encode("utf-8")) // 2],
        b"<KIPO><p>a</b></KIPO>",
        b"this is not xml at all",
        b"<KIPO><p>&undefined;</p></KIPO>",
        b"<KIPO></KIPO><KIPO></KIPO>",
    ],
    ids=["unclosed", "truncated", "mismatched", "not-xml", "undefined-entity", "two-roots"],
)
def test_kipo_malformed(data):
    assert reason(parse_kipo_xml, data, "bad.xml", "bad") == "malformed_xml"


def test_kipo_wrong_root_and_no_text():
    assert (
        reason(parse_kipo_xml, b"<patent-document><p>text</p></patent-document>", "x.xml", "x")
        == "wrong_root"
    )
    assert reason(parse_kipo_xml, kipo(body="").encode(), "x.xml", "x") == "no_text"
    title_only = (
        "<PatentCAFDOC><description><invention-title>명칭</invention-title></description></PatentCAFDOC>"
    )
    assert reason(parse_kipo_xml, kipo(body=title_only).encode(), "x.xml", "x") == "no_text"
    drawings_only = "<PatentCAFDOC><drawings><figure><img file='a.tif'/></figure></drawings></PatentCAFDOC>"
    assert reason(parse_kipo_xml, kipo(body=drawings_only).encode(), "x.xml", "x") == "no_text"


def test_kipo_empty_and_binary_inputs():
    assert reason(parse_kipo_xml, b"", "x.xml", "x") == "empty_file"
    assert reason(parse_kipo_xml, b"  \n\t ", "x.xml", "x") == "empty_file"
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
    assert reason(parse_kipo_xml, png, "x.xml", "x") == "binary_file"


@pytest.mark.parametrize("codec", ["cp949", "euc-kr"])
@pytest.mark.parametrize("declared", [True, False])
def test_kipo_korean_legacy_encodings(codec, declared):
    decl = f'<?xml version="1.0" encoding="{codec.upper()}"?>' if declared else ""
    pub = parse_kipo_xml(kipo(decl=decl).encode(codec), "a.xml", "a")
    assert pairs(pub) == EXPECTED


def test_kipo_cp949_only_syllable_in_file_labelled_euc_kr():
    # '똠' is a UHC (cp949) syllable outside EUC-KR: read labelled EUC-KR as its superset.
    body = "<PatentCAFDOC><description><technical-field><p>똠방각하</p></technical-field></description></PatentCAFDOC>"
    data = kipo(body=body, decl='<?xml version="1.0" encoding="EUC-KR"?>').encode("cp949")
    assert parse_kipo_xml(data, "a.xml", "a").paragraphs[0].text == "똠방각하"


def test_kipo_bom_and_utf16_and_mislabelled_utf8():
    assert pairs(parse_kipo_xml(b"\xef\xbb\xbf" + kipo().encode("utf-8"), "a.xml", "a")) == EXPECTED
    utf16 = kipo(decl='<?xml version="1.0" encoding="UTF-16"?>').encode("utf-16")  # with BOM
    assert pairs(parse_kipo_xml(utf16, "a.xml", "a")) == EXPECTED
    mislabelled = kipo(decl='<?xml version="1.0" encoding="EUC-KR"?>').encode("utf-8")
    assert pairs(parse_kipo_xml(mislabelled, "a.xml", "a")) == EXPECTED


def test_kipo_gzip():
    assert pairs(parse_kipo_xml(gzip.compress(kipo().encode(), mtime=0), "a.xml.gz", "a")) == EXPECTED
    truncated = gzip.compress(kipo().encode(), mtime=0)[:60]
    assert reason(parse_kipo_xml, truncated, "a.xml.gz", "a") == "malformed_gzip"
    with pytest.raises(InputRejected) as exc:
        readers.maybe_gunzip(gzip.compress(b"x" * 10_000), max_size=1000)
    assert exc.value.reason == "decompressed_too_large"


# --------------------------------------------------------------------------
# decode_bytes
# --------------------------------------------------------------------------


def test_decode_bytes_encodings():
    text = "본 발명은 반도체에 관한 것이다."
    assert decode_bytes(text.encode("utf-8")) == text
    assert decode_bytes(text.encode("cp949")) == text
    assert decode_bytes(text.encode("euc-kr")) == text
    assert decode_bytes(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode_bytes(text.encode("utf-16")) == text
    assert decode_bytes(b"\xfe\xff" + text.encode("utf-16-be")) == text
    # Only the listed encodings are tried.
    with pytest.raises(InputRejected) as exc:
        decode_bytes(text.encode("cp949"), encodings=("utf-8",))
    assert exc.value.reason == "undecodable"
    # An XML declaration naming a known encoding is honoured.
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><a>café</a>'
    assert decode_bytes(latin.encode("latin-1")) == latin


def test_decode_bytes_rejects():
    for data, want in [
        (b"", "empty_file"),
        (b"\xef\xbb\xbf  \n", "empty_file"),
        (b"\x00\x01\x02\x03" * 100, "binary_file"),
        (bytes(range(256)) * 4, "binary_file"),
        (gzip.compress(b"abc" * 100, mtime=0), "binary_file"),
        (bytes(range(1, 256)) * 4, "binary_file"),
        ("한국어 본문이 대부분인 텍스트 파일".encode() * 5 + b"\xff" + b" tail", "undecodable"),
    ]:
        with pytest.raises(InputRejected) as exc:
            decode_bytes(data)
        assert exc.value.reason == want, data[:20]


def test_decode_bytes_stray_nul_is_text_but_nul_dense_data_is_binary():
    text = "본 발명은 반도체에 관한 것이다.\n" * 20
    stray = text[:50] + "\x00" + text[50:]
    assert decode_bytes(stray.encode("utf-8")) == stray  # `clean` turns the NUL into a space
    assert decode_bytes(stray.encode("cp949")) == stray
    with pytest.raises(InputRejected) as exc:
        decode_bytes(text.encode("utf-8") + b"\x00" * 20)  # a NUL-padded tail: >= 1% NUL
    assert exc.value.reason == "binary_file"
    # Compressed or encrypted payloads have ~0.4% NUL: rejected by the control-byte test.
    noise = bytes(random_bytes(1 << 16))
    assert 0 < noise.count(0) * 100 < len(noise)
    with pytest.raises(InputRejected) as exc:
        decode_bytes(noise)
    assert exc.value.reason == "binary_file"


def test_decode_bytes_file_cut_inside_its_last_character():
    text = "본 발명은 반도체에 관한 것이다."
    for codec in ("utf-8", "cp949"):
        data = text.encode(codec)
        assert decode_bytes(data[:-2]) == text[:-2]  # '다' cut in half: dropped
    # XML cut inside a character is reported as what it is: truncated XML.
    data = kipo().encode("utf-8")
    cut = next(n for n in range(len(data) // 2, len(data)) if data[n] >= 0xC0) + 1
    assert reason(parse_kipo_xml, data[:cut], "a.xml", "a") == "malformed_xml"


def random_bytes(n: int) -> bytes:
    return hashlib.shake_256(b"noise").digest(n)


def test_kipo_control_characters_become_spaces_instead_of_failing_the_file():
    body = (
        "<PatentCAFDOC><description><technical-field><p>본\x00발명은\x01 기판\x1b에\x0c 관한 "
        "\x7f것이다.</p></technical-field></description></PatentCAFDOC>"
    )
    pub = parse_kipo_xml(kipo(body=body, biblio="").encode(), "a.xml", "a")
    assert pairs(pub) == [("technical_field", "본 발명은  기판 에  관한 \x7f것이다.")]
    # Inside a tag name the space still breaks the markup.
    assert reason(parse_kipo_xml, b"<KI\x01PO><p>a</p></KIPO>", "a.xml", "a") == "malformed_xml"


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
    text = "【기술분야】\n【배경기술】\n배경.\n【알 수 없는 머리말】\n기타 설명.\n【청구범위】\n【청구항 1】\n청구.\n【청구항의 수】\n3\n"
    assert pairs(parse_sectioned_text(text, "a.txt", "a")) == [
        ("background_art", "배경."),
        ("description", "기타 설명."),
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


# --------------------------------------------------------------------------
# Records (JSONL / Parquet)
# --------------------------------------------------------------------------

RECORD = {
    "id": "KR1020200000001",
    "title": "산화막 형성 방법",
    "cpc": "Y02E 10/50; C01B 33/12",
    "ipc": ["H01L 21/02"],
    "application_number": APP_NO,
    "filing_date": "2020-09-15",
    "applicant": APPLICANT,
    "inventors": [INVENTOR],
    "agent": AGENT,
    "abstract": "저온에서 산화막을 형성한다.",
    "claims": ["기판을 포함하는 소자.", "제1항에 있어서, 두께가 10 nm인 소자.", "삭제", ""],
    "description": {
        "technical-field": "본 발명은 산화막에 관한 것이다.",
        "배경기술": ["종래 기술 1.", "종래 기술 2."],
        "tech_problem": ["과제이다."],
        "해결하려는 과제": [None, "두 번째 과제이다."],
        "Description_Of_Embodiments": ["실시예이다."],
        "신규 섹션": ["어디에도 없는 섹션."],
        "출원인": [APPLICANT],
        "applicant": APPLICANT,
    },
}


def test_parse_record_sections_and_ignored_keys():
    pub = parse_record(RECORD, "r.jsonl:1")
    assert pairs(pub) == [
        ("title", "산화막 형성 방법"),
        ("technical_field", "본 발명은 산화막에 관한 것이다."),
        ("background_art", "종래 기술 1."),
        ("background_art", "종래 기술 2."),
        ("tech_problem", "과제이다."),
        ("tech_problem", "두 번째 과제이다."),
        ("description_of_embodiments", "실시예이다."),
        ("description", "어디에도 없는 섹션."),
        ("claims", "기판을 포함하는 소자."),
        ("claims", "제1항에 있어서, 두께가 10 nm인 소자."),
        ("abstract", "저온에서 산화막을 형성한다."),
    ]
    assert (pub.doc_id, pub.source, pub.cpc_section) == ("KR1020200000001", "r.jsonl:1", "C")
    for value in (APPLICANT, INVENTOR, AGENT, APP_NO):
        assert value not in all_text(pub)


def test_parse_record_classification_and_id_variants():
    base = {"abstract": ["요약."]}
    assert parse_record({**base, "id": 42}, "s").doc_id == "42"
    assert parse_record({**base, "id": " KR1 "}, "s").doc_id == "KR1"
    assert (
        parse_record({**base, "id": "a", "cpc": None, "ipc": "G06F 3/01,H04L 1/00"}, "s").cpc_section == "G"
    )
    assert parse_record({**base, "id": "a", "cpc": [], "ipc": None}, "s").cpc_section is None
    # Arrow map<string, list<string>> arrives as a list of pairs.
    pairs_desc = {
        **base,
        "id": "a",
        "description": [("technical_field", ["분야."]), ("background-art", None)],
    }
    assert pairs(parse_record(pairs_desc, "s"))[0] == ("technical_field", "분야.")


@pytest.mark.parametrize(
    ("record", "want", "key"),
    [
        ({"title": "명칭", "abstract": "요약."}, "missing_id", ""),
        ({"id": None, "abstract": "요약."}, "missing_id", ""),
        ({"id": "  ", "abstract": "요약."}, "missing_id", ""),
        ({"id": 1.5, "abstract": "요약."}, "bad_record", "id"),
        ({"id": True, "abstract": "요약."}, "bad_record", "id"),
        ({"id": "a", "abstract": 5}, "bad_record", "abstract"),
        ({"id": "a", "claims": ["ok", 7]}, "bad_record", "claims[1]"),
        ({"id": "a", "title": {"ko": "x"}, "abstract": "요약."}, "bad_record", "title"),
        ({"id": "a", "description": 3}, "bad_record", "description"),
        (
            {"id": "a", "description": {"technical_field": [1]}},
            "bad_record",
            "description.technical_field[0]",
        ),
        ({"id": "a", "abstract": "요약.", "cpc": 12}, "bad_record", "cpc"),
        ({"id": "a", "title": "명칭만"}, "no_text", ""),
        ({"id": "a", "abstract": ["", "  "], "claims": ["삭제"]}, "no_text", ""),
        (["not", "a", "mapping"], "bad_record", "record"),
    ],
)
def test_parse_record_rejects(record, want, key):
    with pytest.raises(InputRejected) as exc:
        parse_record(record, "r.jsonl:3")
    assert exc.value.reason == want
    assert key in exc.value.detail
    assert exc.value.detail.startswith("r.jsonl:3")


def test_iter_jsonl_bad_line_in_the_middle():
    good1 = json.dumps({"id": "A", "abstract": ["첫째."]}, ensure_ascii=False).encode() + b"\n"
    good2 = json.dumps({"id": "B", "claims": "둘째."}, ensure_ascii=False).encode() + b"\r\n"
    lines = [
        b"\xef\xbb\xbf" + good1,
        b"\n",
        b'{"id": "broken", "abstract": [\n',
        "비정상".encode("cp949") + b"\n",
        b"[1, 2]\n",
        b'{"abstract": "no id"}\n',
        b"   \n",
        good2,
    ]
    items = list(iter_jsonl(lines, "data/p.jsonl"))
    assert [type(i).__name__ for i in items] == [
        "Publication",
        "InputRejected",
        "InputRejected",
        "InputRejected",
        "InputRejected",
        "Publication",
    ]
    assert [(p.doc_id, p.source) for p in items if isinstance(p, Publication)] == [
        ("A", "data/p.jsonl:1"),
        ("B", "data/p.jsonl:8"),
    ]
    rejects = [i for i in items if isinstance(i, InputRejected)]
    assert [r.reason for r in rejects] == ["malformed_json", "undecodable", "bad_record", "missing_id"]
    assert [r.detail.split(": ")[0] for r in rejects] == [f"data/p.jsonl:{n}" for n in (3, 4, 5, 6)]


def test_iter_jsonl_str_lines_and_file_object(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "A", "abstract": "가."}\n\n{"id": "B", "abstract": "나."}', encoding="utf-8")
    with open(path, "rb") as f:
        assert [p.doc_id for p in iter_jsonl(f, str(path))] == ["A", "B"]
    with open(path, encoding="utf-8") as f:
        assert [p.source for p in iter_jsonl(f, "p")] == ["p:1", "p:3"]
    cp949_line = ['{"id": "C", "abstract": "다."}'.encode("cp949")]
    assert next(iter_jsonl(cp949_line, "p", encodings=("utf-8", "cp949"))).doc_id == "C"


def test_iter_jsonl_raw_control_characters_in_strings_are_kept():
    line = '{"id": "A", "abstract": "제어\x00 문자\x1b가 있는 요약.", "claims": "탭\t청구."}'.encode()
    (pub,) = iter_jsonl([line], "p.jsonl")
    assert pairs(pub) == [("claims", "탭\t청구."), ("abstract", "제어\x00 문자\x1b가 있는 요약.")]


def _write_parquet(path: Path, table) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, str(path))


def test_iter_parquet_map_and_struct_descriptions_extra_columns(tmp_path):
    import pyarrow as pa

    schema = pa.schema(
        [
            ("id", pa.string()),
            ("title", pa.string()),
            ("abstract", pa.list_(pa.string())),
            ("claims", pa.list_(pa.string())),
            ("description", pa.map_(pa.string(), pa.list_(pa.string()))),
            ("cpc", pa.list_(pa.string())),
            ("ipc", pa.list_(pa.string())),
            ("applicant", pa.string()),
            ("application_number", pa.string()),
        ]
    )
    rows = [
        {
            "id": "P1",
            "title": "명칭",
            "abstract": ["요약."],
            "claims": ["청구 1.", "청구 2."],
            "description": [("technical_field", ["분야."]), ("배경기술", ["배경."])],
            "cpc": ["B01J 21/06"],
            "ipc": None,
            "applicant": APPLICANT,
            "application_number": APP_NO,
        },
        {
            "id": "P2",
            "title": None,
            "abstract": None,
            "claims": ["청구."],
            "description": None,
            "cpc": None,
            "ipc": ["A61K 9/00"],
            "applicant": None,
            "application_number": None,
        },
    ]
    path = tmp_path / "map.parquet"
    _write_parquet(path, pa.Table.from_pylist(rows, schema=schema))
    with open(path, "rb") as f:
        items = list(iter_parquet(f, str(path)))
    assert [(p.doc_id, p.source, p.cpc_section) for p in items] == [
        ("P1", f"{path}:1", "B"),
        ("P2", f"{path}:2", "A"),
    ]
    assert pairs(items[0]) == [
        ("title", "명칭"),
        ("technical_field", "분야."),
        ("background_art", "배경."),
        ("claims", "청구 1."),
        ("claims", "청구 2."),
        ("abstract", "요약."),
    ]
    assert APPLICANT not in all_text(items[0])

    struct = pa.struct([("technical_field", pa.list_(pa.string())), ("tech_problem", pa.string())])
    table = pa.table(
        {
            "id": pa.array([7], pa.int64()),
            "description": pa.array([{"technical_field": ["분야."], "tech_problem": None}], struct),
            "inventors": pa.array([[INVENTOR]]),
        }
    )
    _write_parquet(tmp_path / "struct.parquet", table)
    with open(tmp_path / "struct.parquet", "rb") as f:
        (pub,) = iter_parquet(f, "struct.parquet")
    assert (pub.doc_id, pairs(pub)) == ("7", [("technical_field", "분야.")])


def test_iter_parquet_bad_rows_missing_id_column_and_corrupt_file(tmp_path):
    import pyarrow as pa

    table = pa.table({"id": ["A", None, "C"], "abstract": ["가.", "나.", None]})
    _write_parquet(tmp_path / "rows.parquet", table)
    with open(tmp_path / "rows.parquet", "rb") as f:
        items = list(iter_parquet(f, "rows.parquet"))
    assert [getattr(i, "doc_id", None) or i.reason for i in items] == ["A", "missing_id", "no_text"]

    _write_parquet(
        tmp_path / "noid.parquet", pa.table({"doc": ["A", "B", "C"], "abstract": ["가.", "나.", "다."]})
    )
    with open(tmp_path / "noid.parquet", "rb") as f:
        rejected = list(iter_parquet(f, "noid.parquet"))
    # One reject per row, so that rows in = publications + rejects.
    assert [r.reason for r in rejected] == ["bad_parquet_schema"] * 3
    assert [r.detail.split(": ")[0] for r in rejected] == [f"noid.parquet:{n}" for n in (1, 2, 3)]

    data = (tmp_path / "rows.parquet").read_bytes()
    for corrupt in (b"not a parquet file at all", data[: len(data) // 2], b""):
        (rejected,) = list(iter_parquet(io.BytesIO(corrupt), "bad.parquet"))
        assert rejected.reason == "malformed_parquet"


def test_iter_parquet_corruption_mid_file_rejects_every_unread_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": [f"A{i}" for i in range(6)], "abstract": [f"{i}번째 요약." for i in range(6)]})
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=2, compression="none")
    data = bytearray(out.getvalue())
    column = pq.ParquetFile(io.BytesIO(bytes(data))).metadata.row_group(1).column(0)
    start = column.dictionary_page_offset or column.data_page_offset
    data[start : start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    items = list(iter_parquet(io.BytesIO(bytes(data)), "c.parquet"))
    # The footer declares 6 rows: 6 items, whatever was read before the damage.
    assert len(items) == 6
    rejects = [i for i in items if isinstance(i, InputRejected)]
    assert rejects and {r.reason for r in rejects} == {"malformed_parquet"}
    published = [i.source for i in items if isinstance(i, Publication)]
    rejected = [r.detail.split(": ")[0] for r in rejects]
    assert sorted(published + rejected) == [f"c.parquet:{n}" for n in range(1, 7)]


def test_iter_parquet_non_seekable_stream(tmp_path):
    import pyarrow as pa

    _write_parquet(tmp_path / "a.parquet", pa.table({"id": ["A"], "claims": [["청구."]]}))

    class Stream(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._b = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buf) -> int:
            return self._b.readinto(buf)

    (pub,) = iter_parquet(Stream((tmp_path / "a.parquet").read_bytes()), "a.parquet")
    assert pub.doc_id == "A"


# --------------------------------------------------------------------------
# Writers and the demo corpus script
# --------------------------------------------------------------------------


def _source_record(n: int, cpc: str) -> dict:
    return {
        "id": f"KR10202400{n:05d}",
        "title": f"시험용 발명 {n} 및 그 제조 방법",
        "cpc": [f"{cpc}01B 33/12", f"{cpc}02F 1/00"],
        "ipc": [f"{cpc}01B 33/00"],
        "application_number": f"10-2024-00{n:05d}",
        "filing_date": "2024-01-02",
        "publication_date": "2025-07-08",
        "applicant": f"주식회사 시험출원인{n}",
        "inventors": [f"발명자갑{n}", f"발명자을{n}"],
        "agent": f"특허법인 대리{n}",
        "abstract": [f"본 발명은 시험용 발명 {n}에 관한 것으로, SiO2 층과 TiO2 층을 포함한다."],
        "claims": [
            f"기판; 및 상기 기판 상의 Al2O3 층을 포함하는 시험용 발명 {n}.",
            "제1항에 있어서,\n상기 층의 두께는 10 nm인 시험용 발명.",
        ],
        "description": {
            "technical_field": [f"본 발명은 시험용 발명 {n}에 관한 것이다."],
            "background_art": [
                f"종래 기술 {n}의 첫째 문단이다.",
                f"종래 기술 {n}의 둘째 문단 & <비교> 이다.",
            ],
            "tech_problem": ["과제 문단이다."],
            "tech_solution": ["해결 수단 문단이다."],
            "advantageous_effects": ["효과 문단이다."],
            "description_of_drawings": [
                "도 1은 사시도이다.",
                f"도 2는 도 1의 단면도이고, 도 3은 발명 {n}의 평면도이다. 도 4는 순서도이다.",
            ],
            "description_of_embodiments": [
                "도 1을 참조하면, 실시예 문단이다.",
                "둘째 실시예 문단이다.",
                "셋째 실시예 문단이다.",
            ],
        },
    }


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "build_demo_corpus", REPO / "scripts" / "build_demo_corpus.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _section_counts(pub: Publication) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in pub.paragraphs:
        counts[p.section] = counts.get(p.section, 0) + 1
    return counts


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_render_kipo_xml_round_trips_through_the_reader():
    rec = _source_record(1, "C")
    data = readers.render_kipo_xml(rec, with_table=True)
    xml = data.decode("utf-8")
    assert "SiO<sub>2</sub>" in xml and "Al<sub>2</sub>O<sub>3</sub>" in xml
    assert '<figref num="2">도 2</figref>' in xml and "<tables" in xml and "<!DOCTYPE KIPO" in xml
    assert "이고,<br/><figref" in xml  # figure sentences split in the description of drawings
    pub = parse_kipo_xml(data, "a.xml", "stem")
    want = parse_record(rec, "src")
    assert pub.doc_id == rec["id"] and pub.cpc_section == want.cpc_section == "C"
    assert [(s, _squash(t)) for s, t in pairs(pub)] == [(s, _squash(t)) for s, t in pairs(want)]
    assert readers.render_kipo_xml(rec, encoding="euc-kr").startswith(
        b'<?xml version="1.0" encoding="EUC-KR"?>'
    )
    text_pub = parse_sectioned_text(readers.render_sectioned_text(rec), "a.txt", "stem")
    assert pairs(text_pub) == pairs(want) and text_pub.doc_id == rec["id"]


def test_build_demo_corpus_round_trip(tmp_path, capsys):
    source = tmp_path / "source"
    source.mkdir()
    records = [_source_record(n, cpc) for n, cpc in zip((4, 1, 3, 2), "HACG", strict=True)]
    (source / "part_a.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[:3]), encoding="utf-8"
    )
    (source / "part_b.jsonl").write_text(
        json.dumps(records[3], ensure_ascii=False) + "\n\n", encoding="utf-8"
    )
    out = tmp_path / "corpus"
    script = _load_script()
    assert script.main(["--source", str(source), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "re-publication" in printed and "divisional" in printed

    # Parse every output file back with the readers.
    parsed: dict[str, Publication] = {}
    formats: dict[str, str] = {}
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "MANIFEST.txt")
    for path in files:
        fmt = path.relative_to(out).parts[0]
        if fmt == "kipo_xml":
            items = [parse_kipo_xml(path.read_bytes(), str(path), readers.doc_stem(path.name))]
        elif fmt == "text":
            items = [
                parse_sectioned_text(decode_bytes(path.read_bytes()), str(path), readers.doc_stem(path.name))
            ]
        elif fmt == "jsonl":
            with open(path, "rb") as f:
                items = list(iter_jsonl(f, str(path)))
        else:
            with open(path, "rb") as f:
                items = list(iter_parquet(f, str(path)))
        for item in items:
            assert isinstance(item, Publication), item
            assert item.doc_id not in parsed
            parsed[item.doc_id] = item
            formats[item.doc_id] = fmt

    by_id = {r["id"]: r for r in records}
    extra = sorted(set(parsed) - set(by_id))
    assert set(by_id) <= set(parsed) and len(extra) == 2
    assert sorted(formats.values()) == sorted(["kipo_xml"] * 2 + ["jsonl"] * 2 + ["parquet", "text"])
    for doc_id, rec in by_id.items():
        assert _section_counts(parsed[doc_id]) == _section_counts(parse_record(rec, "src")), doc_id
        assert parsed[doc_id].cpc_section == rec["cpc"][0][0]
        text = all_text(parsed[doc_id])
        for value in (rec["applicant"], rec["agent"], rec["application_number"], *rec["inventors"], "시료 A"):
            assert value not in text

    # Family members: a re-publication (same text as a KIPO XML publication, new id)
    # and a divisional (reuses another publication's background art and drawings text).
    def squashed(pub: Publication) -> list[tuple[str, str]]:
        return [(s, _squash(t)) for s, t in pairs(pub)]

    (republished,) = [i for i in extra if any(squashed(parsed[i]) == squashed(parsed[j]) for j in by_id)]
    original = next(j for j in by_id if squashed(parsed[j]) == squashed(parsed[republished]))
    assert formats[republished] == "jsonl" and formats[original] == "kipo_xml"
    assert parsed[republished].paragraphs == parse_record(by_id[original], "s").paragraphs
    (divisional,) = [i for i in extra if i != republished]
    div = parsed[divisional]
    assert formats[divisional] == "jsonl"
    parent = next(
        parsed[j]
        for j in by_id
        if [_squash(x.text) for x in parsed[j].paragraphs if x.section == "background_art"]
        == [_squash(x.text) for x in div.paragraphs if x.section == "background_art"]
    )
    for section in ("background_art", "description_of_drawings"):
        mine = [_squash(p.text) for p in div.paragraphs if p.section == section]
        assert mine and mine == [_squash(p.text) for p in parent.paragraphs if p.section == section]
    for section in ("title", "claims", "abstract"):
        assert {p.text for p in div.paragraphs if p.section == section}.isdisjoint(
            {p.text for p in parent.paragraphs if p.section == section}
        )

    # Special encodings: one gzipped, one EUC-KR KIPO XML file.
    xml_files = sorted((out / "kipo_xml").iterdir())
    assert sum(p.name.endswith(".xml.gz") for p in xml_files) == 1
    assert any(p.read_bytes().startswith(b'<?xml version="1.0" encoding="EUC-KR"?>') for p in xml_files)

    # Manifest lists every file with its sha256; a rerun is byte-identical.
    manifest = (out / "MANIFEST.txt").read_text(encoding="utf-8").splitlines()
    assert manifest == [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out).as_posix()}" for p in files
    ]
    first = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert script.main(["--source", str(source), "--out", str(out)]) == 0
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == first
