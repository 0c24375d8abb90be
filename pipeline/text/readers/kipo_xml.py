"""KIPO XML publication bytes -> `Publication`.

`parse_kipo_xml(data, source, fallback_id)` decodes the bytes (see
encoding.py), refuses any entity declaration before parsing, and walks the
<KIPO> tree: the Korean title first (`korean_title`), then description, claims
and abstract paragraphs as `Paragraph`s in document order; bibliographic data
gives only the doc id, the CPC section and, when the description has no
<invention-title>, the title (KR_InventionTitle).
Rejects: xml_entities_forbidden, malformed_xml, wrong_root, no_text.
"""

from __future__ import annotations

import html.entities
import re
from collections.abc import Iterator
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ExpatError

import defusedxml
import defusedxml.ElementTree as defused_et

from pipeline.text.publication import InputRejected, Paragraph, Publication
from pipeline.text.readers.common import (
    DELETED_CLAIM_TEXTS,
    Titles,
    _detail,
    _emit,
    _require_prose,
    cpc_section_of,
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
# Where the doc id comes from, in order of preference: bibliographic number
# elements (KIPRIS publications carry KR_OpenNumber and
# KR_ApplicationInformation/KR_ApplicationNumber), then the documentID
# attribute of <PatentCAFDOC> (e-filing XML, which has no bibliographic part:
# `<PatentCAFDOC docflag="1.0" documentID="...">`). The file name is only the
# fallback when the document names itself nowhere.
KIPO_ID_TAGS: tuple[str, ...] = (
    "KR_OpenNumber",
    "KR_PublicationNumber",
    "KR_RegisterNumber",
    "KR_RegistrationNumber",
    "KR_ApplicationNumber",
)
KIPO_ID_ATTRIBUTES: tuple[tuple[str, str], ...] = (("PatentCAFDOC", "documentID"),)
# Bibliographic title elements, read only when the description has no
# <invention-title> (an English one, lang="en", is skipped).
KIPO_TITLE_TAGS: tuple[str, ...] = ("KR_InventionTitle",)
KIPO_CPC_TAGS: tuple[str, ...] = ("KR_CPCInformation",)
KIPO_IPC_TAGS: tuple[str, ...] = ("KR_IPCInformation",)

_XML_DECL_RE = re.compile(r"^\s*<\?xml\b.*?\?>", re.DOTALL)
# Characters XML 1.0 forbids anywhere (C0 controls but tab, LF, CR; U+FFFE/F).
# A stray NUL or ESC in a paragraph would make expat reject the whole file;
# they become spaces, as `clean` turns every other control character into one.
_XML_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Numeric character references (decimal, or hex with a lower-case x as XML
# requires). One naming a character XML forbids (`&#1;`, `&#xD800;`) makes
# expat reject the whole file: the reference is dropped instead (the
# character is gone, the document stays). More than 8 digits is always
# beyond U+10FFFF; it is never converted (Python limits int() digits).
_CHAR_REF = re.compile(r"&#(?:x([0-9a-fA-F]+)|([0-9]+));")


def _xml_char_allowed(cp: int) -> bool:
    return (
        cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD or 0x10000 <= cp <= 0x10FFFF
    )


def _drop_forbidden_ref(m: re.Match) -> str:
    digits, base = (m.group(1), 16) if m.group(1) is not None else (m.group(2), 10)
    digits = digits.lstrip("0") or "0"
    if len(digits) <= 8 and _xml_char_allowed(int(digits, base)):
        return m.group(0)
    return ""


# Character entity names a KIPO DTD may rely on; resolved to single
# characters from a fixed table (the DTD itself is never read).
_CHAR_ENTITIES = {k.rstrip(";"): v for k, v in html.entities.html5.items() if k.endswith(";")}


def _local(tag: Any) -> str | None:
    if not isinstance(tag, str):
        return None  # comments / processing instructions
    return tag.rsplit("}", 1)[-1]


def _inline_text(elem: Element) -> str:
    """Text of an element with nested inline markup kept in place (tails included).

    Iterative (an explicit stack, not recursion): 3,000 nested <b> inside one
    <p> is valid XML, and must not cost the file a RecursionError.
    """
    parts = [elem.text or ""]
    stack = [(elem, iter(elem))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if stack:  # `node` was a child: its tail follows its content
                parts.append(node.tail or "")
            continue
        name = _local(child.tag)
        if name is not None and name not in KIPO_LINE_BREAK_TAGS and name not in KIPO_DROP_TAGS:
            parts.append(child.text or "")
            stack.append((child, iter(child)))
            continue
        if name in KIPO_LINE_BREAK_TAGS:
            parts.append("\n")
        parts.append(child.tail or "")
    return "".join(parts)


def _walk(elem: Element) -> Iterator[Element]:
    """`elem` and its descendants in document order, like `elem.iter()`, without
    recursion (ElementTree's Python `iter` recurses once per level)."""
    stack = [elem]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node))


def _all_text(elem: Element) -> str:
    """Like "".join(elem.itertext()) (comments skipped), without recursion."""
    parts = [elem.text or ""] if isinstance(elem.tag, str) else []
    stack = [(elem, iter(elem))]
    while stack:
        node, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if stack:
                parts.append(node.tail or "")
            continue
        if isinstance(child.tag, str):
            parts.append(child.text or "")
            stack.append((child, iter(child)))
        else:
            parts.append(child.tail or "")
    return "".join(parts)


def _is_english(elem: Element) -> bool:
    lang = next((v for k, v in elem.attrib.items() if _local(k) == "lang"), "")
    return lang.strip().lower().startswith("en")


def _collect_blocks(elem: Element, section: str, out: list[Paragraph], titles: Titles) -> None:
    """Paragraphs of a container element: one per <p>, plus loose text runs;
    <invention-title> goes to `titles`.

    Unknown elements are containers too (their section is the nearest mapped
    ancestor's); they are walked with an explicit stack, so any nesting depth
    parses. A frame is (element, section, its children, its pending text).
    """
    stack = [(elem, section, iter(elem), [elem.text or ""])]
    while stack:
        node, sec, children, pending = stack[-1]
        child = next(children, None)
        if child is None:
            _emit(out, sec, "".join(pending))
            stack.pop()
            if stack:
                stack[-1][3].append(node.tail or "")
            continue
        name = _local(child.tag)
        if name is None:
            pass
        elif name == "p":
            _emit(out, sec, "".join(pending))
            pending.clear()
            _emit(out, sec, _inline_text(child))
        elif name == "invention-title":
            _emit(out, sec, "".join(pending))
            pending.clear()
            # Several titles (lang="ko" / lang="en"): the English ones are not read.
            if not _is_english(child) or all(
                _is_english(t) for t in node if _local(t.tag) == "invention-title"
            ):
                titles.add(_inline_text(child))
        elif name == "claim":
            _emit(out, sec, "".join(pending))
            pending.clear()
            _emit_claim(child, out)
        elif name in KIPO_DROP_TAGS:
            _emit(out, sec, "".join(pending))
            pending.clear()
        elif name in KIPO_LINE_BREAK_TAGS:
            pending.append("\n")
        elif name in KIPO_INLINE_TAGS:
            pending.append(_inline_text(child))
        else:
            _emit(out, sec, "".join(pending))
            pending.clear()
            stack.append((child, KIPO_SECTION_TAGS.get(name, sec), iter(child), [child.text or ""]))
            continue  # its tail joins `pending` when its frame is done
        pending.append(child.tail or "")


def _emit_claim(claim: Element, out: list[Paragraph]) -> None:
    texts = [_inline_text(c).strip() for c in claim if _local(c.tag) == "claim-text"]
    text = "\n".join(t for t in texts if t) if texts else _inline_text(claim).strip()
    if text and text not in DELETED_CLAIM_TEXTS:
        out.append(Paragraph("claims", text))


def _first_text(elem: Element) -> str:
    value = elem.get("value")
    if value and value.strip():
        return value.strip()
    return _all_text(elem).strip()


def _classification_codes(elem: Element) -> list[str]:
    codes = []
    for e in _walk(elem):
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
    Out: a Publication whose first paragraph is the Korean title (each
    non-English <invention-title> through `korean_title`, else the
    bibliographic KR_InventionTitle), then one Paragraph per <p> of
    description and abstract and one per <claim>, in document order.

    Parsing uses defusedxml with DTDs allowed but entity declarations and
    external references forbidden; a DOCTYPE naming an external DTD parses
    and the DTD is never fetched. Control characters that XML forbids (NUL,
    ESC, ...) become spaces before parsing instead of failing the file;
    numeric references to them (`&#1;`) are dropped. Nesting depth is
    unbounded (the tree is walked iteratively).
    Inline markup (<sub>, <sup>, <figref>...) keeps its text in place, <br/>
    becomes '\n'; <tables>, <maths>, <chemistry>, images, citation lists and
    reference-sign lists are dropped.
    Only <description>, <claims> and <abstract> of <PatentCAFDOC> (or of the
    root when there is no PatentCAFDOC) are read: bibliographic elements are
    used for doc_id (KIPO_ID_TAGS, else PatentCAFDOC's documentID, else
    `fallback_id`), cpc_section (CPC, else IPC codes) and the title fallback only.

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
    body = _XML_INVALID_CHARS.sub(" ", body)
    if "&#" in body:
        body = _CHAR_REF.sub(_drop_forbidden_ref, body)
    body = body.encode("utf-8")
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

    caf = next((e for e in _walk(root) if _local(e.tag) == "PatentCAFDOC"), root)
    paragraphs: list[Paragraph] = []
    titles = Titles()
    for part in caf:
        name = _local(part.tag)
        if name in KIPO_PROSE_PARTS:
            _collect_blocks(part, KIPO_SECTION_TAGS[name], paragraphs, titles)

    ids: dict[str, str] = {}
    cpc: list[str] = []
    ipc: list[str] = []
    biblio_titles: list[Element] = []
    for e in _walk(root):
        name = _local(e.tag)
        if name in KIPO_ID_TAGS and name not in ids:
            v = _first_text(e)
            if v:
                ids[name] = v
        elif name in KIPO_CPC_TAGS and not cpc:
            cpc = _classification_codes(e)
        elif name in KIPO_IPC_TAGS and not ipc:
            ipc = _classification_codes(e)
        elif name in KIPO_TITLE_TAGS:
            biblio_titles.append(e)
        for tag, attribute in KIPO_ID_ATTRIBUTES:
            if name == tag and attribute not in ids:
                v = next((v for k, v in e.attrib.items() if _local(k) == attribute), "").strip()
                if v:
                    ids[attribute] = v
    order = (*KIPO_ID_TAGS, *(attribute for _, attribute in KIPO_ID_ATTRIBUTES))
    doc_id = next((ids[key] for key in order if key in ids), fallback_id)
    if not titles:
        for e in biblio_titles:
            if not _is_english(e):
                titles.add(_inline_text(e))

    _require_prose(paragraphs, source)
    return Publication(
        doc_id=doc_id,
        source=source,
        paragraphs=(*titles.paragraphs, *paragraphs),
        cpc_section=cpc_section_of(cpc) or cpc_section_of(ipc),
        title_outcomes=tuple(titles.outcomes),
    )
