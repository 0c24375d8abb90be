"""Chaos: 1,000 publications with 5% of their units corrupted (seeded), through ingest and clean.

The corpus is synthetic (`pipeline.tools.synthetic_corpus`, shortened records,
~1.5 MB) in all four formats: 400 KIPO XML files, 300 JSONL lines in 3 files,
200 Parquet rows in 2 files, 100 sectioned text files. 50 units picked at
random get one of the faults of issue 16 each (every fault of the unit's
format in turn); the corpus also holds a UTF-16 JSONL file (BOM), a BOM-less
UTF-16 text file, a FIFO, a directory, a symlink loop, a dangling symlink and a
symlink to a file outside the inputs matching the globs, and two globs that
overlap. Each fault's outcome is fixed: the unit is rejected with a reason,
or its publication is read as if the fault were not there.

Checked: the runs finish; the accounting identities hold; every rejected
unit is in rejects/ with its reason; every other publication's clean output
(its sentences) equals that of a run over the same corpus without faults.
Dedup is off in both runs: a rejected publication would otherwise hand
a duplicate paragraph to another one, a legitimate difference.
"""

from __future__ import annotations

import json
import os
import random
import struct

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline.config import CleanConfig, IngestConfig
from pipeline.config.sections import NearDuplicatesConfig
from pipeline.stages.clean import CleanDocuments
from pipeline.stages.ingest import IngestPublications
from pipeline.tools.corpus_writers import (
    render_jsonl_line,
    render_kipo_xml,
    render_parquet,
    render_sectioned_text,
)
from pipeline.tools.synthetic_corpus import load_sources, synthesize

SEED = 16
PUBLICATIONS = 1000
CORRUPTED = PUBLICATIONS * 5 // 100
XML, JSONL, PARQUET, TEXT = range(0, 400), range(400, 700), range(700, 900), range(900, 1000)
ADDRESS = "서울특별시 강남구 테헤란로 123, 4층"

# ------------------------------------------------------------ faults, by format
# Each takes the unit (bytes of an XML/text file, a JSONL line, a Parquet row
# dict) and an rng, and returns the damaged unit; the outcome is "same" (read as
# if undamaged) or the reject reason.


def _xml_deep_inline(data: bytes, rng) -> bytes:
    text = data.decode("utf-8")
    start = text.index(">", text.index("<p ")) + 1
    end = text.index("</p>", start)
    return (text[:start] + "<b>" * 3000 + text[start:end] + "</b>" * 3000 + text[end:]).encode("utf-8")


def _xml_deep_blocks(data: bytes, rng) -> bytes:
    text = data.decode("utf-8")
    text = text.replace("<description>", "<description>" + "<div>" * 3000, 1)
    return text.replace("</description>", "</div>" * 3000 + "</description>", 1).encode("utf-8")


def _xml_forbidden_char_ref(data: bytes, rng) -> bytes:
    text = data.decode("utf-8")
    at = text.index(">", text.index("<p ")) + 3
    return (text[:at] + "&#1;&#xFFFE;" + text[at:]).encode("utf-8")


def _cut_in_half(data: bytes, rng) -> bytes:
    return data[: len(data) // 2]


def _binary(data: bytes, rng) -> bytes:
    return rng.randbytes(4096)


def _jsonl_surrogate_in_text(line: str, rng) -> str:
    return line.replace('"abstract": ["', '"abstract": ["\\ud800', 1)


def _jsonl_surrogate_in_id(line: str, rng) -> str:
    return line.replace('"id": "', '"id": "\\udfff', 1)


def _jsonl_huge_id(line: str, rng) -> str:
    record = json.loads(line)
    return line.replace(json.dumps(record["id"]), "9" * 4301, 1)


def _jsonl_address_key(line: str, rng) -> str:
    return line.replace('"description": {', f'"description": {{"발명자의 주소": "{ADDRESS}", ', 1)


def _jsonl_unclosed_tables(line: str, rng) -> str:
    return line.replace('"abstract": ["', '"abstract": ["' + "<table>" * 2000, 1)


def _jsonl_cut(line: str, rng) -> str:
    return line[: len(line) // 2] + "\n"


def _row_bad_cell(row: dict, rng) -> dict:
    return {**row, "id": row["id"].encode("utf-8") + b"\xff"}  # bytes: written as-is, not UTF-8


def _row_no_id(row: dict, rng) -> dict:
    return {**row, "id": None}


def _text_address_section(data: bytes, rng) -> bytes:
    text = data.decode("utf-8")
    return text.replace("【기술분야】", f"【발명자의 주소】\n{ADDRESS}\n【기술분야】", 1).encode("utf-8")


def _empty(data: bytes, rng) -> bytes:
    return b""


FAULTS = {
    "xml": [
        (_xml_deep_inline, "same"),
        (_xml_deep_blocks, "same"),
        (_xml_forbidden_char_ref, "same"),
        (_cut_in_half, "malformed_xml"),
        (_binary, "binary_file"),
    ],
    "jsonl": [
        (_jsonl_surrogate_in_text, "same"),
        (_jsonl_surrogate_in_id, "bad_record"),
        (_jsonl_huge_id, "bad_record"),
        (_jsonl_address_key, "same"),
        (_jsonl_unclosed_tables, "same"),
        (_jsonl_cut, "malformed_json"),
    ],
    "parquet": [(_row_bad_cell, "undecodable"), (_row_no_id, "missing_id")],
    "text": [(_text_address_section, "same"), (_empty, "empty_file"), (_binary, "binary_file")],
}


# ------------------------------------------------------------ the corpus


def _records() -> list[dict]:
    """1,000 synthetic publications, shortened: two description sections, two claims."""
    records = []
    for rec in synthesize(load_sources(), PUBLICATIONS, seed=SEED):
        rec["description"] = {k: v[:1] for k, v in list(rec["description"].items())[:2]}
        rec["claims"] = rec["claims"][:2]
        records.append(rec)
    return records


def _fault_plan() -> dict[int, tuple]:
    """Unit index -> (fault, expected outcome): 5% of the units, every fault of a format in turn."""
    rng = random.Random(SEED)
    plan, turn = {}, {}
    for index in sorted(rng.sample(range(PUBLICATIONS), CORRUPTED)):
        fmt = next(
            f for f, r in (("xml", XML), ("jsonl", JSONL), ("parquet", PARQUET), ("text", TEXT)) if index in r
        )
        faults = FAULTS[fmt]
        plan[index] = faults[turn.get(fmt, 0) % len(faults)]
        turn[fmt] = turn.get(fmt, 0) + 1
    return plan


def _parquet_bytes(rows: list[dict]) -> bytes:
    """render_parquet's file, with the id column rebuilt from raw bytes (a cell may not be UTF-8)."""
    data = render_parquet([{**r, "id": "placeholder"} for r in rows])
    table = pq.read_table(pa.BufferReader(data))
    ids = [
        None if r["id"] is None else r["id"] if isinstance(r["id"], bytes) else r["id"].encode() for r in rows
    ]
    offsets, blob = [0], b""
    for value in ids:
        blob += value or b""
        offsets.append(len(blob))
    validity = pa.array([v is not None for v in ids]).buffers()[1]
    column = pa.Array.from_buffers(
        pa.string(),
        len(ids),
        [validity, pa.py_buffer(struct.pack(f"<{len(offsets)}i", *offsets)), pa.py_buffer(blob)],
    )
    table = table.set_column(0, "id", column)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def write_corpus(root, records, plan) -> tuple[list[tuple[str, str]], dict[str, tuple[str, str]]]:
    """The corpus under root/in (faults applied when `plan` is given), plus its traps.

    Returns the input globs and, per damaged unit, (its source prefix, expected outcome).
    """
    rng = random.Random(SEED + 1)
    folders = {f: root / "in" / f for f in ("xml", "jsonl", "parquet", "text")}
    for folder in folders.values():
        folder.mkdir(parents=True)
    expected: dict[str, tuple[str, str]] = {}

    def damaged(index, unit):
        if index not in plan:
            return unit
        fault, outcome = plan[index]
        expected[records[index]["id"]] = (fault.__name__, outcome)
        return fault(unit, rng)

    for i in XML:
        (folders["xml"] / f"{records[i]['id']}.xml").write_bytes(damaged(i, render_kipo_xml(records[i])))
    for part in range(3):
        lines = [damaged(i, render_jsonl_line(records[i])) for i in JSONL[part * 100 : (part + 1) * 100]]
        text = "".join(lines)
        # Part 1 comes as UTF-16 with a BOM (one record per line, all of them read).
        data = text.encode("utf-16") if part == 1 and plan else text.encode("utf-8")
        (folders["jsonl"] / f"part-{part:05d}.jsonl").write_bytes(data)
    for part in range(2):
        rows = [damaged(i, records[i]) for i in PARQUET[part * 100 : (part + 1) * 100]]
        (folders["parquet"] / f"part-{part:05d}.parquet").write_bytes(_parquet_bytes(rows))
    for i in TEXT:
        data = damaged(i, render_sectioned_text(records[i]).encode("utf-8"))
        if i == TEXT[-1] and plan and i not in plan:
            data = data.decode("utf-8").encode("utf-16-le")  # no BOM: text, not binary
        (folders["text"] / f"{records[i]['id']}.txt").write_bytes(data)
    if plan:  # the traps: none of them is a publication
        os.mkfifo(folders["xml"] / "fifo.xml")
        (folders["xml"] / "folder.xml").mkdir()
        os.symlink("loop.txt", folders["text"] / "loop.txt")
        os.symlink("gone.txt", folders["text"] / "dangling.txt")
        (root / "elsewhere").mkdir()
        (root / "elsewhere" / "secret.jsonl").write_text(render_jsonl_line(records[0]), encoding="utf-8")
        os.symlink(root / "elsewhere" / "secret.jsonl", folders["jsonl"] / "outside.jsonl")
    globs = [
        (str(folders["xml"] / "*.xml"), "kipo_xml"),
        (str(folders["jsonl"] / "*.jsonl"), "jsonl"),
        (str(folders["jsonl"] / "part-00000*"), "jsonl"),  # overlaps the one above
        (str(folders["parquet"] / "*.parquet"), "parquet"),
        (str(folders["text"] / "*.txt"), "text"),
    ]
    return globs, expected


def _counters(result) -> dict[str, int]:
    counters: dict[str, int] = {}
    for c in result.metrics().query()["counters"]:
        counters[c.key.metric.name] = counters.get(c.key.metric.name, 0) + c.committed
    return counters


def run_ingest_and_clean(root, globs):
    """Ingest then clean, in process; -> (ingest counters, clean counters, rejects, sentences)."""
    ingest = IngestConfig(num_shards=4)
    p = TestPipeline()
    _ = p | IngestPublications(globs, ingest, str(root / "ingest"))
    result = p.run()
    result.wait_until_finish()
    ingest_counters = _counters(result)
    p = TestPipeline()
    # Dedup off, exact and near: the corpus recombines a few sources' paragraphs, and the
    # test is about which publications a fault costs, not about which repeat others.
    config = CleanConfig(
        dedup_documents=False, dedup_paragraphs=False, near_duplicates=NearDuplicatesConfig(enabled=False)
    )
    _ = p | CleanDocuments(str(root / "ingest" / "paragraphs" / "*.parquet"), 4, config, str(root / "clean"))
    result = p.run()
    result.wait_until_finish()
    clean_counters = _counters(result)
    rejects = [
        json.loads(line)
        for path in sorted((root / "ingest" / "rejects").glob("*.jsonl"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    sentences: dict[str, list] = {}
    for path in sorted((root / "clean" / "sentences").glob("*.parquet")):
        for row in pq.read_table(str(path)).to_pylist():
            sentences.setdefault(row["doc_id"], []).append(
                (row["paragraph_index"], row["section"], row["sentence_index"], row["text"])
            )
    return ingest_counters, clean_counters, rejects, sentences


@pytest.mark.slow
def test_chaos_corpus_costs_only_its_bad_units(tmp_path):
    records = _records()
    plan = _fault_plan()
    used = {fault.__name__ for fault, _ in plan.values()}
    assert used == {fault.__name__ for faults in FAULTS.values() for fault, _ in faults}  # every fault

    clean_globs, _ = write_corpus(tmp_path / "clean_run", records, {})
    _, _, base_rejects, base = run_ingest_and_clean(tmp_path / "clean_run", clean_globs)
    assert base_rejects == [] and len(base) == PUBLICATIONS

    globs, expected = write_corpus(tmp_path / "chaos_run", records, plan)
    ingest, clean, rejects, sentences = run_ingest_and_clean(tmp_path / "chaos_run", globs)

    rejected_ids = {doc_id for doc_id, (_, outcome) in expected.items() if outcome != "same"}
    traps = 4  # FIFO, symlink loop, dangling symlink, symlink leaving the inputs
    assert ingest["input_units"] == PUBLICATIONS + traps
    assert ingest["input_units"] == ingest["publications_written"] + ingest["rejected"]
    assert ingest["rejected"] == len(rejected_ids) + traps == len(rejects)
    assert ingest["skipped_directories"] == 1
    assert ingest["files_jsonl"] == 3  # part-00000 matched twice, read once
    assert clean["documents_in"] == ingest["publications_written"]
    assert clean["documents_in"] == clean["documents_written"] + clean.get("rejected_documents", 0)

    # Every rejected unit is in rejects/ with its reason (ids lost with the unit:
    # compare reasons as a multiset).
    want = sorted([o for _, o in expected.values() if o != "same"] + ["not_a_regular_file", "symlink_loop"])
    want = sorted(want + ["dangling_symlink", "symlink_outside_inputs"])
    assert sorted(r["reason"] for r in rejects) == want

    # Every other publication: the same sentences as in the run without faults.
    assert set(sentences) == set(base) - rejected_ids
    for doc_id, rows in sentences.items():
        assert rows == base[doc_id], (doc_id, expected.get(doc_id))
