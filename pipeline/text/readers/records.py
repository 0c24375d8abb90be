"""JSON records (JSONL lines, Parquet rows) -> `Publication`.

`parse_record(record, source)` reads one mapping in the JSONL schema (id,
title, abstract, claims, description {section: texts}, cpc, ipc); the
JSONL readers (`parse_jsonl_line`, `iter_jsonl`, `iter_jsonl_range` for a
byte range of a big file) and `iter_parquet` (row groups of a Parquet file)
share it, so every record format yields the same paragraphs.
Rejects: missing_id, bad_record, no_text, malformed_json, undecodable,
line_too_large, malformed_parquet, bad_parquet_schema.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, BinaryIO

from pipeline.text.publication import SECTIONS, InputRejected, Paragraph, Publication
from pipeline.text.readers.common import (
    DELETED_CLAIM_TEXTS,
    SURROGATE,
    Titles,
    _detail,
    _emit,
    _require_prose,
    cpc_section_of,
    reader_error,
    repair_text,
)
from pipeline.text.readers.kipo_xml import KIPO_SECTION_TAGS
from pipeline.text.readers.sectioned_text import (
    TEXT_BIBLIO_HEADERS,
    TEXT_DROP_SECTION_HEADERS,
    TEXT_SECTION_HEADERS,
)

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
# their values are ignored. Unknown keys are ignored too (an allow-list:
# an address or a name under an unexpected key never becomes text); this set
# stays as documentation of the keys known not to be prose.
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

    Only the keys of RECORD_SECTION_KEYS are text (an allow-list): unknown
    keys ('inventor_address', '발명자의 주소', ...) are ignored.
    """
    norm = _key_norm(key)
    if norm in _RECORD_IGNORED_NORM:
        return None
    return _RECORD_KEYS_NORM.get(norm)


# Python refuses int() of more than 4,300 digits; JSON numbers that long are
# kept as their digits (an id that long is rejected, other fields ignore it).
_MAX_INT_DIGITS = 64


class _HugeNumber(str):
    """A JSON integer too long to convert, kept as its digits."""


def _parse_int(digits: str) -> int | str:
    if len(digits.lstrip("-")) > _MAX_INT_DIGITS:
        return _HugeNumber(digits)
    return int(digits)


def _text_list(value: Any, key: str, source: str) -> list[str]:
    """str | list/tuple of (str | None) | None -> list of str."""
    if value is None:
        return []
    if isinstance(value, _HugeNumber) or (
        isinstance(value, (list, tuple)) and any(isinstance(v, _HugeNumber) for v in value)
    ):
        raise InputRejected("bad_record", _detail(source, f"{key} holds a number, expected str"))
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
    keys (application_number, applicant, inventors, ...) and description keys
    outside RECORD_SECTION_KEYS are ignored. Lone surrogates in text become
    U+FFFD.
    Out: Publication(doc_id=str(id)); paragraphs: the Korean title first (each
    `title` item, then any description key naming the title such as
    'invention-title' or '발명의 명칭', through `korean_title`: a trailing
    '(ENGLISH TITLE)' is cut, an English-only title dropped), description
    sections in the record's order, claims (one per item), abstract; each
    list item is one paragraph; empty strings are skipped.

    Raises InputRejected: 'missing_id' (absent, None or blank id), 'bad_record'
    (not a mapping, a value of the wrong type, the detail naming the key; an
    id holding a lone surrogate, or a number of more than 64 digits),
    'no_text' (no prose besides a title).
    """
    if not isinstance(record, Mapping):
        raise InputRejected(
            "bad_record", _detail(source, f"record is {type(record).__name__}, not an object")
        )
    raw_id = record.get("id")
    if raw_id is None or (isinstance(raw_id, str) and not raw_id.strip()):
        raise InputRejected("missing_id", _detail(source, "record has no id"))
    if isinstance(raw_id, _HugeNumber):
        raise InputRejected("bad_record", _detail(source, f"id is a number of {len(raw_id)} digits"))
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise InputRejected("bad_record", _detail(source, f"id is {type(raw_id).__name__}, expected str"))
    doc_id = raw_id.strip() if isinstance(raw_id, str) else str(raw_id)
    if SURROGATE.search(doc_id):
        raise InputRejected(
            "bad_record", _detail(source, "id holds a lone surrogate (not encodable as UTF-8)")
        )

    paragraphs: list[Paragraph] = []
    titles = Titles()
    for t in _text_list(record.get("title"), "title", source):
        titles.add(t)
    for key, value in _description_items(record.get("description"), source):
        if not isinstance(key, str):
            raise InputRejected(
                "bad_record", _detail(source, f"description key {repair_text(repr(key))} is not a str")
            )
        section = canonical_record_section(key)
        texts = _text_list(value, f"description.{key}", source)
        if section is None:
            continue
        for t in texts:
            if section == "title":
                titles.add(t)
            else:
                _emit(paragraphs, section, t)
    for t in _text_list(record.get("claims"), "claims", source):
        if t.strip() not in DELETED_CLAIM_TEXTS:
            _emit(paragraphs, "claims", t)
    for t in _text_list(record.get("abstract"), "abstract", source):
        _emit(paragraphs, "abstract", t)

    cpc = _code_list(record.get("cpc"), "cpc", source)
    ipc = _code_list(record.get("ipc"), "ipc", source)
    _require_prose(paragraphs, source)
    paragraphs = [Paragraph(p.section, repair_text(p.text)) for p in (*titles.paragraphs, *paragraphs)]
    return Publication(
        doc_id=doc_id,
        source=source,
        paragraphs=tuple(paragraphs),
        cpc_section=cpc_section_of(cpc) or cpc_section_of(ipc),
        title_outcomes=tuple(titles.outcomes),
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
        obj = json.loads(text, strict=False, parse_int=_parse_int)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        return InputRejected("malformed_json", _detail(src, repair_text(str(exc))))
    try:
        return parse_record(obj, src)
    except InputRejected as exc:
        return exc
    except Exception as exc:  # a reader bug costs this line, not the file
        return reader_error(exc, src)


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


# JSON Lines is UTF-8, but files exported on Windows come as UTF-16 with a
# BOM: one '\n' is two bytes there, so such a file is decoded whole.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: same first 2 bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def wide_jsonl_codec(head: bytes) -> str | None:
    """The codec of a JSONL file whose first bytes `head` are a UTF-16/32 BOM, else None."""
    return next((codec for bom, codec in _WIDE_BOMS if head.startswith(bom)), None)


def iter_wide_jsonl(data: bytes, source: str) -> Iterator[Publication | InputRejected]:
    """A whole UTF-16/32 JSONL file (BOM first) -> one item per non-blank line, sources
    'path:LINE'. A file that does not decode is one 'undecodable' reject."""
    codec = wide_jsonl_codec(data)
    bom = next(b for b, c in _WIDE_BOMS if c == codec)
    try:
        text = data[len(bom) :].decode(codec)
    except UnicodeDecodeError as exc:
        yield InputRejected("undecodable", _detail(source, f"{codec} BOM but invalid {codec}: {exc}"))
        return
    yield from iter_jsonl(text.split("\n"), source)


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
    Out: parse_record results per row ('undecodable' for a row with a cell
    that is not valid UTF-8: only that row); 'bad_parquet_schema' for every row
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
            for rec in _batch_records(batch):
                row += 1
                src = f"{source}:{row}"
                if isinstance(rec, BaseException):
                    reason = "undecodable" if isinstance(rec, UnicodeDecodeError) else "bad_record"
                    yield InputRejected(reason, _detail(src, f"{type(rec).__name__}: {rec}"[:300]))
                    continue
                try:
                    pub = parse_record(rec, src)
                except InputRejected as exc:
                    yield exc
                except Exception as exc:  # a reader bug costs this row, not the file
                    yield reader_error(exc, src)
                else:
                    yield pub
    except (pa.ArrowException, OSError, ValueError) as exc:
        for unread in range(row + 1, max(num_rows, row + 1) + 1):
            yield InputRejected("malformed_parquet", f"{source}:{unread}: after row {row}: {exc}")


def _batch_records(batch) -> Iterator[dict | BaseException]:
    """A record batch's rows as dicts; a row whose cells do not convert (a
    string cell that is not UTF-8) is that exception instead, and costs only
    itself: the batch is converted row by row once one row fails."""
    try:
        yield from batch.to_pylist()
        return
    except Exception:  # noqa: BLE001 - any conversion failure: find the row
        pass
    for i in range(batch.num_rows):
        try:
            (rec,) = batch.slice(i, 1).to_pylist()
        except Exception as exc:  # noqa: BLE001
            yield exc
        else:
            yield rec
