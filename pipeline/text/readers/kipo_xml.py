"""KIPO XML publication bytes -> `Publication`.

`parse_kipo_xml(data, source, fallback_id)` decodes the bytes (see
encoding.py), refuses any entity declaration before parsing, and walks the
<KIPO> tree: description, claims and abstract paragraphs become `Paragraph`s
in document order; bibliographic data gives only the doc id and CPC section.
Rejects: xml_entities_forbidden, malformed_xml, wrong_root, no_text.
"""

from __future__ import annotations

import html.entities
import re
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ExpatError

import defusedxml
import defusedxml.ElementTree as defused_et

from pipeline.text.publication import InputRejected, Paragraph, Publication
from pipeline.text.readers.common import (
    DELETED_CLAIM_TEXTS,
    _detail,
    _emit,
    _require_prose,
    cpc_section_of,
    split_title,
)
from pipeline.text.readers.encoding import decode_bytes, maybe_gunzip

# Description/claims/abstract element -> canonical section. The innermost
# mapped ancestor of a <p> decides its section.
KIPO_SECTION_TAGS: dict[str, str] = {
    "invention-title": "title",
    "technical-field": "technical_field",
    "background-art": "background_art",
    "summary-of-invention": "summary_of_invention",
    "disclosure": "summary_of_invention",
    "tech-problem": "tech_problem",
    "tech-solution": "tech_solution",
    "advantageous-effects": "advantageous_effects",
    "description-of-drawings": "description_of_drawings",
    "description-of-embodiments": "description_of_embodiments",
    "mode-for-invention": "description_of_embodiments",
    "best-mode": "description_of_embodiments",
    "embodiments-example": "description_of_embodiments",
    "industrial-applicability": "description",
    "description": "description",
    "claims": "claims",
    "abstract": "abstract",
}
# Elements dropped with everything inside them (not prose): tables, formulas,
# images, citation lists (bibliographic), reference-sign lists, sequences.
KIPO_DROP_TAGS: frozenset[str] = frozenset(
    {
        "tables",
        "table",
        "maths",
        "math",
        "chemistry",
        "chem",
        "img",
        "drawings",
        "figure",
        "abstract-figure",
        "citation-list",
        "patent-literature",
        "non-patent-literature",
        "reference-signs-list",
        "sequence-list-text",
        "sequence-list",
    }
)
KIPO_LINE_BREAK_TAGS: frozenset[str] = frozenset({"br"})
# Inline markup whose text stays in place when it appears loose in a section.
KIPO_INLINE_TAGS: frozenset[str] = frozenset(
    {"sub", "sup", "b", "i", "u", "o", "smallcaps", "figref", "patcit", "nplcit", "crossref", "span"}
)
# Top-level parts of <PatentCAFDOC> that hold prose; everything else is ignored.
KIPO_PROSE_PARTS: tuple[str, ...] = ("description", "claims", "abstract")
# Bibliographic elements giving the doc id, in order of preference.
KIPO_ID_TAGS: tuple[str, ...] = (
    "KR_OpenNumber",
    "KR_PublicationNumber",
    "KR_RegisterNumber",
    "KR_RegistrationNumber",
    "KR_ApplicationNumber",
)
KIPO_CPC_TAGS: tuple[str, ...] = ("KR_CPCInformation",)
KIPO_IPC_TAGS: tuple[str, ...] = ("KR_IPCInformation",)

_XML_DECL_RE = re.compile(r"^\s*<\?xml\b.*?\?>", re.DOTALL)
# Characters XML 1.0 forbids anywhere (C0 controls but tab, LF, CR; U+FFFE/F).
# A stray NUL or ESC in a paragraph would make expat reject the whole file;
# they become spaces, as `clean` turns every other control character into one.
_XML_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Character entity names a KIPO DTD may rely on; resolved to single
# characters from a fixed table (the DTD itself is never read).
_CHAR_ENTITIES = {k.rstrip(";"): v for k, v in html.entities.html5.items() if k.endswith(";")}


def _local(tag: Any) -> str | None:
    if not isinstance(tag, str):
        return None  # comments / processing instructions
    return tag.rsplit("}", 1)[-1]


def _inline_text(elem: Element) -> str:
    """Text of an element with nested inline markup kept in place (tails included)."""
    parts = [elem.text or ""]
    for child in elem:
        name = _local(child.tag)
        if name in KIPO_LINE_BREAK_TAGS:
            parts.append("\n")
        elif name is not None and name not in KIPO_DROP_TAGS:
            parts.append(_inline_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def _is_english(elem: Element) -> bool:
    lang = next((v for k, v in elem.attrib.items() if _local(k) == "lang"), "")
    return lang.strip().lower().startswith("en")


def _collect_blocks(elem: Element, section: str, out: list[Paragraph]) -> None:
    """Paragraphs of a container element: one per <p>, plus loose text runs."""
    pending: list[str] = [elem.text or ""]

    def flush() -> None:
        _emit(out, section, "".join(pending))
        pending.clear()

    for child in elem:
        name = _local(child.tag)
        if name is None:
            pass
        elif name == "p":
            flush()
            _emit(out, section, _inline_text(child))
        elif name == "invention-title":
            flush()
            # Several titles (lang="ko" / lang="en"): keep the non-English ones.
            if not _is_english(child) or all(
                _is_english(t) for t in elem if _local(t.tag) == "invention-title"
            ):
                _emit(out, "title", split_title(_inline_text(child)))
        elif name == "claim":
            flush()
            _emit_claim(child, out)
        elif name in KIPO_DROP_TAGS:
            flush()
        elif name in KIPO_LINE_BREAK_TAGS:
            pending.append("\n")
        elif name in KIPO_INLINE_TAGS:
            pending.append(_inline_text(child))
        else:
            flush()
            _collect_blocks(child, KIPO_SECTION_TAGS.get(name, section), out)
        pending.append(child.tail or "")
    flush()


def _emit_claim(claim: Element, out: list[Paragraph]) -> None:
    texts = [_inline_text(c).strip() for c in claim if _local(c.tag) == "claim-text"]
    text = "\n".join(t for t in texts if t) if texts else _inline_text(claim).strip()
    if text and text not in DELETED_CLAIM_TEXTS:
        out.append(Paragraph("claims", text))


def _first_text(elem: Element) -> str:
    value = elem.get("value")
    if value and value.strip():
        return value.strip()
    return "".join(elem.itertext()).strip()


def _classification_codes(elem: Element) -> list[str]:
    codes = []
    for e in elem.iter():
        if e is elem:
            continue
        if list(e):
            continue  # container; its leaves are visited
        v = _first_text(e)
        if v:
            codes.extend(c for c in re.split(r"[;,\n]", v) if c.strip())
    if not codes:
        codes = [c for c in re.split(r"[;,\n]", _first_text(elem)) if c.strip()]
    return codes


def parse_kipo_xml(data: bytes, source: str, fallback_id: str) -> Publication:
    """Parse one KIPO e-filing/publication XML file.

    In: the file's bytes (gzip is decompressed first; any encoding that
    `decode_bytes` reads), its source path, and the id to use when the file
    carries no bibliographic number (usually the file stem).
    Out: a Publication with one Paragraph per <p> of description and abstract,
    one per <claim> and one for the title, in document order.

    Parsing uses defusedxml with DTDs allowed but entity declarations and
    external references forbidden; a DOCTYPE naming an external DTD parses
    and the DTD is never fetched. Control characters that XML forbids (NUL,
    ESC, ...) become spaces before parsing instead of failing the file.
    Inline markup (<sub>, <sup>, <figref>...) keeps its text in place, <br/>
    becomes '\n'; <tables>, <maths>, <chemistry>, images, citation lists and
    reference-sign lists are dropped.
    Only <description>, <claims> and <abstract> of <PatentCAFDOC> (or of the
    root when there is no PatentCAFDOC) are read: bibliographic elements are
    used for doc_id (KIPO_ID_TAGS) and cpc_section (CPC, else IPC codes) only.

    Raises InputRejected: empty_file / binary_file / undecodable (decoding),
    malformed_gzip, xml_entities_forbidden, malformed_xml (includes truncated
    files), wrong_root (root element not KIPO), no_text.
    """
    data = maybe_gunzip(data)
    try:
        text = decode_bytes(data)
    except InputRejected as exc:
        raise InputRejected(exc.reason, _detail(source, exc.detail)) from None
    # The text is already decoded: drop the declaration so that its encoding
    # label cannot conflict with the UTF-8 bytes handed to expat.
    body = _XML_DECL_RE.sub("", text, count=1)
    body = _XML_INVALID_CHARS.sub(" ", body).encode("utf-8")
    parser = defused_et.XMLParser(forbid_dtd=False, forbid_entities=True, forbid_external=True)
    parser.entity.update(_CHAR_ENTITIES)
    try:
        parser.feed(body)
        root = parser.close()
    except defusedxml.DefusedXmlException as exc:
        raise InputRejected("xml_entities_forbidden", _detail(source, repr(exc))) from None
    except (ParseError, ExpatError) as exc:
        raise InputRejected("malformed_xml", _detail(source, str(exc))) from None
    except ValueError as exc:  # e.g. an encoding expat cannot handle
        raise InputRejected("malformed_xml", _detail(source, str(exc))) from None

    root_name = _local(root.tag)
    if root_name != "KIPO":
        raise InputRejected("wrong_root", _detail(source, f"root element is <{root_name}>, not <KIPO>"))

    caf = next((e for e in root.iter() if _local(e.tag) == "PatentCAFDOC"), root)
    paragraphs: list[Paragraph] = []
    for part in caf:
        name = _local(part.tag)
        if name in KIPO_PROSE_PARTS:
            _collect_blocks(part, KIPO_SECTION_TAGS[name], paragraphs)

    ids: dict[str, str] = {}
    cpc: list[str] = []
    ipc: list[str] = []
    for e in root.iter():
        name = _local(e.tag)
        if name in KIPO_ID_TAGS and name not in ids:
            v = _first_text(e)
            if v:
                ids[name] = v
        elif name in KIPO_CPC_TAGS and not cpc:
            cpc = _classification_codes(e)
        elif name in KIPO_IPC_TAGS and not ipc:
            ipc = _classification_codes(e)
    doc_id = next((ids[t] for t in KIPO_ID_TAGS if t in ids), fallback_id)

    _require_prose(paragraphs, source)
    return Publication(
        doc_id=doc_id,
        source=source,
        paragraphs=tuple(paragraphs),
        cpc_section=cpc_section_of(cpc) or cpc_section_of(ipc),
    )
