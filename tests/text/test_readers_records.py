"""pipeline.text.readers.records: JSONL lines and Parquet rows -> Publication."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from pipeline.text import readers
from pipeline.text.publication import InputRejected, Publication
from pipeline.text.readers import (
    iter_jsonl,
    iter_parquet,
    parse_jsonl_line,
    parse_record,
)
from tests.text.reader_samples import (
    AGENT,
    APP_NO,
    APPLICANT,
    INVENTOR,
    all_text,
    pairs,
)

# --------------------------------------------------------------------------
# Records (JSONL / Parquet)
# --------------------------------------------------------------------------

RECORD = {
    "id": "KR1020200000001",
    "title": "산화막 형성 방법",
    "cpc": "Y02E 10/50; C01B 33/12",
    "ipc": ["H01L 21/02"],
    "application_number": APP_NO,
    "filing_date": "2020-09-15",
    "applicant": APPLICANT,
    "inventors": [INVENTOR],
    "agent": AGENT,
    "abstract": "저온에서 산화막을 형성한다.",
    "claims": ["기판을 포함하는 소자.", "제1항에 있어서, 두께가 10 nm인 소자.", "삭제", ""],
    "description": {
        "technical-field": "본 발명은 산화막에 관한 것이다.",
        "배경기술": ["종래 기술 1.", "종래 기술 2."],
        "tech_problem": ["과제이다."],
        "해결하려는 과제": [None, "두 번째 과제이다."],
        "Description_Of_Embodiments": ["실시예이다."],
        "신규 섹션": ["어디에도 없는 섹션."],
        "출원인": [APPLICANT],
        "applicant": APPLICANT,
    },
}


def test_parse_record_sections_and_ignored_keys():
    pub = parse_record(RECORD, "r.jsonl:1")
    assert pairs(pub) == [
        ("title", "산화막 형성 방법"),
        ("technical_field", "본 발명은 산화막에 관한 것이다."),
        ("background_art", "종래 기술 1."),
        ("background_art", "종래 기술 2."),
        ("tech_problem", "과제이다."),
        ("tech_problem", "두 번째 과제이다."),
        ("description_of_embodiments", "실시예이다."),
        # "신규 섹션" is not a known section key: ignored (an allow-list).
        ("claims", "기판을 포함하는 소자."),
        ("claims", "제1항에 있어서, 두께가 10 nm인 소자."),
        ("abstract", "저온에서 산화막을 형성한다."),
    ]
    assert (pub.doc_id, pub.source, pub.cpc_section) == ("KR1020200000001", "r.jsonl:1", "C")
    for value in (APPLICANT, INVENTOR, AGENT, APP_NO):
        assert value not in all_text(pub)


def test_parse_record_classification_and_id_variants():
    base = {"abstract": ["요약."]}
    assert parse_record({**base, "id": 42}, "s").doc_id == "42"
    assert parse_record({**base, "id": " KR1 "}, "s").doc_id == "KR1"
    assert (
        parse_record({**base, "id": "a", "cpc": None, "ipc": "G06F 3/01,H04L 1/00"}, "s").cpc_section == "G"
    )
    assert parse_record({**base, "id": "a", "cpc": [], "ipc": None}, "s").cpc_section is None
    # Arrow map<string, list<string>> arrives as a list of pairs.
    pairs_desc = {
        **base,
        "id": "a",
        "description": [("technical_field", ["분야."]), ("background-art", None)],
    }
    assert pairs(parse_record(pairs_desc, "s"))[0] == ("technical_field", "분야.")


@pytest.mark.parametrize(
    ("record", "want", "key"),
    [
        ({"title": "명칭", "abstract": "요약."}, "missing_id", ""),
        ({"id": None, "abstract": "요약."}, "missing_id", ""),
        ({"id": "  ", "abstract": "요약."}, "missing_id", ""),
        ({"id": 1.5, "abstract": "요약."}, "bad_record", "id"),
        ({"id": True, "abstract": "요약."}, "bad_record", "id"),
        ({"id": "a", "abstract": 5}, "bad_record", "abstract"),
        ({"id": "a", "claims": ["ok", 7]}, "bad_record", "claims[1]"),
        ({"id": "a", "title": {"ko": "x"}, "abstract": "요약."}, "bad_record", "title"),
        ({"id": "a", "description": 3}, "bad_record", "description"),
        (
            {"id": "a", "description": {"technical_field": [1]}},
            "bad_record",
            "description.technical_field[0]",
        ),
        ({"id": "a", "abstract": "요약.", "cpc": 12}, "bad_record", "cpc"),
        ({"id": "a", "title": "명칭만"}, "no_text", ""),
        ({"id": "a", "abstract": ["", "  "], "claims": ["삭제"]}, "no_text", ""),
        (["not", "a", "mapping"], "bad_record", "record"),
    ],
)
def test_parse_record_rejects(record, want, key):
    with pytest.raises(InputRejected) as exc:
        parse_record(record, "r.jsonl:3")
    assert exc.value.reason == want
    assert key in exc.value.detail
    assert exc.value.detail.startswith("r.jsonl:3")


def test_iter_jsonl_bad_line_in_the_middle():
    good1 = json.dumps({"id": "A", "abstract": ["첫째."]}, ensure_ascii=False).encode() + b"\n"
    good2 = json.dumps({"id": "B", "claims": "둘째."}, ensure_ascii=False).encode() + b"\r\n"
    lines = [
        b"\xef\xbb\xbf" + good1,
        b"\n",
        b'{"id": "broken", "abstract": [\n',
        "비정상".encode("cp949") + b"\n",
        b"[1, 2]\n",
        b'{"abstract": "no id"}\n',
        b"   \n",
        good2,
    ]
    items = list(iter_jsonl(lines, "data/p.jsonl"))
    assert [type(i).__name__ for i in items] == [
        "Publication",
        "InputRejected",
        "InputRejected",
        "InputRejected",
        "InputRejected",
        "Publication",
    ]
    assert [(p.doc_id, p.source) for p in items if isinstance(p, Publication)] == [
        ("A", "data/p.jsonl:1"),
        ("B", "data/p.jsonl:8"),
    ]
    rejects = [i for i in items if isinstance(i, InputRejected)]
    assert [r.reason for r in rejects] == ["malformed_json", "undecodable", "bad_record", "missing_id"]
    assert [r.detail.split(": ")[0] for r in rejects] == [f"data/p.jsonl:{n}" for n in (3, 4, 5, 6)]


def test_iter_jsonl_str_lines_and_file_object(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "A", "abstract": "가."}\n\n{"id": "B", "abstract": "나."}', encoding="utf-8")
    with open(path, "rb") as f:
        assert [p.doc_id for p in iter_jsonl(f, str(path))] == ["A", "B"]
    with open(path, encoding="utf-8") as f:
        assert [p.source for p in iter_jsonl(f, "p")] == ["p:1", "p:3"]
    cp949_line = ['{"id": "C", "abstract": "다."}'.encode("cp949")]
    assert next(iter_jsonl(cp949_line, "p", encodings=("utf-8", "cp949"))).doc_id == "C"


def test_iter_jsonl_raw_control_characters_in_strings_are_kept():
    line = '{"id": "A", "abstract": "제어\x00 문자\x1b가 있는 요약.", "claims": "탭\t청구."}'.encode()
    (pub,) = iter_jsonl([line], "p.jsonl")
    assert pairs(pub) == [("claims", "탭\t청구."), ("abstract", "제어\x00 문자\x1b가 있는 요약.")]


def _write_parquet(path: Path, table) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, str(path))


def test_iter_parquet_map_and_struct_descriptions_extra_columns(tmp_path):
    import pyarrow as pa

    schema = pa.schema(
        [
            ("id", pa.string()),
            ("title", pa.string()),
            ("abstract", pa.list_(pa.string())),
            ("claims", pa.list_(pa.string())),
            ("description", pa.map_(pa.string(), pa.list_(pa.string()))),
            ("cpc", pa.list_(pa.string())),
            ("ipc", pa.list_(pa.string())),
            ("applicant", pa.string()),
            ("application_number", pa.string()),
        ]
    )
    rows = [
        {
            "id": "P1",
            "title": "명칭",
            "abstract": ["요약."],
            "claims": ["청구 1.", "청구 2."],
            "description": [("technical_field", ["분야."]), ("배경기술", ["배경."])],
            "cpc": ["B01J 21/06"],
            "ipc": None,
            "applicant": APPLICANT,
            "application_number": APP_NO,
        },
        {
            "id": "P2",
            "title": None,
            "abstract": None,
            "claims": ["청구."],
            "description": None,
            "cpc": None,
            "ipc": ["A61K 9/00"],
            "applicant": None,
            "application_number": None,
        },
    ]
    path = tmp_path / "map.parquet"
    _write_parquet(path, pa.Table.from_pylist(rows, schema=schema))
    with open(path, "rb") as f:
        items = list(iter_parquet(f, str(path)))
    assert [(p.doc_id, p.source, p.cpc_section) for p in items] == [
        ("P1", f"{path}:1", "B"),
        ("P2", f"{path}:2", "A"),
    ]
    assert pairs(items[0]) == [
        ("title", "명칭"),
        ("technical_field", "분야."),
        ("background_art", "배경."),
        ("claims", "청구 1."),
        ("claims", "청구 2."),
        ("abstract", "요약."),
    ]
    assert APPLICANT not in all_text(items[0])

    struct = pa.struct([("technical_field", pa.list_(pa.string())), ("tech_problem", pa.string())])
    table = pa.table(
        {
            "id": pa.array([7], pa.int64()),
            "description": pa.array([{"technical_field": ["분야."], "tech_problem": None}], struct),
            "inventors": pa.array([[INVENTOR]]),
        }
    )
    _write_parquet(tmp_path / "struct.parquet", table)
    with open(tmp_path / "struct.parquet", "rb") as f:
        (pub,) = iter_parquet(f, "struct.parquet")
    assert (pub.doc_id, pairs(pub)) == ("7", [("technical_field", "분야.")])


def test_iter_parquet_bad_rows_missing_id_column_and_corrupt_file(tmp_path):
    import pyarrow as pa

    table = pa.table({"id": ["A", None, "C"], "abstract": ["가.", "나.", None]})
    _write_parquet(tmp_path / "rows.parquet", table)
    with open(tmp_path / "rows.parquet", "rb") as f:
        items = list(iter_parquet(f, "rows.parquet"))
    assert [getattr(i, "doc_id", None) or i.reason for i in items] == ["A", "missing_id", "no_text"]

    _write_parquet(
        tmp_path / "noid.parquet", pa.table({"doc": ["A", "B", "C"], "abstract": ["가.", "나.", "다."]})
    )
    with open(tmp_path / "noid.parquet", "rb") as f:
        rejected = list(iter_parquet(f, "noid.parquet"))
    # One reject per row, so that rows in = publications + rejects.
    assert [r.reason for r in rejected] == ["bad_parquet_schema"] * 3
    assert [r.detail.split(": ")[0] for r in rejected] == [f"noid.parquet:{n}" for n in (1, 2, 3)]

    data = (tmp_path / "rows.parquet").read_bytes()
    for corrupt in (b"not a parquet file at all", data[: len(data) // 2], b""):
        (rejected,) = list(iter_parquet(io.BytesIO(corrupt), "bad.parquet"))
        assert rejected.reason == "malformed_parquet"


def test_iter_parquet_corruption_mid_file_rejects_every_unread_row(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"id": [f"A{i}" for i in range(6)], "abstract": [f"{i}번째 요약." for i in range(6)]})
    out = io.BytesIO()
    pq.write_table(table, out, row_group_size=2, compression="none")
    data = bytearray(out.getvalue())
    column = pq.ParquetFile(io.BytesIO(bytes(data))).metadata.row_group(1).column(0)
    start = column.dictionary_page_offset or column.data_page_offset
    data[start : start + column.total_compressed_size] = b"\xff" * column.total_compressed_size
    items = list(iter_parquet(io.BytesIO(bytes(data)), "c.parquet"))
    # The footer declares 6 rows: 6 items, whatever was read before the damage.
    assert len(items) == 6
    rejects = [i for i in items if isinstance(i, InputRejected)]
    assert rejects and {r.reason for r in rejects} == {"malformed_parquet"}
    published = [i.source for i in items if isinstance(i, Publication)]
    rejected = [r.detail.split(": ")[0] for r in rejects]
    assert sorted(published + rejected) == [f"c.parquet:{n}" for n in range(1, 7)]


def test_iter_parquet_non_seekable_stream(tmp_path):
    import pyarrow as pa

    _write_parquet(tmp_path / "a.parquet", pa.table({"id": ["A"], "claims": [["청구."]]}))

    class Stream(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._b = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, buf) -> int:
            return self._b.readinto(buf)

    (pub,) = iter_parquet(Stream((tmp_path / "a.parquet").read_bytes()), "a.parquet")
    assert pub.doc_id == "A"


# ------------------------------------------------ faults that must cost one unit at most


def test_lone_surrogate_in_text_is_repaired_and_in_id_rejected():
    # Valid JSON, not encodable as UTF-8: the Parquet writer failed on it.
    good = parse_jsonl_line('{"id": "KR1", "abstract": "본 발명은 \\ud800 이다."}', "a.jsonl:1")
    assert isinstance(good, Publication)
    assert good.paragraphs[0].text == "본 발명은 \ufffd 이다."
    good.paragraphs[0].text.encode("utf-8")
    bad = parse_jsonl_line('{"id": "KR\\udfff", "abstract": "본 발명은 이다."}', "a.jsonl:2")
    assert isinstance(bad, InputRejected) and bad.reason == "bad_record"
    assert "surrogate" in bad.detail


def test_id_of_4301_digits_is_rejected_not_raised():
    # Python's int() refuses more than 4,300 digits (ValueError outside json's errors).
    line = '{"id": ' + "1" * 4301 + ', "abstract": "본 발명은 숫자이다."}'
    item = parse_jsonl_line(line, "a.jsonl:1")
    assert isinstance(item, InputRejected) and item.reason == "bad_record"
    assert "4301 digits" in item.detail
    # In a field the reader ignores, the huge number costs nothing.
    ok = parse_jsonl_line('{"id": "KR1", "seq": ' + "7" * 5000 + ', "abstract": "본 발명은 이다."}', "a:2")
    assert isinstance(ok, Publication)
    assert parse_jsonl_line('{"id": 12345, "abstract": "본 발명은 이다."}', "a:3").doc_id == "12345"


def test_unknown_description_keys_never_become_text():
    record = {
        "id": "KR1",
        "description": {
            "technical_field": "본 발명은 전지에 관한 것이다.",
            "발명자의 주소": "서울특별시 강남구 테헤란로 1",
            "inventor_address": "Seoul",
            "notes": "내부 메모",
        },
    }
    assert pairs(parse_record(record, "r:1")) == [("technical_field", "본 발명은 전지에 관한 것이다.")]


def test_utf16_jsonl_with_bom_is_one_record_per_line():
    text = "\n".join(json.dumps({"id": f"KR{i}", "abstract": f"본 발명은 {i}번이다."}) for i in range(3))
    for codec in ("utf-16", "utf-16-be", "utf-32"):
        data = text.encode(codec) if codec != "utf-16-be" else b"\xfe\xff" + text.encode(codec)
        assert readers.wide_jsonl_codec(data[:4]) is not None
        items = list(readers.iter_wide_jsonl(data, "w.jsonl"))
        assert [i.doc_id for i in items] == ["KR0", "KR1", "KR2"], codec
        assert [i.source for i in items] == ["w.jsonl:1", "w.jsonl:2", "w.jsonl:3"]
    assert readers.wide_jsonl_codec(b'{"id"') is None


def test_undecodable_parquet_cell_rejects_only_its_row():
    import struct

    import pyarrow as pa
    import pyarrow.parquet as pq

    data = b"KR1KR\xff2KR3"
    offsets = struct.pack("<4i", 0, 3, 7, 10)
    ids = pa.Array.from_buffers(pa.string(), 3, [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    table = pa.table({"id": ids, "abstract": pa.array(["본 발명은 행이다."] * 3)})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    buf.seek(0)
    items = list(readers.iter_parquet(buf, "t.parquet"))
    assert [type(i).__name__ for i in items] == ["Publication", "InputRejected", "Publication"]
    assert [i.doc_id for i in items if isinstance(i, Publication)] == ["KR1", "KR3"]
    assert items[1].reason == "undecodable" and items[1].detail.startswith("t.parquet:2:")
