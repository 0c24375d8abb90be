"""Ingest's per-file logic without Beam (ranges, archives, the accounting rule), then the
transform: only regular files opened, overlapping globs, the reject-share limit."""

import gzip
import io
import json
import os

import pyarrow.parquet as pq
import pytest

from pipeline.config import IngestConfig
from pipeline.stages.ingest import (
    IngestPublications,
    RejectShareExceeded,
    check_reject_share,
    file_entries,
    parse_file,
    reject_record,
    sum_counts,
    unwritable,
)
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
    big = list(file_entries("/d/a.jsonl", 50, "jsonl", 4, split_bytes=20))
    assert [entry[1][3:] for entry in big] == [(0, 20), (20, 40), (40, 50)]
    assert all(0 <= shard < 4 for shard, _ in big)
    assert [e[1][3:] for e in file_entries("/d/a.jsonl.gz", 50, "jsonl", 4, 20)] == [(0, None)]
    assert [e[1][3:] for e in file_entries("/d/a.xml", 50, "kipo_xml", 4, 20)] == [(0, None)]


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


# ------------------------------------------------ the transform: files, overlaps, reject share


def _run_ingest(tmp_path, inputs, **settings):
    """IngestPublications in process -> (counters, {source: doc_id}, [(source, reason)])."""
    from apache_beam.testing.test_pipeline import TestPipeline

    out = tmp_path / "out"
    p = TestPipeline()
    _ = p | IngestPublications(inputs, IngestConfig(num_shards=2, **settings), str(out))
    result = p.run()
    result.wait_until_finish()
    counters = {}
    for c in result.metrics().query()["counters"]:
        counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + c.committed
    published = {}
    for path in sorted((out / "paragraphs").glob("*.parquet")):
        for row in pq.read_table(str(path)).to_pylist():
            published[row["source"]] = row["doc_id"]
    rejects = [
        (r["source"], r["reason"])
        for path in sorted((out / "rejects").glob("*.jsonl"))
        for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())
    ]
    assert counters.get("input_units", 0) == counters.get("publications_written", 0) + counters.get(
        "rejected", 0
    )
    assert counters.get("rejected", 0) == len(rejects)
    return counters, published, sorted(rejects)


def _line(doc_id: str) -> str:
    return json.dumps({"id": doc_id, "abstract": f"본 발명은 {doc_id}에 관한 것이다."}, ensure_ascii=False)


def test_only_regular_files_are_opened_and_every_other_match_is_counted(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.jsonl").write_text(_line("KR1") + "\n", encoding="utf-8")
    os.mkfifo(folder / "fifo.jsonl")  # open() on it would block forever
    (folder / "dir.jsonl").mkdir()
    os.symlink("loop.jsonl", folder / "loop.jsonl")
    os.symlink("missing.jsonl", folder / "dangling.jsonl")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.jsonl").write_text(_line("KR9") + "\n", encoding="utf-8")
    os.symlink(outside / "secret.jsonl", folder / "outside.jsonl")
    os.symlink("good.jsonl", folder / "alias.jsonl")  # inside the input folder: read
    inputs = [(str(folder / "*.jsonl"), "jsonl")]

    counters, published, rejects = _run_ingest(tmp_path, inputs, max_reject_share=1.0)
    assert sorted(published) == [str(folder / "alias.jsonl@0"), str(folder / "good.jsonl@0")]
    assert rejects == [
        (str(folder / "dangling.jsonl"), "dangling_symlink"),
        (str(folder / "fifo.jsonl"), "not_a_regular_file"),
        (str(folder / "loop.jsonl"), "symlink_loop"),
        (str(folder / "outside.jsonl"), "symlink_outside_inputs"),
    ]
    assert counters["skipped_directories"] == 1 and counters["input_units"] == 6

    _, published, _ = _run_ingest(tmp_path, inputs, max_reject_share=1.0, follow_symlinks_outside=True)
    assert published[str(folder / "outside.jsonl@0")] == "KR9"


def test_a_file_matched_by_two_globs_is_read_once(tmp_path):
    # Read twice, both copies were then rejected by clean's dedup: 0 sentences.
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text(_line("KR1") + "\n" + _line("KR2") + "\n", encoding="utf-8")
    (folder / "b.jsonl").write_text(_line("KR3") + "\n", encoding="utf-8")
    inputs = [(str(folder / "*.jsonl"), "jsonl"), (str(folder / "a*.jsonl"), "jsonl")]
    counters, published, rejects = _run_ingest(tmp_path, inputs)
    assert sorted(published.values()) == ["KR1", "KR2", "KR3"] and rejects == []
    assert counters["input_units"] == 3 and counters["files_jsonl"] == 2


def test_rejected_share_over_the_limit_fails_the_stage(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    lines = [_line(f"KR{i}") for i in range(18)] + ["{not json", '{"id": ""}']
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    inputs = [(str(folder / "*.jsonl"), "jsonl")]
    counters, _, rejects = _run_ingest(tmp_path, inputs, max_reject_share=0.1)  # 2 of 20: at the limit
    assert counters["rejected"] == 2
    with pytest.raises(
        Exception,
        match=r"2 of 20 units rejected \(10.0%\), more than max_reject_share=0.05 "
        r"\(reasons: malformed_json 1, missing_id 1\)",
    ):
        _run_ingest(tmp_path, inputs)  # the default, 0.05


def test_check_reject_share():
    assert check_reject_share((100, {"no_text": 5}), 0.05, "ingest") == (100, {"no_text": 5})
    assert check_reject_share((0, {}), 0.0, "ingest") == (0, {})
    with pytest.raises(RejectShareExceeded, match=r"6 of 100 units .*reasons: a 4, b 2\)"):
        check_reject_share((100, {"b": 2, "a": 4}), 0.05, "ingest")
    assert sum_counts([(3, {"a": 1}), (5, {"a": 2, "b": 1})]) == (8, {"a": 3, "b": 1})


def test_a_file_name_that_is_not_utf8_costs_its_units_not_the_shard(tmp_path):
    # os.fsdecode gives lone surrogates for undecodable name bytes: Parquet cannot
    # store such a source, so each publication is an 'unwritable' reject, and the
    # reject record itself stays writable.
    path = os.path.join(str(tmp_path), os.fsdecode(b"bad\xff.jsonl"))
    with open(path, "w", encoding="utf-8") as f:
        f.write(_line("KR1") + "\n")
    (pub,) = parse_file(path, os.path.getsize(path), "jsonl", IngestConfig())
    assert unwritable(pub) == "source holds a lone surrogate"
    record = reject_record(InputRejected("unwritable", "x"), pub.source)
    json.dumps(record, ensure_ascii=False).encode("utf-8")
    assert record["source"].endswith("bad\ufffd.jsonl@0")


def test_titles_are_counted_and_come_first(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    titles = {
        "KR1": "폴리에틸렌 테레프탈레이트(PET) 필름(POLYETHYLENE TEREPHTHALATE FILM)",  # cut
        "KR2": "세제 조성물",  # kept
        "KR3": "DETERGENT COMPOSITION",  # dropped: no Korean
        "KR4": None,  # no title: not counted
    }
    lines = [
        json.dumps({"id": i, "title": t, "claims": ["세제를 포함하는 조성물."]}, ensure_ascii=False)
        for i, t in titles.items()
    ]
    (folder / "a.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    xml = (
        "<KIPO><KR_BibliographicInformation><KR_OpenNumber>KR5</KR_OpenNumber></KR_BibliographicInformation>"
        "<PatentCAFDOC><description><technical-field><p>본 발명은 세제에 관한 것이다.</p></technical-field>"
        "<invention-title>세제{DETERGENT}</invention-title></description></PatentCAFDOC></KIPO>"
    )
    (folder / "b.xml").write_text(xml, encoding="utf-8")
    inputs = [(str(folder / "*.jsonl"), "jsonl"), (str(folder / "*.xml"), "kipo_xml")]
    out = tmp_path / "out"
    counters, published, _ = _run_ingest(tmp_path, inputs)
    assert len(published) == 5
    assert {k: counters.get(f"titles_{k}", 0) for k in ("kept", "cut", "dropped")} == {
        "kept": 1,
        "cut": 2,
        "dropped": 1,
    }
    rows = [
        r
        for path in sorted((out / "paragraphs").glob("*.parquet"))
        for r in pq.read_table(str(path)).to_pylist()
    ]
    first = {r["doc_id"]: (r["section"], r["text"]) for r in rows if r["paragraph_index"] == 0}
    assert first == {
        "KR1": ("title", "폴리에틸렌 테레프탈레이트(PET) 필름"),
        "KR2": ("title", "세제 조성물"),
        "KR3": ("claims", "세제를 포함하는 조성물."),
        "KR4": ("claims", "세제를 포함하는 조성물."),
        "KR5": ("title", "세제"),
    }


def test_title_counters_are_in_the_accounting():
    from pipeline.stages.ingest import STAGE

    assert {"titles_kept", "titles_cut", "titles_dropped"} <= set(STAGE.accounting)
