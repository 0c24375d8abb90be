"""A corpus of bad inputs for `ingest` and `clean`, each file with the outcome it must have.

    write_corpus(root, big_mb=50) -> list[BadCase]

writes one file per case under `root` (folders and file names with spaces and
Korean characters), plus a canary file that only a hostile XML file points
at. The text is small Korean patent-style prose generated here from a fixed
vocabulary; the same arguments give byte-identical files.

Outcome notation (`BadCase.expect`, and what `outcome_text` renders from a
run): the outcomes of the file's input units (a file, a JSONL line, a
Parquet row) after both stages, then the reasons of any sentences `clean`
dropped from the documents it kept or rejected:

    kept                                      one unit, written by clean
    rejected:malformed_xml                    one unit, rejected (by ingest or clean)
    4 kept, 1 rejected:malformed_json         several units
    kept; sentences_dropped:too_long          written, with sentences dropped

Cases, by what the issue asks for (the `what` field says more):
* broken files: malformed and truncated XML, wrong root, empty file,
  zero-byte / truncated `.gz`, a binary file named `.xml`, gzip bombs (an
  XML file, and one JSONL line with no newline, inflating past
  `ingest.max_file_mb`: rejected after reading at most that much);
* hostile XML: external file, network and parameter entities, billion laughs,
  quadratic blow-up (all rejected before anything is read or expanded), and a
  DOCTYPE naming a remote DTD (kept; the DTD is never fetched);
* encodings: CP949, EUC-KR without a declaration, UTF-8 with BOM, UTF-16,
  mixed line endings, NUL bytes and other control characters;
* size: one publication of `big_mb` MB (kept whole: the file is under
  `ingest.max_file_mb`, each paragraph is unique so dedup keeps all of it), a
  20,000-character sentence, paragraphs of only numbers or formulas;
* languages: English, Japanese and Chinese publications (rejected by clean
  as `no_text_after_cleaning`, every sentence counted as `low_hangul`), a
  Korean publication with an English abstract, Hanja-heavy mixed script
  (partly kept at the default `clean.min_hangul_ratio`, see docs/stages.md);
* records: JSONL with a bad line in the middle and every kind of bad record,
  Parquet with missing or extra columns, wrong types, no id column, no rows;
* one unit never costs the run (issue 16): 3,000 nested inline tags in a
  <p>, 3,000 nested unknown block tags, references to forbidden characters
  (`&#1;`), lone surrogates in a JSONL text and id, a 4,301-digit id, UTF-16
  JSONL with a BOM, a paragraph of unclosed <table> tags (big_mb / 5 MB), an
  address under an unknown key or 【header】 (must reach no output), one
  undecodable Parquet cell, BOM-less UTF-16 text; and what matches a glob
  without being a regular file: a FIFO, a directory, a symlink loop, a
  dangling symlink, a symlink to a file outside the input folders (the
  canary); plus a file that two input globs match (read once).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections import Counter
from collections.abc import Callable, Mapping

from pipeline.tools.bad_inputs.files import (
    ADDRESS,
    CHAR_REF_PROBE,
    CONTROL_PROBE,
    SURROGATE_PROBE,
    TABLES_PROBE,
    UTF16_PROBE,
    address_key,
    address_section,
    bad_line_in_middle,
    bad_records,
    big_publication,
    billion_laughs,
    binary_bytes,
    control_chars_jsonl,
    cut,
    deep_blocks,
    deep_inline,
    doc,
    entity_doc,
    extra_columns,
    forbidden_char_refs,
    foreign,
    gz,
    gzip_bomb,
    huge_id,
    jsonl_bomb,
    jsonl_bytes,
    lone_surrogates,
    mixed_newlines,
    only_numbers,
    parquet_bad_cell,
    parquet_bytes,
    parquet_rows,
    quadratic_blowup,
    text_bytes,
    unclosed_tables,
    utf16_jsonl,
    utf16_text_without_bom,
    with_controls,
    with_long_sentence,
    with_numbers,
    wrong_types,
    xml_bytes,
)
from pipeline.tools.bad_inputs.prose import CHINESE, ENGLISH, HANJA, JAPANESE
from pipeline.tools.corpus_writers import KIPO_DOCTYPE

# Where each format's files go, relative to the corpus root, and the glob
# (relative to that folder) that the generated pipeline.yaml uses.
FOLDERS: dict[str, tuple[str, str]] = {
    "kipo_xml": ("kipo xml 입력", "*.xml*"),
    "jsonl": ("jsonl 입력", "*.jsonl*"),
    "parquet": ("parquet 입력", "*.parquet"),
    "text": ("텍스트 입력", "*.txt*"),
}
# Not an input: the external-file-entity case points at it. Its marker must
# never appear in any output, and the file must never be opened.
CANARY_DIR = "비밀 canary"
CANARY_FILE = "canary.txt"
CANARY_MARKER = "CANARY-7f3a-유출되면-안-되는-문자열"
# Hosts in the hostile XML. `.invalid` never resolves (RFC 2606) and
# 198.51.100.0/24 is a documentation range: nothing can answer, and the
# network guard of the report records any attempt to reach them.
NETWORK_URLS = ("http://dtd.kipo-mirror.invalid/kipo.dtd", "http://198.51.100.7/p.dtd")
# Globs added to the generated pipeline.yaml besides FOLDERS': (format, glob in
# its folder). This one overlaps the jsonl folder's glob on one case's file.
EXTRA_GLOBS: tuple[tuple[str, str], ...] = (("jsonl", "두 glob*.jsonl"),)


@dataclasses.dataclass(frozen=True)
class Special:
    """What a case creates instead of a file with bytes: a FIFO, a directory or a symlink."""

    kind: str  # fifo | directory | symlink
    target: str = ""  # the symlink's target, as written in the link


@dataclasses.dataclass(frozen=True)
class BadCase:
    name: str  # short snake_case id shown in the report
    format: str  # kipo_xml | jsonl | parquet | text
    file: str  # file name inside the format's folder
    expect: str  # outcome in the notation of the module docstring
    what: str  # what the file holds, in a few words
    build: Callable[[], bytes | Special] = dataclasses.field(repr=False, compare=False)
    # Text that must reach clean's sentences for this case's documents
    # (proves the encoding was read right, not just that nothing crashed).
    probe: str = ""
    # Text that must reach no sentence (an address under an unknown key).
    absent: str = ""

    @property
    def path(self) -> str:
        """Path relative to the corpus root."""
        return os.path.join(FOLDERS[self.format][0], self.file)


def outcome_text(units: Mapping[str, int], sentence_drops: Mapping[str, int]) -> str:
    """Unit outcomes ('kept', 'rejected:REASON' -> count) and sentence drop reasons -> notation."""
    keys = sorted((k for k, n in units.items() if n), key=lambda k: (k != "kept", k))
    total = sum(units.values())
    text = keys[0] if total == 1 else ", ".join(f"{units[k]} {k}" for k in keys) or "nothing"
    reasons = sorted(r for r, n in sentence_drops.items() if n)
    if reasons:
        text += "; sentences_dropped:" + "+".join(reasons)
    return text


# ------------------------------------------------------------------ the cases


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The sizes a run picks: the giant publication's MB and ingest.max_file_mb."""

    big_mb: float
    max_file_mb: int

    @property
    def tables_mb(self) -> float:
        """The paragraph of unclosed <table> tags: a fifth of the giant publication (10 MB)."""
        return self.big_mb / 5

    @property
    def bomb_mb(self) -> int:
        """What a gzip bomb inflates to: just past ingest.max_file_mb."""
        return self.max_file_mb + 1


@dataclasses.dataclass(frozen=True)
class CaseSpec:
    """One row of the case table; `file` and `what` may name {big_mb} and {bomb_mb}."""

    name: str
    format: str
    file: str
    expect: str
    what: str
    build: Callable[[Sizes], bytes | Special]
    probe: str = ""
    absent: str = ""


CASES: tuple[CaseSpec, ...] = (
    # --- KIPO XML: broken files
    CaseSpec(
        "xml_good",
        "kipo_xml",
        "정상 공보.xml",
        "kept",
        "control: a normal publication in KIPO XML",
        lambda s: xml_bytes(doc("xml_good")),
    ),
    CaseSpec(
        "xml_good_gz",
        "kipo_xml",
        "정상 공보 압축.xml.gz",
        "kept",
        "control: a publication, gzipped",
        lambda s: gz(xml_bytes(doc("xml_good_gz"))),
    ),
    CaseSpec(
        "xml_malformed",
        "kipo_xml",
        "깨진 태그.xml",
        "rejected:malformed_xml",
        "mismatched closing tag",
        lambda s: xml_bytes(doc("xml_malformed")).replace(b"</technical-field>", b"</technical-feld>", 1),
    ),
    CaseSpec(
        "xml_truncated",
        "kipo_xml",
        "잘린 파일.xml",
        "rejected:malformed_xml",
        "first 60% of a publication, cut inside a character",
        lambda s: cut(xml_bytes(doc("xml_truncated")), 0.6),
    ),
    CaseSpec(
        "xml_wrong_root",
        "kipo_xml",
        "다른 루트 요소.xml",
        "rejected:wrong_root",
        "`<patent-document>` root",
        lambda s: xml_bytes(doc("xml_wrong_root")).replace(b"KIPO>", b"patent-document>"),
    ),
    CaseSpec("xml_empty", "kipo_xml", "빈 파일.xml", "rejected:empty_file", "0 bytes", lambda s: b""),
    CaseSpec("xml_gz_zero", "kipo_xml", "빈 압축.xml.gz", "rejected:empty_file", "0-byte .gz", lambda s: b""),
    CaseSpec(
        "xml_gz_truncated",
        "kipo_xml",
        "잘린 압축.xml.gz",
        "rejected:malformed_gzip",
        "gzip cut in half",
        lambda s: cut(gz(xml_bytes(doc("xml_gz_truncated"))), 0.5),
    ),
    CaseSpec(
        "xml_gz_bomb",
        "kipo_xml",
        "압축 폭탄.xml.gz",
        "rejected:decompressed_too_large",
        "inflates to {bomb_mb} MB, past ingest.max_file_mb",
        lambda s: gzip_bomb(
            s.bomb_mb,
            b"<KIPO><PatentCAFDOC><description><p>",
            b"</p></description></PatentCAFDOC></KIPO>",
        ),
    ),
    CaseSpec(
        "xml_binary",
        "kipo_xml",
        "그림 파일.xml",
        "rejected:binary_file",
        "PNG bytes named .xml",
        lambda s: binary_bytes(),
    ),
    # --- KIPO XML: hostile
    CaseSpec(
        "xml_external_file_entity",
        "kipo_xml",
        "외부 파일 엔티티.xml",
        "rejected:xml_entities_forbidden",
        "entity SYSTEM pointing at the canary file",
        lambda s: entity_doc(f'<!ENTITY x SYSTEM "../{CANARY_DIR}/{CANARY_FILE}">'),
    ),
    CaseSpec(
        "xml_external_network_entity",
        "kipo_xml",
        "외부 네트워크 엔티티.xml",
        "rejected:xml_entities_forbidden",
        "entity SYSTEM http://….invalid/",
        lambda s: entity_doc(f'<!ENTITY x SYSTEM "{NETWORK_URLS[0]}">'),
    ),
    CaseSpec(
        "xml_parameter_entity",
        "kipo_xml",
        "파라미터 엔티티.xml",
        "rejected:xml_entities_forbidden",
        "parameter entity from a network DTD",
        lambda s: entity_doc(f'<!ENTITY % p SYSTEM "{NETWORK_URLS[1]}"> %p;', ref="기판"),
    ),
    CaseSpec(
        "xml_entity_bomb",
        "kipo_xml",
        "엔티티 폭탄.xml",
        "rejected:xml_entities_forbidden",
        "billion laughs (10^9 expansions)",
        lambda s: billion_laughs(),
    ),
    CaseSpec(
        "xml_quadratic_blowup",
        "kipo_xml",
        "이차 팽창.xml",
        "rejected:xml_entities_forbidden",
        "50,000-character entity x 20,000 references",
        lambda s: quadratic_blowup(),
    ),
    CaseSpec(
        "xml_remote_dtd",
        "kipo_xml",
        "원격 DTD 선언.xml",
        "kept",
        "DOCTYPE naming a remote DTD (never fetched)",
        lambda s: xml_bytes(doc("xml_remote_dtd")).replace(
            KIPO_DOCTYPE.encode(), f'<!DOCTYPE KIPO SYSTEM "{NETWORK_URLS[0]}">'.encode()
        ),
    ),
    # --- KIPO XML: encodings and characters
    CaseSpec(
        "xml_cp949",
        "kipo_xml",
        "CP949 인코딩.xml",
        "kept",
        "CP949, declared EUC-KR, UHC-only syllables",
        lambda s: xml_bytes(
            doc("xml_cp949", abstract=["똠방각하의 뷁 시험 결과를 나타낸다."]), "cp949"
        ).replace(b'encoding="CP949"', b'encoding="EUC-KR"'),
        probe="똠방각하의 뷁 시험 결과를 나타낸다.",
    ),
    CaseSpec(
        "xml_euc_kr_undeclared",
        "kipo_xml",
        "EUC-KR 선언 없음.xml",
        "kept",
        "EUC-KR without an XML declaration",
        lambda s: xml_bytes(doc("xml_euc_kr", abstract=["냉각판의 온도 분포를 측정하였다."]), "euc-kr").split(
            b"\n", 1
        )[1],
        probe="냉각판의 온도 분포를 측정하였다.",
    ),
    CaseSpec(
        "xml_utf8_bom",
        "kipo_xml",
        "BOM 포함.xml",
        "kept",
        "UTF-8 with BOM",
        lambda s: b"\xef\xbb\xbf" + xml_bytes(doc("xml_utf8_bom")),
    ),
    CaseSpec(
        "xml_utf16",
        "kipo_xml",
        "UTF-16 인코딩.xml",
        "kept",
        "UTF-16 with BOM",
        lambda s: (
            xml_bytes(doc("xml_utf16"))
            .decode()
            .replace('encoding="UTF-8"', 'encoding="UTF-16"')
            .encode("utf-16")
        ),
    ),
    CaseSpec(
        "xml_mixed_newlines",
        "kipo_xml",
        "줄바꿈 혼합.xml",
        "kept",
        "LF, CRLF and CR line ends",
        lambda s: mixed_newlines(xml_bytes(doc("xml_mixed_newlines")).decode()).encode(),
    ),
    CaseSpec(
        "xml_control_chars",
        "kipo_xml",
        "제어 문자.xml",
        "kept",
        "NUL, BEL, ESC, DEL, FF, NEL inside a paragraph",
        lambda s: xml_bytes(with_controls(doc("xml_control_chars"))),
        probe=CONTROL_PROBE,
    ),
    # --- KIPO XML: size and content
    CaseSpec(
        "xml_big",
        "kipo_xml",
        "초대형 공보 {big_mb:g}MB.xml",
        "kept",
        "one {big_mb:g} MB publication, every paragraph unique",
        lambda s: big_publication(s.big_mb),
        probe="실시예 2에 따르면,",
    ),
    CaseSpec(
        "xml_long_sentence",
        "kipo_xml",
        "2만 자 문장.xml",
        "kept; sentences_dropped:too_long",
        "a 20,000-character sentence, no punctuation",
        lambda s: xml_bytes(with_long_sentence(doc("xml_long_sentence"))),
    ),
    CaseSpec(
        "xml_numbers_formulas",
        "kipo_xml",
        "숫자 수식 문단.xml",
        "kept; sentences_dropped:low_hangul",
        "paragraphs of only numbers / formulas",
        lambda s: xml_bytes(with_numbers(doc("xml_numbers_formulas"))),
    ),
    CaseSpec(
        "xml_only_numbers",
        "kipo_xml",
        "숫자뿐인 공보.xml",
        "rejected:no_text_after_cleaning; sentences_dropped:low_hangul",
        "a publication of only numbers and formulas",
        lambda s: xml_bytes(only_numbers("xml_only_numbers")),
    ),
    CaseSpec(
        "xml_english",
        "kipo_xml",
        "영문 공보.xml",
        "rejected:no_text_after_cleaning; sentences_dropped:low_hangul",
        "English publication",
        lambda s: xml_bytes(foreign("xml_english", ENGLISH, "Cooling plate for a battery module")),
    ),
    CaseSpec(
        "xml_english_abstract",
        "kipo_xml",
        "영문 요약 포함.xml",
        "kept; sentences_dropped:low_hangul",
        "Korean publication, English abstract",
        lambda s: xml_bytes(doc("xml_english_abstract", abstract=[" ".join(ENGLISH[:2])])),
    ),
    # --- JSONL
    CaseSpec(
        "jsonl_good",
        "jsonl",
        "정상 레코드.jsonl",
        "3 kept",
        "control: 3 records",
        lambda s: jsonl_bytes(*(doc(f"jsonl_good-{i}") for i in range(3))),
    ),
    CaseSpec(
        "jsonl_bad_line_middle",
        "jsonl",
        "중간 불량 줄.jsonl",
        "4 kept, 1 rejected:malformed_json",
        "line 3 of 5 is cut-off JSON",
        lambda s: bad_line_in_middle("jsonl_bad_line_middle"),
    ),
    CaseSpec(
        "jsonl_bad_records",
        "jsonl",
        "불량 레코드 모음.jsonl",
        "1 kept, 2 rejected:bad_record, 1 rejected:malformed_json, 1 rejected:missing_id, 1 rejected:no_text",
        "array, no id, int claims, title only, unterminated last line",
        lambda s: bad_records("jsonl_bad_records"),
    ),
    CaseSpec("jsonl_empty", "jsonl", "빈 파일.jsonl", "rejected:empty_file", "0 bytes", lambda s: b""),
    CaseSpec(
        "jsonl_gz_zero", "jsonl", "빈 압축.jsonl.gz", "rejected:empty_file", "0-byte .gz", lambda s: b""
    ),
    CaseSpec(
        "jsonl_gz_truncated",
        "jsonl",
        "잘린 압축.jsonl.gz",
        "1 kept, 1 rejected:corrupt_archive",
        "gzip of 4 records cut at 70%",
        lambda s: cut(gz(jsonl_bytes(*(doc(f"jsonl_gz_truncated-{i}") for i in range(4)))), 0.7),
    ),
    CaseSpec(
        "jsonl_gz_bomb_line",
        "jsonl",
        "압축 폭탄 줄.jsonl.gz",
        "2 kept, 1 rejected:line_too_large",
        "middle line inflates to {bomb_mb} MB, no newline",
        lambda s: jsonl_bomb("jsonl_gz_bomb_line", s.bomb_mb),
    ),
    CaseSpec(
        "jsonl_cp949",
        "jsonl",
        "CP949 레코드.jsonl",
        "2 kept",
        "CP949-encoded lines",
        lambda s: jsonl_bytes(
            doc("jsonl_cp949-0", abstract=["똠방각하 전극층의 저항을 측정하였다."]),
            doc("jsonl_cp949-1"),
            encoding="cp949",
        ),
        probe="똠방각하 전극층의 저항을 측정하였다.",
    ),
    CaseSpec(
        "jsonl_bom_crlf",
        "jsonl",
        "BOM CRLF 혼합.jsonl",
        "3 kept",
        "UTF-8 BOM, CRLF and LF line ends",
        lambda s: (
            b"\xef\xbb\xbf"
            + jsonl_bytes(*(doc(f"jsonl_bom_crlf-{i}") for i in range(3))).replace(b"\n", b"\r\n", 2)
        ),
    ),
    CaseSpec(
        "jsonl_control_chars",
        "jsonl",
        "제어 문자.jsonl",
        "2 kept",
        "control characters in strings, raw (invalid JSON) and \\u-escaped",
        lambda s: control_chars_jsonl("jsonl_control_chars"),
        probe=CONTROL_PROBE,
    ),
    CaseSpec(
        "jsonl_japanese",
        "jsonl",
        "일본어 공보.jsonl",
        "rejected:no_text_after_cleaning; sentences_dropped:low_hangul",
        "Japanese publication",
        lambda s: jsonl_bytes(foreign("jsonl_japanese", JAPANESE, "電池モジュール用冷却板")),
    ),
    CaseSpec(
        "jsonl_chinese",
        "jsonl",
        "중국어 공보.jsonl",
        "rejected:no_text_after_cleaning; sentences_dropped:low_hangul",
        "Chinese publication",
        lambda s: jsonl_bytes(foreign("jsonl_chinese", CHINESE, "用于电池模块的冷却板")),
    ),
    # --- Parquet
    CaseSpec(
        "parquet_good",
        "parquet",
        "정상 표.parquet",
        "3 kept",
        "control: 3 rows",
        lambda s: parquet_bytes(parquet_rows("parquet_good", 3)),
    ),
    CaseSpec(
        "parquet_missing_columns",
        "parquet",
        "열 누락.parquet",
        "2 kept",
        "only id, title, abstract columns",
        lambda s: parquet_bytes(parquet_rows("parquet_missing", 2), columns=("id", "title", "abstract")),
    ),
    CaseSpec(
        "parquet_extra_columns",
        "parquet",
        "열 추가.parquet",
        "2 kept",
        "extra applicant, raw_xml, embedding columns",
        lambda s: extra_columns("parquet_extra_columns"),
    ),
    CaseSpec(
        "parquet_no_id_column",
        "parquet",
        "id 열 없음.parquet",
        "3 rejected:bad_parquet_schema",
        "3 rows, no id column",
        lambda s: parquet_bytes(
            parquet_rows("parquet_no_id", 3), columns=("title", "cpc", "description", "claims", "abstract")
        ),
    ),
    CaseSpec(
        "parquet_wrong_types",
        "parquet",
        "잘못된 형식.parquet",
        "1 kept, 1 rejected:bad_record, 1 rejected:missing_id",
        "int claims in one row, null id in another",
        lambda s: wrong_types("parquet_wrong_types"),
    ),
    CaseSpec(
        "parquet_truncated",
        "parquet",
        "잘린 파일.parquet",
        "rejected:malformed_parquet",
        "Parquet file cut in half",
        lambda s: cut(parquet_bytes(parquet_rows("parquet_truncated", 3)), 0.5),
    ),
    CaseSpec(
        "parquet_no_rows",
        "parquet",
        "행 없음.parquet",
        "rejected:empty_file",
        "valid schema, 0 rows",
        lambda s: parquet_bytes([]),
    ),
    # --- 【】 sectioned text
    CaseSpec(
        "text_good",
        "text",
        "정상 문서.txt",
        "kept",
        "control: 【】 sectioned text",
        lambda s: text_bytes(doc("text_good")),
    ),
    CaseSpec(
        "text_cp949",
        "text",
        "CP949 문서.txt",
        "kept",
        "CP949 with UHC-only syllables",
        lambda s: text_bytes(doc("text_cp949", abstract=["똠방각하 분리막의 기공률을 측정하였다."]), "cp949"),
        probe="똠방각하 분리막의 기공률을 측정하였다.",
    ),
    CaseSpec(
        "text_euc_kr",
        "text",
        "EUC-KR 문서.txt",
        "kept",
        "EUC-KR",
        lambda s: text_bytes(doc("text_euc_kr", abstract=["접착층의 박리 강도를 측정하였다."]), "euc-kr"),
        probe="접착층의 박리 강도를 측정하였다.",
    ),
    CaseSpec(
        "text_utf8_bom",
        "text",
        "BOM 포함 문서.txt",
        "kept",
        "UTF-8 with BOM",
        lambda s: b"\xef\xbb\xbf" + text_bytes(doc("text_utf8_bom")),
    ),
    CaseSpec(
        "text_mixed_newlines",
        "text",
        "줄바꿈 혼합 문서.txt",
        "kept",
        "LF, CRLF and CR line ends",
        lambda s: mixed_newlines(text_bytes(doc("text_mixed_newlines")).decode()).encode(),
    ),
    CaseSpec(
        "text_control_chars",
        "text",
        "제어 문자 문서.txt",
        "kept",
        "NUL and other control characters",
        lambda s: text_bytes(with_controls(doc("text_control_chars"))),
        probe=CONTROL_PROBE,
    ),
    CaseSpec("text_empty", "text", "빈 문서.txt", "rejected:empty_file", "0 bytes", lambda s: b""),
    CaseSpec(
        "text_blank",
        "text",
        "공백뿐인 문서.txt",
        "rejected:empty_file",
        "only spaces and newlines",
        lambda s: b" \r\n\t\n  \n",
    ),
    CaseSpec(
        "text_hanja",
        "text",
        "국한문 혼용 문서.txt",
        "kept; sentences_dropped:low_hangul",
        "Hanja-heavy mixed script",
        lambda s: text_bytes(foreign("text_hanja", HANJA, "蓄電池 모듈用 冷却板")),
        probe=HANJA[0],
    ),
    # --- one unit never costs the run (issue 16)
    CaseSpec(
        "xml_deep_inline",
        "kipo_xml",
        "3000겹 인라인 태그.xml",
        "kept",
        "3,000 nested `<b>` inside a `<p>` (was RecursionError: the stage failed)",
        lambda s: deep_inline("xml_deep_inline"),
    ),
    CaseSpec(
        "xml_deep_blocks",
        "kipo_xml",
        "3000겹 블록 태그.xml",
        "kept",
        "3,000 nested unknown block tags around the description",
        lambda s: deep_blocks("xml_deep_blocks"),
    ),
    CaseSpec(
        "xml_forbidden_char_ref",
        "kipo_xml",
        "금지 문자 참조.xml",
        "kept",
        "`&#1;`, `&#xFFFE;`, `&#0;` in a paragraph: the characters dropped, not the document",
        lambda s: forbidden_char_refs("xml_forbidden_char_ref"),
        probe=CHAR_REF_PROBE,
    ),
    CaseSpec(
        "jsonl_lone_surrogate",
        "jsonl",
        "짝 없는 대리 코드.jsonl",
        "2 kept, 1 rejected:bad_record",
        "`\\ud800` in a text (repaired), `\\udfff` in an id (rejected); was a Parquet writer crash",
        lambda s: lone_surrogates("jsonl_lone_surrogate"),
        probe=SURROGATE_PROBE,
    ),
    CaseSpec(
        "jsonl_huge_id",
        "jsonl",
        "4301자리 id.jsonl",
        "1 kept, 1 rejected:bad_record",
        "an id of 4,301 digits (past Python's int() limit), a control",
        lambda s: huge_id("jsonl_huge_id"),
    ),
    CaseSpec(
        "jsonl_utf16_bom",
        "jsonl",
        "UTF-16 레코드.jsonl",
        "3 kept",
        "3 records in UTF-16 with a BOM: one record per line",
        lambda s: utf16_jsonl("jsonl_utf16_bom"),
    ),
    CaseSpec(
        "jsonl_unclosed_tables",
        "jsonl",
        "닫히지 않은 표 {tables_mb:g}MB.jsonl",
        "kept",
        "a {tables_mb:g} MB paragraph of unclosed `<table>` tags (markup stripping is linear)",
        lambda s: unclosed_tables("jsonl_unclosed_tables", s.tables_mb),
        probe=TABLES_PROBE,
    ),
    CaseSpec(
        "jsonl_address_key",
        "jsonl",
        "주소 키.jsonl",
        "kept",
        "an address under unknown description keys: never text",
        lambda s: address_key("jsonl_address_key"),
        absent=ADDRESS,
    ),
    CaseSpec(
        "jsonl_two_globs",
        "jsonl",
        "두 glob 일치.jsonl",
        "2 kept",
        "matched by two input globs: read once",
        lambda s: jsonl_bytes(*(doc(f"jsonl_two_globs-{i}") for i in range(2))),
    ),
    CaseSpec(
        "parquet_undecodable_cell",
        "parquet",
        "깨진 셀.parquet",
        "2 kept, 1 rejected:undecodable",
        "one id cell not UTF-8: only its row rejected",
        lambda s: parquet_bad_cell("parquet_undecodable_cell"),
    ),
    CaseSpec(
        "text_utf16_no_bom",
        "text",
        "UTF-16 BOM 없음.txt",
        "kept",
        "UTF-16 LE without a BOM: text, not binary",
        lambda s: utf16_text_without_bom("text_utf16_no_bom"),
        probe=UTF16_PROBE,
    ),
    CaseSpec(
        "text_address_section",
        "text",
        "발명자 주소 섹션.txt",
        "kept",
        "a 【발명자의 주소】 section in the description: never text",
        lambda s: address_section("text_address_section"),
        absent=ADDRESS,
    ),
    CaseSpec(
        "xml_fifo",
        "kipo_xml",
        "이름 있는 파이프.xml",
        "rejected:not_a_regular_file",
        "a FIFO matching the glob (`open()` would block forever)",
        lambda s: Special("fifo"),
    ),
    CaseSpec(
        "xml_directory",
        "kipo_xml",
        "폴더 이름.xml",
        "nothing",
        "a directory matching the glob: skipped, counted as `skipped_directories`",
        lambda s: Special("directory"),
    ),
    CaseSpec(
        "text_symlink_loop",
        "text",
        "순환 링크.txt",
        "rejected:symlink_loop",
        "a symlink to itself",
        lambda s: Special("symlink", "순환 링크.txt"),
    ),
    CaseSpec(
        "text_dangling_symlink",
        "text",
        "끊어진 링크.txt",
        "rejected:dangling_symlink",
        "a symlink to a missing file",
        lambda s: Special("symlink", "없는 파일.txt"),
    ),
    CaseSpec(
        "text_symlink_outside",
        "text",
        "바깥 링크.txt",
        "rejected:symlink_outside_inputs",
        "a symlink to the canary, outside the input folders (`ingest.follow_symlinks_outside: false`)",
        lambda s: Special("symlink", os.path.join("..", CANARY_DIR, CANARY_FILE)),
    ),
)


def cases(big_mb: float = 50, max_file_mb: int = 256) -> list[BadCase]:
    """Every case. `big_mb`: size of the giant publication; the gzip bomb inflates past `max_file_mb`."""
    sizes = Sizes(big_mb, max_file_mb)
    names = {"big_mb": sizes.big_mb, "bomb_mb": sizes.bomb_mb, "tables_mb": sizes.tables_mb}
    return [
        BadCase(
            spec.name,
            spec.format,
            spec.file.format(**names),
            spec.expect,
            spec.what.format(**names),
            functools.partial(spec.build, sizes),
            spec.probe,
            spec.absent,
        )
        for spec in CASES
    ]


def write_corpus(root: str, big_mb: float = 50, max_file_mb: int = 256) -> list[BadCase]:
    """Write every case (and the canary) under `root`; returns the cases."""
    all_cases = cases(big_mb, max_file_mb)
    names = Counter(c.name for c in all_cases)
    if max(names.values()) > 1:
        raise ValueError(f"duplicate case names: {[n for n, k in names.items() if k > 1]}")
    for folder, _ in FOLDERS.values():
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    os.makedirs(os.path.join(root, CANARY_DIR), exist_ok=True)
    with open(os.path.join(root, CANARY_DIR, CANARY_FILE), "w", encoding="utf-8") as f:
        f.write(CANARY_MARKER + "\n")
    for case in all_cases:
        path = os.path.join(root, case.path)
        data = case.build()
        if isinstance(data, Special):
            _make_special(path, data)
            continue
        with open(path, "wb") as f:
            f.write(data)
    return all_cases


def _make_special(path: str, special: Special) -> None:
    if os.path.lexists(path):  # a rerun into the same folder
        if os.path.isdir(path) and not os.path.islink(path):
            os.rmdir(path)
        else:
            os.remove(path)
    if special.kind == "fifo":
        os.mkfifo(path)
    elif special.kind == "directory":
        os.mkdir(path)
    elif special.kind == "symlink":
        os.symlink(special.target, path)
    else:
        raise ValueError(f"unknown special file kind {special.kind!r}")
