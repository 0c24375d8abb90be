"""【section】 headed patent text -> `Publication`.

`parse_sectioned_text(text, source, fallback_id)` splits decoded text at
【...】 headers: known section headers open a section, bibliographic headers
give the doc id and CPC section only (and the title, from 【발명의 국문명칭】,
when there is no 【발명의 명칭】), dropped sections (drawings, tables) are
skipped; paragraphs are 【0001】-numbered blocks or blank-line separated. The
Korean title (`korean_title`) is the first paragraph.
Rejects: no_text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.text.publication import Paragraph, Publication
from pipeline.text.readers.common import (
    DELETED_CLAIM_TEXTS,
    Titles,
    _emit,
    _require_prose,
    cpc_section_of,
)

# Header (whitespace removed when matching) -> canonical section.
TEXT_SECTION_HEADERS: dict[str, str] = {
    "발명의 명칭": "title",
    "발명의 설명": "description",
    "발명의 상세한 설명": "description",
    "기술분야": "technical_field",
    "기술 분야": "technical_field",
    "발명이 속하는 기술분야": "technical_field",
    "배경기술": "background_art",
    "발명의 배경이 되는 기술": "background_art",
    "종래기술": "background_art",
    "발명이 속하는 기술 및 그 분야의 종래기술": "background_art",
    "발명의 내용": "summary_of_invention",
    "발명의 목적": "summary_of_invention",
    "해결하고자 하는 과제": "tech_problem",
    "해결하려는 과제": "tech_problem",
    "발명이 이루고자 하는 기술적 과제": "tech_problem",
    "과제의 해결 수단": "tech_solution",
    "과제 해결 수단": "tech_solution",
    "발명의 효과": "advantageous_effects",
    "도면의 간단한 설명": "description_of_drawings",
    "발명을 실시하기 위한 구체적인 내용": "description_of_embodiments",
    "발명의 실시를 위한 구체적인 내용": "description_of_embodiments",
    "발명의 실시를 위한 형태": "description_of_embodiments",
    "발명의 실시를 위한 최선의 형태": "description_of_embodiments",
    "발명의 구성": "description_of_embodiments",
    "발명의 구성 및 작용": "description_of_embodiments",
    "실시예": "description_of_embodiments",
    "산업상 이용가능성": "description",
    "청구범위": "claims",
    "특허청구범위": "claims",
    "특허청구의 범위": "claims",
    "요약서": "abstract",
    "요약": "abstract",
}
# Bibliographic headers: their bodies are skipped (some feed doc_id/cpc).
TEXT_BIBLIO_HEADERS: frozenset[str] = frozenset(
    {
        "서류명",
        "권리구분",
        "수신처",
        "제출일자",
        "참조번호",
        "발명자",
        "출원인",
        "대리인",
        "성명",
        "명칭",
        "성명의 국문표기",
        "성명의 영문표기",
        "특허고객번호",
        "대리인코드",
        "주소",
        "우편번호",
        "국적",
        "출원번호",
        "출원일자",
        "공개번호",
        "공개일자",
        "등록번호",
        "등록일자",
        "공고번호",
        "공고일자",
        "국제출원번호",
        "국제출원일자",
        "국제공개번호",
        "국제공개일자",
        "원출원번호",
        "원출원일자",
        "우선권주장",
        "우선권주장번호",
        "우선권주장일자",
        "출원국명",
        "국제특허분류",
        "IPC",
        "CPC",
        "CPC특허분류",
        "심사청구",
        "심사청구일자",
        "취지",
        "수수료",
        "기본출원료",
        "가산출원료",
        "우선권주장료",
        "심사청구료",
        "합계",
        "첨부서류",
        "청구항수",
        "전체 청구항 수",
        "발명의 국문명칭",
        "발명의 영문명칭",
        "법정대리인",
        "출원인코드",
        "기술이전희망",
        "기술이전 희망",
        "공지예외적용대상증명서류의 내용",
        "색인어",
    }
)
# Headers whose whole section is dropped (not prose, or bibliographic).
TEXT_DROP_SECTION_HEADERS: frozenset[str] = frozenset(
    {
        "부호의 설명",
        "선행기술문헌",
        "특허문헌",
        "비특허문헌",
        "대표도",
        "도면",
        "서열목록",
        "서열목록 전자파일",
    }
)
# Object labels inside the description ('【표 1】', '【수학식 2】'...): their
# body (the table/formula) is dropped up to the next paragraph number.
TEXT_OBJECT_HEADER_RE = re.compile(r"^(?:표|수학식|화학식|반응식|수식|도|그림|구조식)\s*\d+[a-zA-Z]?$")
# Sub-headings inside a section ('【실시예 1】'): label dropped, section kept.
TEXT_SUBHEADING_RE = re.compile(r"^(?:실시예|비교예|제조예|실험예|합성예|시험예|평가예)\s*\d+")
# Doc id / classification from bibliographic headers, in order of preference.
TEXT_ID_HEADERS: tuple[str, ...] = ("공개번호", "등록번호", "출원번호")
TEXT_CPC_HEADERS: tuple[str, ...] = ("CPC", "CPC특허분류")
TEXT_IPC_HEADERS: tuple[str, ...] = ("국제특허분류", "IPC")
# Bibliographic title, read only when there is no 【발명의 명칭】 section.
TEXT_TITLE_HEADERS: tuple[str, ...] = ("발명의 국문명칭",)

_TEXT_HEADER_RE = re.compile(r"【([^【】\n]{1,80})】")
_PARA_NUM_RE = re.compile(r"^\d{1,5}[a-zA-Z]?$")
_CLAIM_HEADER_RE = re.compile(r"^청구항\s*\d+$")
_BLANK_LINE_RE = re.compile(r"\n[ \t\r\f\v]*\n")


def _hkey(header: str) -> str:
    """Lookup key of a 【】 header: whitespace removed, ASCII upper-cased."""
    return re.sub(r"\s+", "", header).upper()


_TEXT_SECTIONS_K = {_hkey(k): v for k, v in TEXT_SECTION_HEADERS.items()}
_TEXT_BIBLIO_K = {_hkey(k) for k in TEXT_BIBLIO_HEADERS}


def parse_sectioned_text(text: str, source: str, fallback_id: str) -> Publication:
    """Parse a Korean e-filing text dump with 【...】 headers.

    In: the decoded text (see `decode_bytes`), its source path and the id to
    use when no 【공개번호】/【등록번호】/【출원번호】 header is present.
    Out: a Publication; one Paragraph per non-empty block, where blocks are
    separated by headers, paragraph numbers such as 【0001】 (removed) and blank
    lines; each 【청구항 N】 starts one claim paragraph that runs to the next
    header (blank lines inside a claim do not split it). A header with no
    body yields nothing. Header matching ignores whitespace.

    The first paragraph is the Korean title: the 【발명의 명칭】 body (else the
    bibliographic 【발명의 국문명칭】) through `korean_title`, which cuts a
    trailing '{ENGLISH}' or '(ENGLISH)' title.

    Rules for headers:
    * TEXT_SECTION_HEADERS switch the section;
    * TEXT_BIBLIO_HEADERS are skipped with their bodies until the next section
      header; 【공개번호】 (else 【등록번호】, 【출원번호】) gives doc_id and 【CPC】
      (else 【국제특허분류】) gives cpc_section;
    * TEXT_DROP_SECTION_HEADERS (부호의 설명, 선행기술문헌, 대표도, 도면, ...) are
      skipped with their bodies until the next section header;
    * object labels (【표 1】, 【수학식 1】, ...): in the description their body
      (the table / formula) is dropped up to the next paragraph number; inside
      a claim only the label is removed and the claim continues;
    * sub-headings (【실시예 1】) are dropped, text continues in the section;
    * any other header is skipped with its body up to the next known header
      (section headers are an allow-list: 【발명자의 주소】 or a header new to
      us never becomes text).
    Text before the first header is front matter and skipped, unless the text
    has no 【...】 header at all, in which case all of it is 'description'.

    Raises InputRejected('no_text') when no prose paragraph results.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    paragraphs: list[Paragraph] = []
    titles = Titles()
    matches = list(_TEXT_HEADER_RE.finditer(text))
    if not matches:
        for block in _BLANK_LINE_RE.split(text):
            _emit(paragraphs, "description", block)
        _require_prose(paragraphs, source)
        return Publication(fallback_id, source, tuple(paragraphs), None)

    biblio: dict[str, str] = {}
    section: str | None = None  # None: skipping (front matter, biblio, dropped part)
    skip_object = False
    biblio_key: str | None = None
    claim_buf: list[str] | None = None

    def flush_claim() -> None:
        nonlocal claim_buf
        if claim_buf is not None:
            t = "".join(claim_buf).strip()
            if t not in DELETED_CLAIM_TEXTS:
                _emit(paragraphs, "claims", t)
            claim_buf = None

    for i, m in enumerate(matches):
        key = _hkey(m.group(1))
        if _PARA_NUM_RE.match(key):
            flush_claim()
            skip_object = False
            biblio_key = None
        elif TEXT_OBJECT_HEADER_RE.match(key):
            if claim_buf is None:
                skip_object = True
        elif TEXT_SUBHEADING_RE.match(key):
            pass
        else:
            flush_claim()
            biblio_key = None
            skip_object = False
            if _CLAIM_HEADER_RE.match(key):
                section = "claims"
                claim_buf = []
            elif key in _TEXT_SECTIONS_K:
                section = _TEXT_SECTIONS_K[key]
            elif key in _TEXT_BIBLIO_K:
                section, biblio_key = None, key
            else:  # dropped sections, and unknown headers (an allow-list: 【발명자의 주소】)
                section = None

        body = text[m.end() : matches[i + 1].start() if i + 1 < len(matches) else len(text)]
        if biblio_key is not None:
            if body.strip() and biblio_key not in biblio:
                biblio[biblio_key] = body.strip()
        elif claim_buf is not None:
            claim_buf.append(body)
        elif section is None or skip_object:
            pass
        elif section == "title":
            titles.add(body)
        else:
            for block in _BLANK_LINE_RE.split(body):
                _emit(paragraphs, section, block)
    flush_claim()

    doc_id = next(
        (biblio[_hkey(h)].splitlines()[0].strip() for h in TEXT_ID_HEADERS if _hkey(h) in biblio),
        fallback_id,
    )
    if not titles:
        for h in TEXT_TITLE_HEADERS:
            titles.add(biblio.get(_hkey(h), ""))

    def codes(headers: Sequence[str]) -> list[str]:
        out: list[str] = []
        for h in headers:
            out.extend(re.split(r"[;,\n]", biblio.get(_hkey(h), "")))
        return out

    _require_prose(paragraphs, source)
    return Publication(
        doc_id=doc_id,
        source=source,
        paragraphs=(*titles.paragraphs, *paragraphs),
        cpc_section=cpc_section_of(codes(TEXT_CPC_HEADERS)) or cpc_section_of(codes(TEXT_IPC_HEADERS)),
        title_outcomes=tuple(titles.outcomes),
    )
