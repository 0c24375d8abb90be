"""File builders for the bad-input cases: publications -> good, damaged or hostile file bytes.

Each function returns the bytes of one input file (or a record to render):
`xml_bytes` / `text_bytes` / `jsonl_bytes` / `parquet_bytes` render
publications with `pipeline.tools.corpus_writers`; the others damage them
(cut, gzip bombs, control characters, mixed line ends, wrong Parquet
types) or build hostile XML (entity bombs, external entities). Every builder
is deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import gzip
import io
import json
import random
import re
import zlib

from pipeline.tools.bad_inputs.prose import Prose, record
from pipeline.tools.corpus_writers import render_jsonl_line, render_kipo_xml, render_sectioned_text


def doc(name: str, paragraphs: int = 3, **extra) -> dict:
    """The Korean publication of case `name` (its text seeded by the name)."""
    return record(f"KR-BAD-{name}", Prose(name), paragraphs, **extra)


def xml_bytes(rec: dict, encoding: str = "utf-8") -> bytes:
    return render_kipo_xml(rec, encoding)


def text_bytes(rec: dict, encoding: str = "utf-8") -> bytes:
    return render_sectioned_text(rec).encode(encoding)


def jsonl_bytes(*records, encoding: str = "utf-8") -> bytes:
    return "".join(render_jsonl_line(r) for r in records).encode(encoding)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def parquet_bytes(rows: list[dict], schema=None, columns: tuple[str, ...] = ()) -> bytes:
    """Rows -> Parquet file bytes; `columns` keeps only those columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=schema or parquet_schema())
    if columns:
        table = table.select(list(columns))
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def parquet_rows(name: str, n: int) -> list[dict]:
    """JSONL-schema records for Parquet: description as (section, texts) pairs for a map column."""
    rows = []
    for i in range(n):
        rec = doc(f"{name}-{i}")
        desc = rec.pop("description")
        rec["description"] = [(k, v) for k, v in desc.items()]
        rows.append(rec)
    return rows


def parquet_schema(*extra_fields):
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("title", pa.string()),
            ("cpc", pa.list_(pa.string())),
            ("description", pa.map_(pa.string(), pa.list_(pa.string()))),
            ("claims", pa.list_(pa.string())),
            ("abstract", pa.list_(pa.string())),
            *extra_fields,
        ]
    )


# ------------------------------------------------------------------ hostile XML

_ENTITY_BODY = (
    "<KIPO><PatentCAFDOC><description><p>본 발명은 &x;에 관한 것이다.</p></description></PatentCAFDOC></KIPO>"
)


def billion_laughs() -> bytes:
    decls = ['<!ENTITY lol0 "웃음">']
    decls += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    body = _ENTITY_BODY.replace("&x;", "&lol9;")
    return ('<?xml version="1.0"?>\n<!DOCTYPE KIPO [\n' + "\n".join(decls) + "\n]>\n" + body).encode()


def quadratic_blowup() -> bytes:
    # A 50,000-character entity referenced 20,000 times: 10^9 characters if expanded, 210 kB on disk.
    decl = '<!DOCTYPE KIPO [<!ENTITY a "' + "가" * 50_000 + '">]>'
    body = _ENTITY_BODY.replace("&x;", "&a;" * 20_000)
    return ('<?xml version="1.0"?>\n' + decl + "\n" + body).encode()


def entity_doc(decl: str, ref: str = "&x;") -> bytes:
    body = _ENTITY_BODY.replace("&x;", ref)
    return f'<?xml version="1.0"?>\n<!DOCTYPE KIPO [{decl}]>\n{body}'.encode()


def gzip_bomb(megabytes: int, prefix: bytes, suffix: bytes) -> bytes:
    """A gzip member of `prefix`, `megabytes` MB of spaces and `suffix` (~1 kB per MB)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * (1 << 20)
    parts = [
        z.compress(prefix),
        *(z.compress(chunk) for _ in range(megabytes)),
        z.compress(suffix),
        z.flush(),
    ]
    return b"".join(parts)


def jsonl_bomb(name: str, megabytes: int) -> bytes:
    """Good line, a line of `megabytes` MB inside a JSON string (no newline), good line; gzipped."""
    first, last = (jsonl_bytes(doc(f"{name}-{i}")) for i in range(2))
    prefix = first + b'{"id": "KR-BAD-' + name.encode() + b'-bomb", "abstract": "'
    return gzip_bomb(megabytes, prefix, b'"}\n' + last)


def binary_bytes(n: int = 8192) -> bytes:
    rng = random.Random("binary")
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(n))


# ------------------------------------------------------------------ text-level damage


def mixed_newlines(text: str) -> str:
    """Line i ends with LF, CRLF or CR in turn."""
    lines = text.split("\n")
    ends = ("\n", "\r\n", "\r")
    return "".join(line + ends[i % 3] for i, line in enumerate(lines[:-1])) + lines[-1]


CONTROL_PROBE = "제어 문자가 섞인 문단도 읽혀야 한다."


def with_controls(rec: dict) -> dict:
    """`rec` with a paragraph full of NUL, BEL, ESC, DEL, form feed and C1 controls."""
    rec = json.loads(json.dumps(rec))
    dirty = "제어\x00문자가\x01 섞인\x1b 문단도\x07 읽혀야\x7f 한다.\x0c\x85이 문단은\x00\x00 남는다."
    rec["description"]["description_of_embodiments"].append(dirty)
    return rec


def long_sentence(prose: Prose, chars: int = 20_000) -> str:
    parts: list[str] = []
    size = 0
    while size < chars:
        parts.append(prose.words())
        size += len(parts[-1]) + 1
    text = " ".join(parts)[:chars]
    return text[:-1] + "고" if text.endswith(" ") else text


def big_publication(megabytes: float, name: str = "big") -> bytes:
    """One KIPO XML publication of about `megabytes` MB: unique paragraphs of 8 sentences."""
    prose = Prose(name)
    rec = record(f"KR-BAD-{name}", prose, paragraphs=1)
    paragraphs = rec["description"]["description_of_embodiments"]
    target = int(megabytes * 1024 * 1024)
    size = 0
    while size < target:
        para = f"실시예 {len(paragraphs)}에 따르면, " + prose.paragraph(8)
        paragraphs.append(para)
        size += len(para.encode("utf-8")) + 30  # + the <p num="..."> markup
    return xml_bytes(rec)


# ------------------------------------------------------------------ other languages


def foreign(name: str, sentences: list[str], title: str) -> dict:
    return {
        "id": f"KR-BAD-{name}",
        "title": title,
        "description": {
            "technical_field": [sentences[0]],
            "description_of_embodiments": [" ".join(sentences[1:])],
        },
        "claims": [sentences[-1]],
        "abstract": [" ".join(sentences[:2])],
    }


# ------------------------------------------------------------------ cut files, damaged content and records


def cut(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


def with_long_sentence(rec: dict) -> dict:
    rec["description"]["description_of_embodiments"].append(long_sentence(Prose("long")))
    return rec


NUMBER_PARAGRAPHS = [
    "12.5 13.7 14.2 15.9 16.1 17.4 18.8 19.3 20.6 21.0",
    "y = a·x² + b·x + c (0 ≤ x ≤ 1), R² = 0.998, σ = 1.2×10⁻³",
    "LiNi0.8Co0.1Mn0.1O2 + 2 Li2CO3 → Li3PO4 (pH 7.4, 25 ℃)",
]


def with_numbers(rec: dict) -> dict:
    rec["description"]["description_of_embodiments"] += NUMBER_PARAGRAPHS
    return rec


def only_numbers(name: str) -> dict:
    return {
        "id": f"KR-BAD-{name}",
        "title": "ΔT = 12.5 K",
        "description": {"description_of_embodiments": NUMBER_PARAGRAPHS},
        "abstract": ["100 200 300 400 500 600 700 800 900"],
    }


def bad_line_in_middle(name: str) -> bytes:
    lines = jsonl_bytes(*(doc(f"{name}-{i}") for i in range(4))).split(b"\n")
    broken = json.dumps(doc(f"{name}-broken"), ensure_ascii=False).encode()[:120]
    return b"\n".join(lines[:2] + [broken] + lines[2:])


def control_chars_jsonl(name: str) -> bytes:
    """Line 1 with raw control characters inside strings, line 2 with them escaped."""
    escaped = jsonl_bytes(with_controls(doc(f"{name}-0")))  # json.dumps escapes C0 controls
    raw = re.sub(rb"\\u00[01][0-9a-f]", lambda m: bytes([int(m.group(0)[2:], 16)]), escaped)
    return raw + jsonl_bytes(with_controls(doc(f"{name}-1")))


def bad_records(name: str) -> bytes:
    good = doc(f"{name}-good")
    no_id = {k: v for k, v in doc(f"{name}-noid").items() if k != "id"}
    int_claims = {**doc(f"{name}-int"), "claims": [1, 2, 3]}
    title_only = {"id": f"KR-BAD-{name}-title", "title": "제목만 있는 레코드입니다"}
    last = json.dumps(doc(f"{name}-last"), ensure_ascii=False)[:80]
    return (
        jsonl_bytes(good)
        + b'["\xeb\xb0\xb0\xec\x97\xb4"]\n'
        + jsonl_bytes(no_id, int_claims, title_only)
        + last.encode()
    )


def extra_columns(name: str) -> bytes:
    import pyarrow as pa

    rows = parquet_rows(name, 2)
    for i, r in enumerate(rows):
        r.update(applicant="주식회사 가상소재", raw_xml="<KIPO>…</KIPO>", embedding=[0.1 * i, 0.2, 0.3])
    schema = parquet_schema(
        ("applicant", pa.string()), ("raw_xml", pa.string()), ("embedding", pa.list_(pa.float32()))
    )
    return parquet_bytes(rows, schema)


def wrong_types(name: str) -> bytes:
    """Row 1 fine, row 2 a null id, row 3 integer claims (the column is list<int64>)."""
    import pyarrow as pa

    rows = [{**r, "claims": None} for r in parquet_rows(name, 3)]
    rows[1]["id"] = None
    rows[2]["claims"] = [1, 2]
    schema = parquet_schema().set(4, pa.field("claims", pa.list_(pa.int64())))
    return parquet_bytes(rows, schema)


# ------------------------------------------------ faults that must cost one unit at most (issue 16)

# Probes: text that must reach clean's sentences once the fault is survived.
CHAR_REF_PROBE = "제어 문자 참조가 있던 문단도 그대로 읽혀야 한다."
SURROGATE_PROBE = "짝 없는 대리 코드가 있던 문단도 읽혀야 한다."
TABLES_PROBE = "닫히지 않은 표 태그 뒤의 문장도 읽혀야 한다."
UTF16_PROBE = "바이트 순서 표시 없는 UTF-16 문서도 읽혀야 한다."
# Must reach no output: an address under an unknown key or header.
ADDRESS = "서울특별시 강남구 테헤란로 123, 4층 (역삼동, 발명빌딩) 홍길동 발명자의 주소이다."


def _p_content_bounds(text: str) -> tuple[int, int]:
    start = text.index(">", text.index("<p ")) + 1
    return start, text.index("</p>", start)


def deep_inline(name: str, depth: int = 3000) -> bytes:
    """A publication whose first <p> wraps its text in `depth` nested <b>."""
    text = xml_bytes(doc(name)).decode("utf-8")
    start, end = _p_content_bounds(text)
    return (text[:start] + "<b>" * depth + text[start:end] + "</b>" * depth + text[end:]).encode("utf-8")


def deep_blocks(name: str, depth: int = 3000) -> bytes:
    """A publication whose <description> content sits in `depth` nested unknown <div>."""
    text = xml_bytes(doc(name)).decode("utf-8")
    text = text.replace("<description>", "<description>" + "<div>" * depth, 1)
    return text.replace("</description>", "</div>" * depth + "</description>", 1).encode("utf-8")


def forbidden_char_refs(name: str) -> bytes:
    """References to characters XML forbids (&#1;, &#xFFFE;) inside the probe paragraph."""
    text = xml_bytes(doc(name, abstract=[CHAR_REF_PROBE])).decode("utf-8")
    return text.replace(
        CHAR_REF_PROBE, CHAR_REF_PROBE[:5] + "&#1;&#xFFFE;&#0;" + CHAR_REF_PROBE[5:], 1
    ).encode()


def _jsonl_line(rec: dict, **raw: str) -> str:
    """A JSONL line where each placeholder `@@KEY@@` becomes the raw JSON text raw[KEY]."""
    line = render_jsonl_line(rec)
    for key, value in raw.items():
        line = line.replace(f"@@{key}@@", value)
    return line


def lone_surrogates(name: str) -> bytes:
    """3 records: a lone surrogate (valid JSON) in a text, one in an id, a control."""
    text = doc(f"{name}-0", abstract=["@@S@@" + SURROGATE_PROBE])
    ident = doc(f"{name}-1")
    ident["id"] = "@@S@@" + ident["id"]
    lines = [
        _jsonl_line(text, S="\\ud800"),
        _jsonl_line(ident, S="\\udfff"),
        render_jsonl_line(doc(f"{name}-2")),
    ]
    return "".join(lines).encode("utf-8")


def huge_id(name: str, digits: int = 4301) -> bytes:
    """A record whose id is a number of `digits` digits (Python's int() limit is 4,300), a control."""
    rec = doc(f"{name}-0")
    rec["id"] = "@@N@@"
    line = render_jsonl_line(rec).replace('"@@N@@"', "9" * digits, 1)
    return line.encode("utf-8") + jsonl_bytes(doc(f"{name}-1"))


def utf16_jsonl(name: str) -> bytes:
    """3 records in UTF-16 with a BOM (one '\\n' is two bytes there)."""
    return jsonl_bytes(*(doc(f"{name}-{i}") for i in range(3))).decode("utf-8").encode("utf-16")


def unclosed_tables(name: str, megabytes: float) -> bytes:
    """One record whose abstract is `megabytes` MB of unclosed <table> tags, then the probe."""
    count = max(1, int(megabytes * 2**20) // len("<table>"))
    return jsonl_bytes(doc(name, abstract=["<table>" * count + TABLES_PROBE]))


def address_key(name: str) -> bytes:
    """A record with an address under an unknown description key."""
    rec = doc(name)
    rec["description"] = {"발명자의 주소": ADDRESS, "inventor_address": ADDRESS, **rec["description"]}
    return jsonl_bytes(rec)


def parquet_bad_cell(name: str) -> bytes:
    """3 rows; the second row's id is not UTF-8 (written as raw bytes into a string column)."""
    import struct

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = parquet_rows(name, 3)
    table = pa.Table.from_pylist(rows, schema=parquet_schema())
    ids = [r["id"].encode("utf-8") for r in rows]
    ids[1] = ids[1] + b"\xff\xfe"
    offsets = [0]
    for value in ids:
        offsets.append(offsets[-1] + len(value))
    column = pa.Array.from_buffers(
        pa.string(),
        len(ids),
        [None, pa.py_buffer(struct.pack(f"<{len(offsets)}i", *offsets)), pa.py_buffer(b"".join(ids))],
    )
    table = table.set_column(table.schema.get_field_index("id"), "id", column)
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def utf16_text_without_bom(name: str) -> bytes:
    return text_bytes(doc(name, abstract=[UTF16_PROBE])).decode("utf-8").encode("utf-16-le")


def address_section(name: str) -> bytes:
    """【】 text with a 【발명자의 주소】 section inside the description."""
    text = text_bytes(doc(name)).decode("utf-8")
    return text.replace("【배경기술】", f"【발명자의 주소】\n{ADDRESS}\n【배경기술】", 1).encode("utf-8")
