"""Bytes -> text: BOMs, XML declarations, CP949/EUC-KR, gzip, file stems.

`decode_bytes(data, encodings)` -> str, trying a BOM, then a declared XML
encoding, then `encodings` in turn; raises `InputRejected` (empty_file,
binary_file, undecodable). `maybe_gunzip(data, max_size)` -> the inflated
bytes of a gzip member, or `data` as is (malformed_gzip,
decompressed_too_large). `doc_stem(path)` -> a fallback doc id.
"""

from __future__ import annotations

import codecs
import re
import zlib
from collections.abc import Sequence

from pipeline.text.publication import InputRejected


def doc_stem(path: str) -> str:
    """File stem usable as a fallback doc id: 'a/b/KR123.xml.gz' -> 'KR123'."""
    name = re.split(r"[\\/]", path)[-1]
    for suffix in (".gz", ".xml", ".txt", ".jsonl", ".parquet"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name


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


# The replacement character and Unicode's control characters (category Cc: U+0000-U+001F
# and U+007F-U+009F) but the whitespace controls; one regex scan instead of a Python
# call per character (that loop was the largest single cost of parsing XML).
_BAD_CHAR = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ufffd]")


def _bad_char_ratio(text: str) -> float:
    if not text:
        return 0.0
    return len(_BAD_CHAR.findall(text)) / len(text)


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


# Characters of text: ASCII and Latin-1 letters, Hangul, CJK, their
# punctuation and full-width forms. UTF-16 text is made of these; binary data
# read as UTF-16 is spread over the whole plane.
_TEXT_CHAR = re.compile(
    "[\t\n\r\x20-\x7e\u00a0-\u00ff\u1100-\u11ff\u2000-\u206f\u2190-\u25ff"
    "\u3000-\u33ff\u4e00-\u9fff\uac00-\ud7a3\uff00-\uffef]"
)


def _utf16_without_bom(data: bytes, sample: bytes) -> str | None:
    """The text of BOM-less UTF-16, recognised by where its NUL bytes are, else None.

    ASCII characters in UTF-16 LE have their NUL byte at odd offsets (BE: even);
    binary data has NULs at both. The file must also decode strictly and be
    made (95%) of text characters.
    """
    odd = sample[1::2].count(0)
    even = sample[0::2].count(0)
    if odd >= 9 * even:
        codec = "utf-16-le"
    elif even >= 9 * odd:
        codec = "utf-16-be"
    else:
        return None
    try:
        text = _decode_cut_short(data, codec)
    except UnicodeDecodeError:
        return None
    head = text[: _BINARY_SAMPLE // 2]
    if not head or len(_TEXT_CHAR.findall(head)) < 0.95 * len(head):
        return None
    if not text.strip():
        raise InputRejected("empty_file", "only whitespace (UTF-16)")
    return text


def decode_bytes(data: bytes, encodings: Sequence[str] = ("utf-8", "cp949")) -> str:
    """Decode a whole input file to text.

    In: raw bytes. Out: the text, without any BOM.
    Order: a BOM (UTF-8, UTF-16 LE/BE, UTF-32) decides; else BOM-less UTF-16
    XML is sniffed from '<?'; else BOM-less UTF-16 text is recognised by its
    NUL bytes, all at odd (LE) or even (BE) offsets, when it decodes strictly
    to text characters; else strict UTF-8 wins when it is among
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
    if nul:
        text = _utf16_without_bom(data, sample)
        if text is not None:
            return text
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
