"""Ingest's per-file logic without Beam: ranges, archives and the accounting rule."""

import gzip
import io
import json

import pytest

from pipeline.config import IngestConfig
from pipeline.stages.ingest import file_entries, parse_file
from pipeline.text import readers
from pipeline.text.publication import InputRejected, Publication

RECORDS = [
    {"id": f"KR{i}", "title": "세제 조성물", "abstract": f"본 발명은 {i}번째 세제 조성물에 관한 것이다."}
    for i in range(7)
]


def _jsonl_bytes(bad_line_at: int | None = None) -> bytes:
    lines = [json.dumps(r, ensure_ascii=False) for r in RECORDS]
    if bad_line_at is not None:
        lines.insert(bad_line_at, '{"id": "broken", ')
    return ("\n".join(lines) + "\n").encode("utf-8")


@pytest.mark.parametrize("step", [1, 7, 40, 100, 10_000])
def test_jsonl_ranges_read_every_line_exactly_once(step):
    data = _jsonl_bytes(bad_line_at=3)
    bounds = list(range(0, len(data), step)) + [len(data)]
    items = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        items.extend(readers.iter_jsonl_range(io.BytesIO(data), "f.jsonl", start, end))
    ids = [i.doc_id for i in items if isinstance(i, Publication)]
    assert ids == [r["id"] for r in RECORDS]
    rejected = [i for i in items if isinstance(i, InputRejected)]
    assert [r.reason for r in rejected] == ["malformed_json"]
    # Sources are byte offsets that point at the line itself.
    for item in items:
        if isinstance(item, Publication):
            offset = int(item.source.split("@")[1])
            assert data[offset:].startswith(b'{"id": "' + item.doc_id.encode())


def test_big_jsonl_becomes_ranges_and_small_files_stay_whole():
    class Meta:
        def __init__(self, path, size):
            self.path, self.size_in_bytes = path, size

    big = list(file_entries(Meta("/d/a.jsonl", 50), "jsonl", 4, split_bytes=20))
    assert [entry[1][3:] for entry in big] == [(0, 20), (20, 40), (40, 50)]
    assert all(0 <= shard < 4 for shard, _ in big)
    assert [e[1][3:] for e in file_entries(Meta("/d/a.jsonl.gz", 50), "jsonl", 4, 20)] == [(0, None)]
    assert [e[1][3:] for e in file_entries(Meta("/d/a.xml", 50), "kipo_xml", 4, 20)] == [(0, None)]


def _write(tmp_path, name, data: bytes) -> tuple[str, int]:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path), len(data)


def _reasons(items):
    return [item[1].reason for item in items if isinstance(item, tuple)]


@pytest.mark.parametrize(
    "name, data, fmt, reason",
    [
        ("empty.jsonl", b"", "jsonl", "empty_file"),
        ("blank.jsonl", b"\n\n", "jsonl", "empty_file"),
        ("zero.jsonl.gz", b"", "jsonl", "empty_file"),
        ("truncated.jsonl.gz", gzip.compress(_jsonl_bytes())[:40], "jsonl", "corrupt_archive"),
        ("truncated.xml.gz", gzip.compress(b"<KIPO>" + b"x" * 1000)[:30], "kipo_xml", "malformed_gzip"),
        ("zero.xml.gz", b"", "kipo_xml", "empty_file"),
        ("binary.xml", bytes(range(256)) * 4, "kipo_xml", "binary_file"),
        ("broken.parquet", b"PAR1 not really", "parquet", "malformed_parquet"),
    ],
)
def test_bad_files_become_rejects(tmp_path, name, data, fmt, reason):
    path, size = _write(tmp_path, name, data)
    items = list(parse_file(path, size, fmt, IngestConfig()))
    assert _reasons(items) == [reason]


def test_gzipped_jsonl_is_read(tmp_path):
    path, size = _write(tmp_path, "a.jsonl.gz", gzip.compress(_jsonl_bytes()))
    items = list(parse_file(path, size, "jsonl", IngestConfig()))
    assert [i.doc_id for i in items] == [r["id"] for r in RECORDS]


def test_too_large_xml_is_rejected_without_reading(tmp_path):
    path, _ = _write(tmp_path, "big.xml", b"<KIPO/>")
    items = list(parse_file(path, 300 * 1024 * 1024, "kipo_xml", IngestConfig()))
    assert _reasons(items) == ["file_too_large"]


def test_fallback_id_is_the_file_stem():
    assert readers.doc_stem("gs://b/x/KR1020240010001.xml.gz") == "KR1020240010001"
    assert readers.doc_stem("/d/공개 특허.txt") == "공개 특허"


@pytest.mark.parametrize("step", [1, 50, 333, 10_000_000])
def test_jsonl_line_longer_than_the_limit_is_skipped_in_ranges(step):
    lines = [json.dumps(r, ensure_ascii=False).encode() for r in RECORDS[:2]]
    giant = b'{"id": "huge", "abstract": "' + "가".encode() * 400 + b'"}'
    data = b"\n".join([lines[0], giant, lines[1]]) + b"\n"
    bounds = list(range(0, len(data), step)) + [len(data)]
    items = []
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        items.extend(readers.iter_jsonl_range(io.BytesIO(data), "f.jsonl", start, end, max_line_bytes=1000))
    assert [getattr(i, "doc_id", None) or i.reason for i in items] == ["KR0", "line_too_large", "KR1"]
    assert items[1].detail.startswith(f"f.jsonl@{len(lines[0]) + 1}:")
    assert items[2].source == f"f.jsonl@{len(lines[0]) + len(giant) + 2}"


def test_gzip_bomb_line_in_jsonl_is_rejected_with_bounded_reads(tmp_path):
    bomb = b'{"id": "bomb", "abstract": "' + b" " * (3 << 20) + b'"}\n'
    data = gzip.compress(_jsonl_bytes()[:200].rsplit(b"\n", 1)[0] + b"\n" + bomb + _jsonl_bytes(), mtime=0)
    path, size = _write(tmp_path, "bomb.jsonl.gz", data)
    items = list(parse_file(path, size, "jsonl", IngestConfig(max_file_mb=1)))
    assert _reasons(items) == ["line_too_large"]
    assert len([i for i in items if isinstance(i, Publication)]) == len(RECORDS) + 1
