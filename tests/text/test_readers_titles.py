"""Titles in every reader: the Korean title (through `korean_title`) is the first
paragraph of a KIPO XML, JSONL, Parquet and 【section】 text publication, and each
publication says what was done to its titles (`title_outcomes`)."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.text.readers import (
    iter_jsonl,
    iter_parquet,
    parse_kipo_xml,
    parse_record,
    parse_sectioned_text,
)
from tests.text.reader_samples import kipo

KIPRIS = "폴리에틸렌 테레프탈레이트(PET) 필름 및 그 제조방법(POLYETHYLENE TEREPHTHALATE FILM AND METHOD FOR MANUFACTURING THE SAME)"
KOREAN = "폴리에틸렌 테레프탈레이트(PET) 필름 및 그 제조방법"
ABSTRACT = "본 발명은 필름에 관한 것이다."
CLAIM = "필름을 포함하는 포장재."


def xml_title(title_xml: str, before: str = "", biblio: str = "") -> bytes:
    """A KIPO XML publication whose description holds `before`, then `title_xml`."""
    body = (
        f"<PatentCAFDOC><description>{before}{title_xml}"
        f"<technical-field><p>{ABSTRACT}</p></technical-field></description>"
        f"<claims><claim><claim-text>{CLAIM}</claim-text></claim></claims></PatentCAFDOC>"
    )
    return kipo(body=body, biblio=biblio).encode("utf-8")


def sectioned(title_block: str) -> str:
    return f"【요약서】\n【요약】\n{ABSTRACT}\n【청구범위】\n【청구항 1】\n{CLAIM}\n{title_block}"


def record(title) -> dict:
    return {"id": "KR1", "title": title, "abstract": ABSTRACT, "claims": [CLAIM]}


def parquet_publications(records: list[dict]):
    table = pa.Table.from_pylist(
        records,
        schema=pa.schema(
            [
                ("id", pa.string()),
                ("title", pa.string()),
                ("abstract", pa.string()),
                ("claims", pa.list_(pa.string())),
            ]
        ),
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    buf.seek(0)
    return list(iter_parquet(buf, "t.parquet"))


def first(pub) -> tuple[str, str]:
    return pub.paragraphs[0].section, pub.paragraphs[0].text


# One title in each format's own way of writing it -> (first paragraph, outcomes).
FORMATS = {
    "kipo_xml": lambda title: parse_kipo_xml(
        xml_title(f"<invention-title>{title}</invention-title>"), "a.xml", "a"
    ),
    "jsonl": lambda title: next(iter_jsonl([json.dumps(record(title), ensure_ascii=False)], "a.jsonl")),
    "parquet": lambda title: parquet_publications([record(title)])[0],
    "text": lambda title: parse_sectioned_text(sectioned(f"【발명의 명칭】\n{title}\n"), "a.txt", "a"),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "title, expected, outcome",
    [
        (KIPRIS, KOREAN, "cut"),  # KIPRIS's form
        ("산화막 형성 방법{METHOD FOR FORMING OXIDE FILM}", "산화막 형성 방법", "cut"),  # KIPO's form
        ("산화막 형성 방법", "산화막 형성 방법", "kept"),
        (KOREAN, KOREAN, "kept"),
    ],
)
def test_every_format_puts_the_korean_title_first(fmt, title, expected, outcome):
    pub = FORMATS[fmt](title)
    assert first(pub) == ("title", expected)
    assert [p.section for p in pub.paragraphs].count("title") == 1
    assert pub.title_outcomes == (outcome,)
    assert "POLYETHYLENE" not in " ".join(p.text for p in pub.paragraphs)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_english_only_title_is_dropped_in_every_format(fmt):
    pub = FORMATS[fmt]("METHOD FOR MANUFACTURING FILM")
    assert "title" not in [p.section for p in pub.paragraphs]
    assert "METHOD" not in " ".join(p.text for p in pub.paragraphs)
    assert pub.title_outcomes == ("dropped",)


def test_a_title_found_after_other_text_still_comes_first():
    # KIPO XML: <invention-title> after another element of the description.
    pub = parse_kipo_xml(
        xml_title(
            f"<invention-title>{KIPRIS}</invention-title>",
            before="<background-art><p>종래 기술.</p></background-art>",
        ),
        "a.xml",
        "a",
    )
    assert [p.section for p in pub.paragraphs] == ["title", "background_art", "technical_field", "claims"]
    assert first(pub) == ("title", KOREAN)
    # Text: 【발명의 명칭】 after the abstract and the claims.
    pub = parse_sectioned_text(sectioned(f"【발명의 명칭】\n{KIPRIS}\n"), "a.txt", "a")
    assert [p.section for p in pub.paragraphs] == ["title", "abstract", "claims"]
    # Records: a description key naming the title joins the title, first.
    pub = parse_record(
        {
            "id": "KR1",
            "abstract": ABSTRACT,
            "description": {"technical_field": "기술.", "발명의 명칭": KIPRIS},
        },
        "r",
    )
    assert [p.section for p in pub.paragraphs] == ["title", "technical_field", "abstract"]
    assert first(pub) == ("title", KOREAN) and pub.title_outcomes == ("cut",)


def test_korean_and_english_title_elements_and_lists():
    pub = parse_kipo_xml(
        xml_title(
            f'<invention-title lang="en">POLYESTER FILM</invention-title><invention-title lang="ko">{KIPRIS}</invention-title>'
        ),
        "a.xml",
        "a",
    )
    assert first(pub) == ("title", KOREAN) and pub.title_outcomes == ("cut",)
    pub = parse_record(record([KIPRIS, "POLYESTER FILM", "  "]), "r")  # a blank item is no title
    assert [p.text for p in pub.paragraphs if p.section == "title"] == [KOREAN]
    assert pub.title_outcomes == ("cut", "dropped")


def test_title_fallbacks_from_bibliographic_data():
    # KIPO XML without <invention-title>: the bibliographic KR_InventionTitle.
    biblio = f"<KR_BibliographicInformation><KR_InventionTitle>{KIPRIS}</KR_InventionTitle></KR_BibliographicInformation>"
    pub = parse_kipo_xml(xml_title("", biblio=biblio), "a.xml", "a")
    assert first(pub) == ("title", KOREAN) and pub.title_outcomes == ("cut",)
    # ... but never both: the description's title wins.
    pub = parse_kipo_xml(xml_title("<invention-title>산화막</invention-title>", biblio=biblio), "a.xml", "a")
    assert [p.text for p in pub.paragraphs if p.section == "title"] == ["산화막"]
    # Text without 【발명의 명칭】: the bibliographic 【발명의 국문명칭】 (【발명의 영문명칭】 never).
    text = f"【발명의 국문명칭】{KOREAN}\n【발명의 영문명칭】POLYESTER FILM\n" + sectioned("")
    pub = parse_sectioned_text(text, "a.txt", "a")
    assert first(pub) == ("title", KOREAN) and pub.title_outcomes == ("kept",)


def test_no_title_means_no_title_paragraph_and_no_outcome():
    pub = parse_record({"id": "KR1", "abstract": ABSTRACT}, "r")
    assert [p.section for p in pub.paragraphs] == ["abstract"] and pub.title_outcomes == ()
    pub = parse_kipo_xml(xml_title("<invention-title>  </invention-title>"), "a.xml", "a")
    assert first(pub)[0] == "technical_field" and pub.title_outcomes == ()


def test_title_outcomes_do_not_take_part_in_equality():
    a = parse_record(record(KIPRIS), "r")
    b = parse_record(record(KOREAN), "r")
    assert a == b and a.title_outcomes != b.title_outcomes
