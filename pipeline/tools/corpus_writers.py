"""Corpus writers: source records (JSONL schema) -> KIPO XML, 【】 text, JSONL, Parquet.

The demo corpus (scripts/build_demo_corpus.py), the synthetic corpus
(`pipeline.tools.synthetic_corpus`) and the bad-input corpus
(`pipeline.tools.bad_inputs`) write publications with these functions:
`render_kipo_xml(rec, encoding, with_table)` -> XML file bytes,
`render_sectioned_text(rec)` -> text, `render_jsonl_line(rec)` -> one JSONL
line, `render_parquet(records)` -> Parquet file bytes, plus the record helpers
they use (`record_description`, `record_texts`, `record_codes`,
`figure_numbers`). `pipeline.text.readers` parses their output back to the
same paragraphs (up to '\n' from <br/> between figure sentences).
`load_sources(dir)` reads and validates the demo's JSONL source records that
the demo corpus and the CPC sentences start from.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from pipeline.text.readers import DELETED_CLAIM_TEXTS, InputRejected, canonical_record_section, parse_record

# Description sections in the order a KIPO publication writes them.
_WRITER_DESCRIPTION_SECTIONS = (
    "description",
    "technical_field",
    "background_art",
    "summary_of_invention",
    "tech_problem",
    "tech_solution",
    "advantageous_effects",
    "description_of_drawings",
    "description_of_embodiments",
)
_SUMMARY_SUBSECTIONS = ("tech_problem", "tech_solution", "advantageous_effects")
_KIPO_TAG_OF = {
    "technical_field": "technical-field",
    "background_art": "background-art",
    "summary_of_invention": "summary-of-invention",
    "tech_problem": "tech-problem",
    "tech_solution": "tech-solution",
    "advantageous_effects": "advantageous-effects",
    "description_of_drawings": "description-of-drawings",
    "description_of_embodiments": "description-of-embodiments",
}
_TEXT_HEADER_OF = {
    "description": "발명의 설명",
    "technical_field": "기술분야",
    "background_art": "배경기술",
    "summary_of_invention": "발명의 내용",
    "tech_problem": "해결하려는 과제",
    "tech_solution": "과제의 해결 수단",
    "advantageous_effects": "발명의 효과",
    "description_of_drawings": "도면의 간단한 설명",
    "description_of_embodiments": "발명을 실시하기 위한 구체적인 내용",
}
KIPO_DOCTYPE = '<!DOCTYPE KIPO PUBLIC "-//KIPO//DTD Patent Publication 1.0//KO" "kipo-publication.dtd">'

# Element symbols for <sub> markup of formulas such as SiO2, Al2O3, TiO2.
_ELEMENTS = sorted(
    re.findall(
        r"[A-Z][a-z]?",
        "HHeLiBeBCNOFNaMgAlSiPSClKCaTiVCrMnFeCoNiCuZnGaGeAsSeBrSrYZrNbMoRuRhPdAgCdInSnSbTeIBaLaCeNdHfTaWIrPtAuHgPbBi",
    ),
    key=len,
    reverse=True,
)
_EL = "(?:" + "|".join(_ELEMENTS) + ")"
_FORMULA_RE = re.compile(rf"(?<![A-Za-z0-9])(?:{_EL}(?:[1-9]\d?)?){{2,}}(?![A-Za-z0-9])")
_SUB_RE = re.compile(r"([A-Z][a-z]?)([1-9]\d?)")
_FIG_RE = re.compile(r"(?<![가-힣A-Za-z0-9])도 ?(\d+)(?![0-9])")
# Where a drawings paragraph starts describing another figure: '..이다. 도 2는', '..이고, 도 3은'.
_NEXT_FIGURE_RE = re.compile(r"(?<=[.,]) +(?=도 ?\d+[a-z]?(?:은|는|이|가) )")


def _str_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)]


def record_codes(value: Any) -> list[str]:
    """cpc/ipc value (list or ';'/','-separated str) -> list of codes."""
    if isinstance(value, str):
        return [c.strip() for c in re.split(r"[;,]", value) if c.strip()]
    return [c.strip() for c in _str_list(value) if c.strip()]


def record_description(rec: Mapping) -> dict[str, list[str]]:
    """A record's description keyed by canonical section, in canonical order; empty texts dropped."""
    merged: dict[str, list[str]] = {}
    desc = rec.get("description") or {}
    if isinstance(desc, (str, list, tuple)):
        desc = {"description": desc}
    if isinstance(desc, Mapping):
        for key, value in desc.items():
            section = canonical_record_section(key)
            if section is not None:
                merged.setdefault(section, []).extend(t for t in _str_list(value) if t.strip())
    return {s: merged[s] for s in _WRITER_DESCRIPTION_SECTIONS if merged.get(s)}


def record_texts(rec: Mapping, key: str) -> list[str]:
    """Non-empty texts of a record's str-or-list field (title, abstract, claims)."""
    return [t for t in _str_list(rec.get(key)) if t.strip()]


def _record_claims(rec: Mapping) -> list[str]:
    return [t for t in record_texts(rec, "claims") if t.strip() not in DELETED_CLAIM_TEXTS]


def figure_numbers(rec: Mapping) -> list[int]:
    """Figure numbers mentioned ('도 N') in a record's description of drawings."""
    text = " ".join(record_description(rec).get("description_of_drawings", []))
    return sorted({int(n) for n in _FIG_RE.findall(text)})


def _markup(text: str, section: str) -> str:
    """Paragraph text -> KIPO inline markup (escape, <br/>, <figref>, <sub>)."""
    t = escape(text.strip()).replace("\r\n", "\n")
    if section == "description_of_drawings":
        t = _NEXT_FIGURE_RE.sub("\n", t)
    t = _FIG_RE.sub(lambda m: f'<figref num="{m.group(1)}">{m.group(0)}</figref>', t)
    t = _FORMULA_RE.sub(
        lambda m: _SUB_RE.sub(r"\1<sub>\2</sub>", m.group(0)) if re.search(r"\d", m.group(0)) else m.group(0),
        t,
    )
    return t.replace("\n", "<br/>")


def _table_block(num: str) -> str:
    rows = [("구분", "측정값"), ("시료 A", "12.5"), ("시료 B", "9.8")]
    body = "".join("<row>" + "".join(f"<entry>{escape(c)}</entry>" for c in row) + "</row>" for row in rows)
    return (
        f'<p num="{num}"><tables num="1"><table><tgroup cols="2"><tbody>{body}'
        "</tbody></tgroup></table></tables></p>"
    )


def render_kipo_xml(rec: Mapping, encoding: str = "utf-8", with_table: bool = False) -> bytes:
    """A source record (JSONL schema, see parse_record) -> KIPO XML file bytes.

    Layout: XML declaration naming `encoding`, KIPO_DOCTYPE, then
    <KIPO><KR_BibliographicInformation> (KR_DocumentType, KR_OpenNumber = id,
    KR_OpenDate, KR_ApplicationInformation/KR_ApplicationNumber and
    KR_ApplicationDate, KR_IPCInformation/KR_MainClassification|
    KR_FurtherClassification value=..., KR_CPCInformation/KR_CPCClassification
    value=..., KR_ApplicantInformation/KR_Applicant/KR_Name,
    KR_InventorInformation/KR_Inventor/KR_Name, KR_AgentInformation/KR_Agent/
    KR_Name; absent values are left out) and <PatentCAFDOC> with description
    (<p num="0001"> numbered through the description), claims, abstract
    (<p num="0001a">) and drawings. Inline markup: '\n' -> <br/>, a <br/>
    between figure sentences of the description of drawings, <figref> around
    '도 N', <sub> around formula digits (SiO2 -> SiO<sub>2</sub>); with_table
    adds a <tables> block after the first embodiment paragraph.
    Raises UnicodeEncodeError when the text is not encodable in `encoding`.
    """
    label = {"utf_8": "UTF-8", "euc_kr": "EUC-KR", "cp949": "CP949"}.get(
        codecs.lookup(encoding).name.replace("-", "_"), encoding.upper()
    )
    return _kipo_xml_text(rec, label, with_table).encode(encoding)


def _kipo_xml_text(rec: Mapping, encoding_label: str, with_table: bool) -> str:
    out: list[str] = [f'<?xml version="1.0" encoding="{encoding_label}"?>', KIPO_DOCTYPE, "<KIPO>"]

    def el(indent: int, tag: str, value) -> None:
        if value:
            out.append(" " * indent + f"<{tag}>{escape(str(value))}</{tag}>")

    def date(value) -> str:
        return re.sub(r"\D", "", str(value)) if value else ""

    out.append("  <KR_BibliographicInformation>")
    el(4, "KR_DocumentType", "공개특허공보(A)")
    el(4, "KR_OpenNumber", rec["id"])
    el(4, "KR_OpenDate", date(rec.get("publication_date")))
    out.append("    <KR_ApplicationInformation>")
    el(6, "KR_ApplicationNumber", rec.get("application_number"))
    el(6, "KR_ApplicationDate", date(rec.get("filing_date")))
    out.append("    </KR_ApplicationInformation>")
    for info, first, other, codes in (
        (
            "KR_IPCInformation",
            "KR_MainClassification",
            "KR_FurtherClassification",
            record_codes(rec.get("ipc")),
        ),
        ("KR_CPCInformation", "KR_CPCClassification", "KR_CPCClassification", record_codes(rec.get("cpc"))),
    ):
        if codes:
            out.append(f"    <{info}>")
            for i, code in enumerate(codes):
                out.append(f"      <{first if i == 0 else other} value={quoteattr(code)}/>")
            out.append(f"    </{info}>")
    for info, person, names in (
        ("KR_ApplicantInformation", "KR_Applicant", _str_list(rec.get("applicant"))),
        ("KR_InventorInformation", "KR_Inventor", _str_list(rec.get("inventors"))),
        ("KR_AgentInformation", "KR_Agent", _str_list(rec.get("agent"))),
    ):
        if names:
            out.append(f"    <{info}>")
            for name in names:
                out.append(f"      <{person}><KR_Name>{escape(name)}</KR_Name></{person}>")
            out.append(f"    </{info}>")
    out.append("  </KR_BibliographicInformation>")

    out.append("  <PatentCAFDOC>")
    out.append("    <description>")
    title = next(iter(record_texts(rec, "title")), "").strip()
    if title:
        out.append(f"      <invention-title>{escape(title)}</invention-title>")
    desc = record_description(rec)
    counter = 0

    def paras(indent: int, section: str) -> None:
        nonlocal counter
        for text in desc.get(section, []):
            counter += 1
            out.append(" " * indent + f'<p num="{counter:04d}">{_markup(text, section)}</p>')

    paras(6, "description")
    for section in _WRITER_DESCRIPTION_SECTIONS:
        if section == "description" or section in _SUMMARY_SUBSECTIONS:
            continue
        if section == "summary_of_invention":
            if not any(s in desc for s in ("summary_of_invention", *_SUMMARY_SUBSECTIONS)):
                continue
            out.append("      <summary-of-invention>")
            paras(8, "summary_of_invention")
            for sub in _SUMMARY_SUBSECTIONS:
                if sub in desc:
                    out.append(f"        <{_KIPO_TAG_OF[sub]}>")
                    paras(10, sub)
                    out.append(f"        </{_KIPO_TAG_OF[sub]}>")
            out.append("      </summary-of-invention>")
            continue
        if section not in desc:
            continue
        tag = _KIPO_TAG_OF[section]
        out.append(f"      <{tag}>")
        if section == "description_of_embodiments" and with_table:
            texts = desc[section]
            counter += 1
            out.append(f'        <p num="{counter:04d}">{_markup(texts[0], section)}</p>')
            counter += 1
            out.append("        " + _table_block(f"{counter:04d}"))
            for text in texts[1:]:
                counter += 1
                out.append(f'        <p num="{counter:04d}">{_markup(text, section)}</p>')
        else:
            paras(8, section)
        out.append(f"      </{tag}>")
    out.append("    </description>")

    claims = _record_claims(rec)
    if claims:
        out.append("    <claims>")
        for i, text in enumerate(claims, 1):
            out.append(f'      <claim num="{i}"><claim-text>{_markup(text, "claims")}</claim-text></claim>')
        out.append("    </claims>")
    figures = figure_numbers(rec)
    abstract = record_texts(rec, "abstract")
    if abstract:
        out.append("    <abstract>")
        out.append("      <summary>")
        for i, text in enumerate(abstract, 1):
            out.append(f'        <p num="{i:04d}a">{_markup(text, "abstract")}</p>')
        out.append("      </summary>")
        if figures:
            out.append(f'      <abstract-figure><figref num="{figures[0]}"/></abstract-figure>')
        out.append("    </abstract>")
    if figures:
        out.append("    <drawings>")
        for n in figures:
            out.append(
                f'      <figure num="{n}"><img he="80" wi="120" file="pat{n:05d}.tif" '
                'img-format="tif"/></figure>'
            )
        out.append("    </drawings>")
    out.append("  </PatentCAFDOC>")
    out.append("</KIPO>")
    return "\n".join(out) + "\n"


def render_sectioned_text(rec: Mapping) -> str:
    """A source record -> 【】 sectioned text (what parse_sectioned_text reads).

    Bibliographic headers first (【공개번호】 = id, 【공개일자】, 【출원번호】,
    【출원일자】, 【출원인】, 【발명자】, 【대리인】, 【국제특허분류】, 【CPC】), then
    【발명의 설명】, 【발명의 명칭】, the description sections with running
    paragraph numbers 【0001】, 【청구범위】 with 【청구항 N】, 【요약서】/【요약】
    and 【대표도】. Blank lines inside a paragraph are collapsed so that each
    source paragraph stays one paragraph.
    """
    out: list[str] = []

    def header(name: str, value="") -> None:
        out.append(f"【{name}】" + (f" {value}" if value else ""))

    def one_para(text: str) -> str:
        text = re.sub(r"\n\s*\n", "\n", text.strip())
        return text.replace("【", "[").replace("】", "]")

    header("공개번호", rec["id"])
    for name, key in (
        ("공개일자", "publication_date"),
        ("출원번호", "application_number"),
        ("출원일자", "filing_date"),
    ):
        if rec.get(key):
            header(name, rec[key])
    for name, key in (("출원인", "applicant"), ("발명자", "inventors"), ("대리인", "agent")):
        if _str_list(rec.get(key)):
            header(name, ", ".join(_str_list(rec.get(key))))
    if record_codes(rec.get("ipc")):
        header("국제특허분류", ", ".join(record_codes(rec.get("ipc"))))
    if record_codes(rec.get("cpc")):
        header("CPC", ", ".join(record_codes(rec.get("cpc"))))
    out.append("")

    desc = record_description(rec)
    counter = 0

    def paras(section: str) -> None:
        nonlocal counter
        for text in desc.get(section, []):
            counter += 1
            out.append(f"【{counter:04d}】")
            out.append(one_para(text))

    header("발명의 설명")
    paras("description")
    title = next(iter(record_texts(rec, "title")), "").strip()
    if title:
        header("발명의 명칭")
        out.append(one_para(title))
    for section in _WRITER_DESCRIPTION_SECTIONS:
        if section == "description":
            continue
        if section == "summary_of_invention":
            if any(s in desc for s in ("summary_of_invention", *_SUMMARY_SUBSECTIONS)):
                header(_TEXT_HEADER_OF[section])
                paras(section)
            continue
        if section in desc:
            header(_TEXT_HEADER_OF[section])
            paras(section)
    claims = _record_claims(rec)
    if claims:
        out.append("")
        header("청구범위")
        for i, text in enumerate(claims, 1):
            header(f"청구항 {i}")
            out.append(one_para(text))
    abstract = record_texts(rec, "abstract")
    if abstract:
        out.append("")
        header("요약서")
        header("요약")
        out.append("\n\n".join(one_para(t) for t in abstract))
        figures = figure_numbers(rec)
        if figures:
            header("대표도")
            out.append(f"도 {figures[0]}")
    return "\n".join(out) + "\n"


def render_jsonl_line(rec: Mapping) -> str:
    """A source record -> one JSONL line (UTF-8 text kept as is, '\n' ended)."""
    return json.dumps(rec, ensure_ascii=False) + "\n"


def render_parquet(records: Sequence[Mapping]) -> bytes:
    """Parquet file of records: list<string> abstract/claims/cpc/ipc,
    map<string, list<string>> description, plus two bibliographic columns the
    reader ignores."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema(
        [
            ("id", pa.string()),
            ("title", pa.string()),
            ("cpc", pa.list_(pa.string())),
            ("ipc", pa.list_(pa.string())),
            ("application_number", pa.string()),
            ("applicant", pa.string()),
            ("abstract", pa.list_(pa.string())),
            ("claims", pa.list_(pa.string())),
            ("description", pa.map_(pa.string(), pa.list_(pa.string()))),
        ]
    )
    rows = [
        {
            "id": r["id"],
            "title": r.get("title"),
            "cpc": record_codes(r.get("cpc")),
            "ipc": record_codes(r.get("ipc")),
            "application_number": str(r["application_number"]) if r.get("application_number") else None,
            "applicant": "; ".join(record_texts(r, "applicant")) or None,
            "abstract": record_texts(r, "abstract"),
            "claims": record_texts(r, "claims"),
            "description": list(record_description(r).items()),
        }
        for r in records
    ]
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), buf, compression="snappy")
    return buf.getvalue()


# --------------------------------------------------------------------------
# Sources: the demo's JSONL records the writers start from
# --------------------------------------------------------------------------


def load_sources(source_dir: Path) -> list[dict]:
    """All source records (validated with readers.parse_record), sorted by id."""
    records: dict[str, dict] = {}
    files = sorted(source_dir.glob("*.jsonl"))
    if not files:
        raise SystemExit(f"no *.jsonl sources under {source_dir}")
    for path in files:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                rec = json.loads(line)
                parse_record(rec, where)
            except (json.JSONDecodeError, InputRejected) as exc:
                raise SystemExit(f"bad source record {where}: {exc}") from None
            rid = str(rec["id"]).strip()
            rec["id"] = rid
            if rid in records:
                raise SystemExit(f"duplicate id {rid} in {where}")
            records[rid] = rec
    return [records[k] for k in sorted(records)]
