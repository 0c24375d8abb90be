"""pipeline.text.readers.kipo_xml: KIPO XML -> Publication (small literal inputs)."""

from __future__ import annotations

import gzip
import socket
import time
import urllib.request

import pytest

from pipeline.text import readers
from pipeline.text.publication import SECTIONS, InputRejected
from pipeline.text.readers import (
    parse_kipo_xml,
)
from tests.text.reader_samples import (
    ADDRESS,
    AGENT,
    APP_NO,
    APPLICANT,
    CAFDOC,
    DOCTYPE,
    EXPECTED,
    INVENTOR,
    OPEN_NO,
    all_text,
    kipo,
    pairs,
    reason,
)


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


# E-filing XML (a .hlz's body) has no bibliographic part; its <PatentCAFDOC> names the document.
EFILING_BODY = CAFDOC.replace("<PatentCAFDOC>", '<PatentCAFDOC docflag="1.0" documentID="1020230012345">', 1)
EFILING_ROOT = ' keapsVersion="1.0" editorKind="K" pageCount="12" imgApply="N" specId="SD00000001" xmlns="http://www.kipo.go.kr"'


def test_kipo_doc_id_comes_from_the_document_and_the_file_name_is_the_fallback():
    # E-filing XML: PatentCAFDOC's documentID, not the file name.
    efiling = kipo(body=EFILING_BODY, biblio="", root_attrs=EFILING_ROOT).encode()
    assert parse_kipo_xml(efiling, "in/명세서.xml", "명세서").doc_id == "1020230012345"
    # A publication number beats the documentID; the open number beats the application number.
    both = kipo(body=EFILING_BODY, root_attrs=EFILING_ROOT).encode()
    assert parse_kipo_xml(both, "a.xml", "stem").doc_id == OPEN_NO
    app_only = f"<KR_BibliographicInformation><KR_ApplicationInformation><KR_ApplicationNumber>{APP_NO}"
    app_only += "</KR_ApplicationNumber></KR_ApplicationInformation></KR_BibliographicInformation>"
    assert parse_kipo_xml(kipo(body=EFILING_BODY, biblio=app_only).encode(), "a.xml", "stem").doc_id == APP_NO
    # Numbers as value= attributes, padded with whitespace.
    registered = (
        '<KR_BibliographicInformation><KR_RegisterNumber value=" 10-2345678 "/></KR_BibliographicInformation>'
    )
    assert parse_kipo_xml(kipo(biblio=registered).encode(), "a.xml", "stem").doc_id == "10-2345678"
    # An empty number element or documentID says nothing: the next source, down to the file name.
    blank = "<KR_BibliographicInformation><KR_OpenNumber> </KR_OpenNumber></KR_BibliographicInformation>"
    blank_body = CAFDOC.replace("<PatentCAFDOC>", '<PatentCAFDOC documentID="  ">', 1)
    assert (
        parse_kipo_xml(kipo(body=blank_body, biblio=blank).encode(), "a.xml", "KR_stem").doc_id == "KR_stem"
    )
    assert (
        parse_kipo_xml(kipo(body=EFILING_BODY, biblio=blank).encode(), "a.xml", "stem").doc_id
        == "1020230012345"
    )
    # The documentID of an element that is not PatentCAFDOC is not an id.
    stray = CAFDOC.replace("<claims>", '<claims documentID="999">', 1)
    assert parse_kipo_xml(kipo(body=stray, biblio="").encode(), "a.xml", "stem").doc_id == "stem"


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

    assert title_of("<invention-title>{ONLY ENGLISH}</invention-title>") == []  # no Korean: dropped
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


# ------------------------------------------------ faults that must cost one unit at most


def _one_paragraph(p_content: str) -> bytes:
    body = (
        "<PatentCAFDOC><description><technical-field>"
        f"<p>{p_content}</p>"
        "</technical-field></description></PatentCAFDOC>"
    )
    return kipo(body=body).encode("utf-8")


def test_3000_nested_inline_tags_in_a_paragraph_parse_without_recursion():
    # Was RecursionError (the whole ingest stage failed); the walk is iterative now.
    data = _one_paragraph("<b>" * 3000 + "본 발명은 깊은 중첩이다." + "</b>" * 3000 + " 끝.")
    assert len(data) > 20_000
    pub = parse_kipo_xml(data, "deep.xml", "deep")
    assert pairs(pub) == [("technical_field", "본 발명은 깊은 중첩이다. 끝.")]


def test_3000_nested_unknown_block_tags_parse_without_recursion():
    nested = "<div>" * 3000 + "<p>본 발명은 블록 안의 문단이다.</p>" + "</div>" * 3000
    body = (
        f"<PatentCAFDOC><description><technical-field>{nested}</technical-field></description></PatentCAFDOC>"
    )
    pub = parse_kipo_xml(kipo(body=body).encode("utf-8"), "deep.xml", "deep")
    assert pairs(pub) == [("technical_field", "본 발명은 블록 안의 문단이다.")]


def test_nested_inline_and_block_text_keeps_document_order():
    # The iterative walks give what the recursive ones gave: tails after content.
    data = _one_paragraph("가<b>나<i>다</i>라<br/>마</b>바<tables><table>표</table></tables>사")
    assert pairs(parse_kipo_xml(data, "a.xml", "a")) == [("technical_field", "가나다라\n마바사")]


@pytest.mark.parametrize(
    "ref", ["&#1;", "&#x1;", "&#0;", "&#xD800;", "&#xFFFE;", "&#1114112;", "&#" + "9" * 30 + ";"]
)
def test_reference_to_a_forbidden_character_drops_the_character_not_the_document(ref):
    pub = parse_kipo_xml(_one_paragraph(f"본 발명은{ref} 제어 문자이다."), "c.xml", "c")
    assert pairs(pub) == [("technical_field", "본 발명은 제어 문자이다.")]


def test_references_to_allowed_characters_are_kept():
    pub = parse_kipo_xml(_one_paragraph("A&#x42;&#67;&#x0009;&#xAC00;"), "c.xml", "c")
    assert pairs(pub) == [("technical_field", "ABC\t가")]
