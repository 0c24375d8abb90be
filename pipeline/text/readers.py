"""Input readers: raw patent publications -> `Publication` records.

Pure functions, no Beam. Each reader turns one input unit (an XML file, a
sectioned text file, a JSONL line, a Parquet row) into a `Publication`, or
raises / yields `InputRejected` with a short reason code. Readers only split
text into sections and paragraphs: they never lower-case or normalise text
(the clean stage does that), they only strip whitespace around paragraphs.

Bibliographic data (numbers, dates, applicant, inventors, agent, addresses,
priority data, classification codes) never becomes a `Paragraph`; readers use
it only for `doc_id` and `cpc_section`.

Paragraph order is the same for every format: title, description sections,
claims, abstract (the order of a KIPO publication; JSONL/Parquet records keep
their description keys' order), so one publication written by the writers at
the end of this module and read back from any format yields the same
paragraph sequence (up to '\n' where <br/> splits figure sentences).

Writers (for the demo and synthetic corpora): render_kipo_xml,
render_sectioned_text, plus record_description / record_texts /
record_codes / figure_numbers helpers.

Reject reasons raised here:
  empty_file, binary_file, undecodable           (decode_bytes)
  malformed_gzip, decompressed_too_large         (maybe_gunzip)
  xml_entities_forbidden, malformed_xml, wrong_root, no_text   (parse_kipo_xml)
  missing_id, bad_record, no_text                (parse_record)
  malformed_json, undecodable, + parse_record's  (iter_jsonl)
  line_too_large                                 (iter_jsonl_range)
  malformed_parquet, bad_parquet_schema, + parse_record's (iter_parquet)
  no_text                                        (parse_sectioned_text)
"""

from __future__ import annotations

import codecs
import html.entities
import io
import json
import re
import unicodedata
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO
from xml.etree.ElementTree import Element, ParseError
from xml.parsers.expat import ExpatError
from xml.sax.saxutils import escape, quoteattr

import defusedxml
import defusedxml.ElementTree as defused_et

from pipeline.text.publication import SECTIONS, InputRejected, Paragraph, Publication

# Bumped when reader output for the same input changes (recorded in manifests).
READERS_VERSION = "readers_v2"

# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------

_CLASSIFICATION_RE = re.compile(r"([A-Ha-h])\s?\d{2}\s?[A-Za-z]")
_TITLE_ENGLISH_RE = re.compile(r"^(?P<ko>.*?)\s*\{(?P<en>[^{}]*)\}\s*$", re.DOTALL)

# A claim whose whole text is this was deleted during prosecution: no prose.
DELETED_CLAIM_TEXTS = frozenset({"삭제", "(삭제)"})


def _detail(source: str, message: str) -> str:
    return f"{source}: {message}" if source else message


def cpc_section_of(codes: Iterable[str]) -> str | None:
    """First CPC/IPC section letter A-H among `codes` (in order), else None.

    Codes such as 'H01L 21/02 (2006.01)' give 'H'; codes that do not look like
    a classification symbol (or belong to section Y) are skipped.
    """
    for code in codes:
        if not isinstance(code, str):
            continue
        m = _CLASSIFICATION_RE.match(code.strip())
        if m:
            return m.group(1).upper()
    return None


def split_title(raw: str) -> str:
    """Korean title from a KIPO title '한글 명칭{ENGLISH TITLE}'.

    The trailing '{ENGLISH}' group is dropped (the corpus is Korean text; the
    English part is a parallel translation, not prose of the document). When
    nothing precedes the braces, the English text is kept without braces.
    """
    text = raw.strip()
    m = _TITLE_ENGLISH_RE.match(text)
    if not m:
        return text
    ko = m.group("ko").strip()
    return ko if ko else m.group("en").strip()


def _require_prose(paragraphs: Sequence[Paragraph], source: str) -> None:
    # A title alone is not prose: such a publication is useless as text.
    if not any(p.section != "title" for p in paragraphs):
        raise InputRejected("no_text", _detail(source, "no prose paragraphs"))


def doc_stem(path: str) -> str:
    """File stem usable as a fallback doc id: 'a/b/KR123.xml.gz' -> 'KR123'."""
    name = re.split(r"[\\/]", path)[-1]
    for suffix in (".gz", ".xml", ".txt", ".jsonl", ".parquet"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


# --------------------------------------------------------------------------
# Bytes -> text
# --------------------------------------------------------------------------

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: same first 2 bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_XML_DECL_ENCODING_RE = re.compile(
    rb"""^\s*<\?xml\s[^>]*?\bencoding\s*=\s*["']([A-Za-z][A-Za-z0-9._:-]{0,40})["']"""
)
# Declared names mapped to the codec we actually use. cp949 (UHC) is a strict
# superset of EUC-KR; files labelled EUC-KR routinely contain UHC syllables.
_ENCODING_OVERRIDES = {
    "euc_kr": "cp949",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601_1987": "cp949",
    "ksc5601": "cp949",
    "ksc_5601": "cp949",
    "x-windows-949": "cp949",
    "windows-949": "cp949",
    "ms949": "cp949",
    "uhc": "cp949",
}
_BINARY_SAMPLE = 1 << 16
_TEXT_CONTROL_BYTES = frozenset(b"\t\n\r\f\v\x1b")


def _codec_name(label: str) -> str | None:
    key = label.strip().lower()
    if key in _ENCODING_OVERRIDES:
        return _ENCODING_OVERRIDES[key]
    try:
        name = codecs.lookup(key).name
    except LookupError:
        return None
    return _ENCODING_OVERRIDES.get(name, name)


def _ascii_compatible(codec: str) -> bool:
    try:
        return "<?xml".encode(codec) == b"<?xml"
    except (LookupError, UnicodeError):
        return False


def _bad_char_ratio(text: str) -> float:
    if not text:
        return 0.0
    bad = sum(
        1 for ch in text if ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v")
    )
    return bad / len(text)


# What codecs say when the data ends inside a multi-byte character.
_CUT_SHORT = frozenset({"unexpected end of data", "incomplete multibyte sequence"})


def _decode_cut_short(data: bytes, codec: str) -> str:
    """Strict decoding, except that a character cut off by the end of the data is dropped.

    A file truncated inside its last character then reaches its parser, which
    says what is wrong (`malformed_xml` for XML cut short), instead of
    passing for a file in an unknown encoding ('undecodable').
    """
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        if exc.reason not in _CUT_SHORT or exc.end != len(data):
            raise
        return data[: exc.start].decode(codec)


def decode_bytes(data: bytes, encodings: Sequence[str] = ("utf-8", "cp949")) -> str:
    """Decode a whole input file to text.

    In: raw bytes. Out: the text, without any BOM.
    Order: a BOM (UTF-8, UTF-16 LE/BE, UTF-32) decides; else BOM-less UTF-16
    XML is sniffed from '<?'; else strict UTF-8 wins when it is among
    `encodings` (valid non-ASCII cp949 practically never validates as UTF-8,
    while UTF-8 files mislabelled EUC-KR are common); else the encoding named
    by an XML declaration (EUC-KR read as its superset cp949); else the
    remaining `encodings` in order, each strictly (but a last character cut
    off by truncation is dropped, so that the parser reports the truncation).
    Raises InputRejected: 'empty_file' (no bytes, or only whitespace/BOM),
    'binary_file' (1% or more NUL bytes, or more than 5% control bytes / 10%
    control characters after decoding; a few stray NULs in text are kept for
    `clean` to remove),
    'undecodable' (text-like bytes that no candidate encoding decodes).
    """
    if not data:
        raise InputRejected("empty_file", "0 bytes")
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                text = data[len(bom) :].decode(codec)
            except UnicodeDecodeError as exc:
                raise InputRejected("undecodable", f"{codec} BOM but invalid {codec}: {exc}") from None
            if not text.strip():
                raise InputRejected("empty_file", "only a byte order mark and whitespace")
            if _bad_char_ratio(text[:_BINARY_SAMPLE]) > 0.1:
                raise InputRejected("binary_file", "mostly control characters")
            return text
    if data[:4] in (b"<\x00?\x00", b"\x00<\x00?"):
        codec = "utf-16-le" if data[0] == 0x3C else "utf-16-be"
        try:
            return data.decode(codec)
        except UnicodeDecodeError as exc:
            raise InputRejected("undecodable", f"looks like {codec} but is not: {exc}") from None
    if not data.strip():
        raise InputRejected("empty_file", f"{len(data)} whitespace bytes")

    sample = data[:_BINARY_SAMPLE]
    nul = sample.count(0)
    # Images, archives and executables are NUL-dense; compressed payloads
    # (~0.4% NUL) fail every strict decoding and the control-byte test below.
    if nul and nul * 100 >= len(sample):
        raise InputRejected("binary_file", f"{nul} NUL bytes in the first {len(sample)} bytes")

    candidates: list[str] = []
    names = [n for n in (_codec_name(e) for e in encodings) if n]
    if "utf-8" in names:
        candidates.append("utf-8")
    m = _XML_DECL_ENCODING_RE.match(data[:200])
    if m:
        declared = _codec_name(m.group(1).decode("ascii"))
        if declared and _ascii_compatible(declared) and declared not in candidates:
            candidates.append(declared)
    candidates.extend(n for n in names if n not in candidates)

    for codec in candidates:
        try:
            text = _decode_cut_short(data, codec)
        except UnicodeDecodeError:
            continue
        if _bad_char_ratio(text[:_BINARY_SAMPLE]) > 0.1:
            raise InputRejected("binary_file", "mostly control characters")
        return text

    # Text in any encoding has almost no C0 control bytes; binary data has ~12%.
    controls = sum(1 for b in sample if b < 0x20 and b not in _TEXT_CONTROL_BYTES)
    if controls > 0.05 * len(sample):
        raise InputRejected("binary_file", f"{controls} control bytes in the first {len(sample)} bytes")
    raise InputRejected("undecodable", f"invalid in every candidate encoding {candidates}")


def maybe_gunzip(data: bytes, max_size: int = 512 << 20) -> bytes:
    """Decompress gzip bytes (recognised by the 1f 8b magic); other bytes pass through.

    Raises InputRejected 'malformed_gzip' (corrupt or truncated stream) or
    'decompressed_too_large' (more than `max_size` bytes: a decompression bomb).
    """
    if not data.startswith(b"\x1f\x8b"):
        return data
    out = bytearray()
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(wbits=31)
            chunk = d.decompress(rest, max_size + 1 - len(out))
            out += chunk
            if len(out) > max_size:
                raise InputRejected("decompressed_too_large", f"more than {max_size} bytes")
            while d.unconsumed_tail:
                out += d.decompress(d.unconsumed_tail, max_size + 1 - len(out))
                if len(out) > max_size:
                    raise InputRejected("decompressed_too_large", f"more than {max_size} bytes")
            if not d.eof:
                raise InputRejected("malformed_gzip", "truncated gzip stream")
            rest = d.unused_data
            if rest and not rest.startswith(b"\x1f\x8b"):
                break  # trailing garbage after the last member: ignore, like gzip(1)
    except zlib.error as exc:
        raise InputRejected("malformed_gzip", str(exc)) from None
    return bytes(out)


# --------------------------------------------------------------------------
# KIPO XML
# --------------------------------------------------------------------------

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


def _emit(out: list[Paragraph], section: str, text: str) -> None:
    text = text.strip()
    if text:
        out.append(Paragraph(section, text))


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


# --------------------------------------------------------------------------
# Sectioned text (【...】 headers)
# --------------------------------------------------------------------------

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

_TEXT_HEADER_RE = re.compile(r"【([^【】\n]{1,80})】")
_PARA_NUM_RE = re.compile(r"^\d{1,5}[a-zA-Z]?$")
_CLAIM_HEADER_RE = re.compile(r"^청구항\s*\d+$")
_BLANK_LINE_RE = re.compile(r"\n[ \t\r\f\v]*\n")

_PART_OF_SECTION = {s: "description" for s in SECTIONS}
_PART_OF_SECTION.update({"claims": "claims", "abstract": "abstract"})


def _hkey(header: str) -> str:
    """Lookup key of a 【】 header: whitespace removed, ASCII upper-cased."""
    return re.sub(r"\s+", "", header).upper()


_TEXT_SECTIONS_K = {_hkey(k): v for k, v in TEXT_SECTION_HEADERS.items()}
_TEXT_BIBLIO_K = {_hkey(k) for k in TEXT_BIBLIO_HEADERS}
_TEXT_DROP_K = {_hkey(k) for k in TEXT_DROP_SECTION_HEADERS}


def parse_sectioned_text(text: str, source: str, fallback_id: str) -> Publication:
    """Parse a Korean e-filing text dump with 【...】 headers.

    In: the decoded text (see `decode_bytes`), its source path and the id to
    use when no 【공개번호】/【등록번호】/【출원번호】 header is present.
    Out: a Publication; one Paragraph per non-empty block, where blocks are
    separated by headers, paragraph numbers such as 【0001】 (removed) and blank
    lines; each 【청구항 N】 starts one claim paragraph that runs to the next
    header (blank lines inside a claim do not split it). A header with no
    body yields nothing. Header matching ignores whitespace.

    Rules for headers:
    * TEXT_SECTION_HEADERS switch the section (the title drops '{ENGLISH}');
    * TEXT_BIBLIO_HEADERS are skipped with their bodies until the next section
      header; 【공개번호】 (else 【등록번호】, 【출원번호】) gives doc_id and 【CPC】
      (else 【국제특허분류】) gives cpc_section;
    * TEXT_DROP_SECTION_HEADERS (부호의 설명, 선행기술문헌, 대표도, 도면, ...) are
      skipped with their bodies until the next section header;
    * object labels (【표 1】, 【수학식 1】, ...): in the description their body
      (the table / formula) is dropped up to the next paragraph number; inside
      a claim only the label is removed and the claim continues;
    * sub-headings (【실시예 1】) are dropped, text continues in the section;
    * any other header: before the first section header (front matter) it is
      treated as bibliographic and skipped; inside the description part its
      text goes to 'description' (text outside any known section); inside the
      claims, abstract or drawings part it is skipped.
    Text before the first header is front matter and skipped, unless the text
    has no 【...】 header at all, in which case all of it is 'description'.

    Raises InputRejected('no_text') when no prose paragraph results.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    paragraphs: list[Paragraph] = []
    matches = list(_TEXT_HEADER_RE.finditer(text))
    if not matches:
        for block in _BLANK_LINE_RE.split(text):
            _emit(paragraphs, "description", block)
        _require_prose(paragraphs, source)
        return Publication(fallback_id, source, tuple(paragraphs), None)

    biblio: dict[str, str] = {}
    section: str | None = None  # None: skipping (front matter, biblio, dropped part)
    part = "front"
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
                section, part = "claims", "claims"
                claim_buf = []
            elif key in _TEXT_SECTIONS_K:
                section = _TEXT_SECTIONS_K[key]
                part = _PART_OF_SECTION[section]
            elif key in _TEXT_BIBLIO_K:
                section, biblio_key = None, key
            elif key in _TEXT_DROP_K:
                section = None
                if key == "도면":
                    part = "drawings"
            elif part == "description":
                section = "description"
            else:
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
            _emit(paragraphs, "title", split_title(body))
        else:
            for block in _BLANK_LINE_RE.split(body):
                _emit(paragraphs, section, block)
    flush_claim()

    doc_id = next(
        (biblio[_hkey(h)].splitlines()[0].strip() for h in TEXT_ID_HEADERS if _hkey(h) in biblio),
        fallback_id,
    )

    def codes(headers: Sequence[str]) -> list[str]:
        out: list[str] = []
        for h in headers:
            out.extend(re.split(r"[;,\n]", biblio.get(_hkey(h), "")))
        return out

    _require_prose(paragraphs, source)
    return Publication(
        doc_id=doc_id,
        source=source,
        paragraphs=tuple(paragraphs),
        cpc_section=cpc_section_of(codes(TEXT_CPC_HEADERS)) or cpc_section_of(codes(TEXT_IPC_HEADERS)),
    )


# --------------------------------------------------------------------------
# JSONL / Parquet records
# --------------------------------------------------------------------------

# Keys of a record's `description` mapping -> canonical section. Matching
# ignores case, spaces, '-' and '_' ('technical-field' == 'technical_field').
RECORD_SECTION_KEYS: dict[str, str] = {
    **{s: s for s in SECTIONS},
    **KIPO_SECTION_TAGS,
    **TEXT_SECTION_HEADERS,
    "summary": "summary_of_invention",
    "detailed_description": "description_of_embodiments",
    "embodiments": "description_of_embodiments",
    "drawings_description": "description_of_drawings",
    "brief_description_of_drawings": "description_of_drawings",
    "background": "background_art",
    "field": "technical_field",
}
# Description keys that are never prose (bibliographic or non-text parts);
# their values are ignored. Other unknown keys go to 'description'.
RECORD_IGNORED_DESCRIPTION_KEYS: frozenset[str] = frozenset(
    {
        "application_number",
        "applicant",
        "applicants",
        "inventor",
        "inventors",
        "agent",
        "filing_date",
        "publication_date",
        "publication_number",
        "priority",
        "cpc",
        "ipc",
        "citations",
        "citation_list",
        "reference_signs_list",
        "reference-signs-list",
        *TEXT_BIBLIO_HEADERS,
        *TEXT_DROP_SECTION_HEADERS,
    }
)
# Columns read from Parquet files (others are ignored).
RECORD_FIELDS: tuple[str, ...] = ("id", "title", "abstract", "claims", "description", "cpc", "ipc")


def _key_norm(key: str) -> str:
    return re.sub(r"[\s_\-]+", "", key).lower()


_RECORD_KEYS_NORM = {_key_norm(k): v for k, v in RECORD_SECTION_KEYS.items()}
_RECORD_IGNORED_NORM = {_key_norm(k) for k in RECORD_IGNORED_DESCRIPTION_KEYS}


def canonical_record_section(key: str) -> str | None:
    """Canonical section for a record description key; None when the key is ignored.

    Unknown keys map to 'description'.
    """
    norm = _key_norm(key)
    if norm in _RECORD_IGNORED_NORM:
        return None
    return _RECORD_KEYS_NORM.get(norm, "description")


def _text_list(value: Any, key: str, source: str) -> list[str]:
    """str | list/tuple of (str | None) | None -> list of str."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        out = []
        for i, item in enumerate(value):
            if item is None:
                continue
            if not isinstance(item, str):
                raise InputRejected(
                    "bad_record", _detail(source, f"{key}[{i}] is {type(item).__name__}, expected str")
                )
            out.append(item)
        return out
    raise InputRejected(
        "bad_record", _detail(source, f"{key} is {type(value).__name__}, expected str or list of str")
    )


def _code_list(value: Any, key: str, source: str) -> list[str]:
    if isinstance(value, str):
        return [c for c in re.split(r"[;,]", value) if c.strip()]
    return _text_list(value, key, source)


def _description_items(value: Any, source: str) -> list[tuple[str, Any]]:
    if value is None:
        return []
    if isinstance(value, str):
        return [("description", value)]
    if isinstance(value, Mapping):
        return list(value.items())
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) or v is None for v in value):
        return [("description", list(value))]
    if isinstance(value, (list, tuple)) and all(
        isinstance(kv, (list, tuple)) and len(kv) == 2 for kv in value
    ):
        return [tuple(kv) for kv in value]  # Arrow map<string, ...> -> list of pairs
    raise InputRejected(
        "bad_record",
        _detail(source, f"description is {type(value).__name__}, expected a mapping of section -> text"),
    )


def parse_record(record: Mapping, source: str) -> Publication:
    """One JSONL/Parquet record -> Publication.

    In: a mapping with keys id (required; str or int), title (str or list of
    str), abstract and claims (str or list of str), description (mapping of
    section name -> str or list of str; canonical, KIPO hyphenated or Korean
    header names, see RECORD_SECTION_KEYS; an Arrow map's list of (key, value)
    pairs and a plain str are accepted too), cpc / ipc (list of str, or a
    ';'/','-separated str). None values and None list items are skipped; other
    keys (application_number, applicant, inventors, ...) are ignored.
    Out: Publication(doc_id=str(id)); paragraphs title, description sections
    in the record's order, claims (one per item), abstract; each list item is
    one paragraph; empty strings are skipped.

    Raises InputRejected: 'missing_id' (absent, None or blank id), 'bad_record'
    (not a mapping, or a value of the wrong type; the detail names the key),
    'no_text' (no prose besides a title).
    """
    if not isinstance(record, Mapping):
        raise InputRejected(
            "bad_record", _detail(source, f"record is {type(record).__name__}, not an object")
        )
    raw_id = record.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise InputRejected("missing_id", _detail(source, "record has no id"))
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise InputRejected("bad_record", _detail(source, f"id is {type(raw_id).__name__}, expected str"))
    doc_id = raw_id.strip() if isinstance(raw_id, str) else str(raw_id)

    paragraphs: list[Paragraph] = []
    for t in _text_list(record.get("title"), "title", source):
        _emit(paragraphs, "title", t)
    for key, value in _description_items(record.get("description"), source):
        if not isinstance(key, str):
            raise InputRejected("bad_record", _detail(source, f"description key {key!r} is not a str"))
        section = canonical_record_section(key)
        texts = _text_list(value, f"description.{key}", source)
        if section is None:
            continue
        for t in texts:
            _emit(paragraphs, section, t)
    for t in _text_list(record.get("claims"), "claims", source):
        if t.strip() not in DELETED_CLAIM_TEXTS:
            _emit(paragraphs, "claims", t)
    for t in _text_list(record.get("abstract"), "abstract", source):
        _emit(paragraphs, "abstract", t)

    cpc = _code_list(record.get("cpc"), "cpc", source)
    ipc = _code_list(record.get("ipc"), "ipc", source)
    _require_prose(paragraphs, source)
    return Publication(
        doc_id=doc_id,
        source=source,
        paragraphs=tuple(paragraphs),
        cpc_section=cpc_section_of(cpc) or cpc_section_of(ipc),
    )


def parse_jsonl_line(
    line: bytes | str, src: str, encodings: Sequence[str] = ("utf-8",), first: bool = False
) -> Publication | InputRejected | None:
    """One JSONL line -> Publication, InputRejected, or None for a blank line.

    `src` names the line in rejects and in Publication.source; `first` marks
    the file's first line, where a UTF-8 BOM is allowed.
    """
    if isinstance(line, (bytes, bytearray)):
        raw = bytes(line)
        if first and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if not raw.strip():
            return None
        text = None
        for enc in encodings:
            try:
                text = raw.decode(enc)
                break
            except (UnicodeDecodeError, LookupError):
                continue
        if text is None:
            return InputRejected("undecodable", _detail(src, f"line is not valid {'/'.join(encodings)}"))
    else:
        text = line.lstrip("\ufeff") if first else line
        if not text.strip():
            return None
    try:
        # strict=False: a raw control character inside a string (invalid
        # JSON) costs no record; `clean` removes it like an escaped one.
        obj = json.loads(text, strict=False)
    except (json.JSONDecodeError, RecursionError) as exc:
        return InputRejected("malformed_json", _detail(src, str(exc)))
    try:
        return parse_record(obj, src)
    except InputRejected as exc:
        return exc


def iter_jsonl(
    lines: Iterable[bytes | str], source: str, encodings: Sequence[str] = ("utf-8",)
) -> Iterator[Publication | InputRejected]:
    """Stream a JSONL file: one Publication or InputRejected per non-blank line.

    In: the file's lines (bytes or str; line endings optional) and its path.
    Out: items whose source is 'path:LINE' (1-based line numbers, blank lines
    counted). A bad line never stops the stream: it yields InputRejected
    'undecodable' (bytes not valid in `encodings`; strict UTF-8 by default as
    JSON Lines requires), 'malformed_json' (detail 'path:LINE: ...'),
    'bad_record' (valid JSON that is not an object), or parse_record's reasons.
    """
    for lineno, line in enumerate(lines, start=1):
        item = parse_jsonl_line(line, f"{source}:{lineno}", encodings, first=lineno == 1)
        if item is not None:
            yield item


_SKIP_CHUNK = 1 << 20


def _skip_line(stream: BinaryIO) -> int:
    """Read to the end of the current line in bounded chunks; returns the bytes consumed."""
    consumed = 0
    while True:
        chunk = stream.readline(_SKIP_CHUNK)
        consumed += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return consumed


def iter_jsonl_range(
    stream: BinaryIO,
    source: str,
    start: int,
    end: int | None,
    encodings: Sequence[str] = ("utf-8",),
    max_line_bytes: int | None = None,
) -> Iterator[Publication | InputRejected]:
    """The JSONL lines that START in the byte range [start, end) of a seekable stream.

    Lets one big file be read by many workers: adjacent ranges together read
    every line exactly once (a line belongs to the range its first byte is
    in). Sources are 'path@OFFSET', the line's byte offset, so a reject points
    straight at its line (`tail -c +$((OFFSET+1)) FILE | head -1`).
    A line longer than `max_line_bytes` (a gzip bomb without newlines, say)
    is never held whole: it is skipped in bounded chunks and rejected as
    'line_too_large'.
    """
    offset = start
    if start > 0:
        # Step back one byte: if it is a newline, `start` begins a line of ours.
        stream.seek(start - 1)
        offset = start - 1 + _skip_line(stream)
    else:
        stream.seek(0)
    limit = max_line_bytes + 1 if max_line_bytes else -1
    while end is None or offset < end:
        line = stream.readline(limit)
        if not line:
            break
        line_start, offset = offset, offset + len(line)
        src = f"{source}@{line_start}"
        if max_line_bytes and len(line) > max_line_bytes and not line.endswith(b"\n"):
            offset += _skip_line(stream)
            yield InputRejected("line_too_large", _detail(src, f"line longer than {max_line_bytes} bytes"))
            continue
        item = parse_jsonl_line(line, src, encodings, first=line_start == 0)
        if item is not None:
            yield item


def iter_parquet(file_obj: BinaryIO, source: str) -> Iterator[Publication | InputRejected]:
    """Stream a Parquet file: one Publication or InputRejected per row.

    In: a seekable binary file object and its path. Reads only RECORD_FIELDS
    columns (extra columns are ignored) batch by batch. Row sources are
    'path:ROW' with 1-based row numbers.
    Out: parse_record results per row; 'bad_parquet_schema' for every row
    when there is no 'id' column; 'malformed_parquet' once for a file that is
    not Parquet or whose footer is unreadable (row count unknown), else for
    every row not read when the corruption is found mid-file. So each row
    the footer declares is one item, as the accounting needs.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    seekable = getattr(file_obj, "seekable", None)
    if not (callable(seekable) and seekable()):
        file_obj = io.BytesIO(file_obj.read())  # Parquet needs random access (footer first)
    try:
        pf = pq.ParquetFile(file_obj)
        names = pf.schema_arrow.names
    except (pa.ArrowException, OSError, ValueError) as exc:
        yield InputRejected("malformed_parquet", _detail(source, str(exc)))
        return
    num_rows = pf.metadata.num_rows
    if "id" not in names:
        for row in range(1, num_rows + 1):
            yield InputRejected("bad_parquet_schema", f"{source}:{row}: no 'id' column (columns: {names})")
        return
    columns = [c for c in RECORD_FIELDS if c in names]
    row = 0
    try:
        for batch in pf.iter_batches(columns=columns):
            for rec in batch.to_pylist():
                row += 1
                try:
                    pub = parse_record(rec, f"{source}:{row}")
                except InputRejected as exc:
                    yield exc
                else:
                    yield pub
    except (pa.ArrowException, OSError, ValueError) as exc:
        for unread in range(row + 1, max(num_rows, row + 1) + 1):
            yield InputRejected("malformed_parquet", f"{source}:{unread}: after row {row}: {exc}")


# --------------------------------------------------------------------------
# Writers: source records -> KIPO XML / sectioned text (demo and synthetic
# corpora). The readers above parse their output back to the same paragraphs
# (up to '\n' from <br/> between figure sentences).
# --------------------------------------------------------------------------

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
