"""CleanDocuments as a Beam transform: exact output files, dedup and accounting; the key exchange."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline import layout
from pipeline.config import CleanConfig
from pipeline.io import file_shuffle, filesystems
from pipeline.stages import clean
from pipeline.stages.clean import CleanDocuments, decide_ids, decide_texts, key_partition

BACKGROUND = "종래의 세제는 세정력이 낮고 거품이 많이 발생하여 헹굼에 많은 물이 필요하다는 문제가 있었다."


def _rows(doc_id, cpc, paragraphs, source=None):
    return [
        {
            "doc_id": doc_id,
            "source": source or f"{doc_id}.xml",
            "cpc_section": cpc,
            "paragraph_index": i,
            "section": section,
            "text": text,
        }
        for i, (section, text) in enumerate(paragraphs)
    ]


@pytest.mark.parametrize("spill_keys", [None, 2])
def test_clean_documents_end_to_end(tmp_path, monkeypatch, spill_keys):
    """spill_keys=2: every phase-1 task writes its dedup keys in many small files;
    the decisions, and so the output, are the same."""
    if spill_keys:
        monkeypatch.setattr(clean, "SPILL_KEYS", spill_keys)
    rows = (
        _rows(
            "KR1",
            "C",
            [
                ("title", "세제 조성물"),
                ("background_art", BACKGROUND),
                (
                    "tech_solution",
                    "본 발명의 세제는 계면활성제를 포함한다. 상기 계면활성제는 0.5 중량%로 포함된다.",
                ),
            ],
        )
        # KR2 is a re-publication of KR1: same text, new id.
        + _rows(
            "KR2",
            "C",
            [
                ("title", "세제 조성물"),
                ("background_art", BACKGROUND),
                (
                    "tech_solution",
                    "본 발명의 세제는 계면활성제를 포함한다. 상기 계면활성제는 0.5 중량%로 포함된다.",
                ),
            ],
        )
        # KR3 (a divisional) repeats KR1's background paragraph.
        + _rows(
            "KR3",
            "C",
            [
                ("background_art", BACKGROUND),
                ("claims", "계면활성제; 및 용매를 포함하는 것을 특징으로 하는 세제 조성물."),
            ],
        )
        # KR4 has nothing Korean left after filtering.
        + _rows("KR4", None, [("abstract", "The detergent comprises a surfactant.")])
        # A second instance of id KR3 (another file) with other text: a duplicate id.
        + _rows(
            "KR3",
            "C",
            [("abstract", "본 발명은 전혀 다른 세제 조성물에 관한 것이다.")],
            source="other.jsonl:7",
        )
        # KR5 consists only of KR1's background paragraph.
        + _rows("KR5", "C", [("background_art", BACKGROUND)])
    )
    src = tmp_path / "ingest"
    src.mkdir()
    # Two ingest shards, as ingest writes them: KR5 and the second KR3 in shard 1.
    first = [r for r in rows if r["doc_id"] != "KR5" and r["source"] != "other.jsonl:7"]
    second = [r for r in rows if r not in first]
    for i, part in enumerate((first, second)):
        table = pa.Table.from_pylist(part, schema=layout.paragraph_schema())
        pq.write_table(table, str(src / f"part-0000{i}-of-00002.parquet"))
    out = tmp_path / "clean"
    with TestPipeline() as p:
        _ = p | CleanDocuments(str(src / "*.parquet"), 2, CleanConfig(), str(out))
    key_files = list((out / filesystems.TMP_DIR).glob("keys-*.bin"))
    assert len(key_files) > 4 if spill_keys else len(key_files) == 2

    text = "".join(
        (out / "text" / f"part-0000{i}-of-00002.txt").read_text(encoding="utf-8") for i in range(2)
    )
    # Paragraph blocks (sentences one per line, a blank line after each):
    # KR1's background and solution, and KR3's claim. KR1's title is too short,
    # KR3's copy of the background is a duplicate paragraph.
    blocks = [b for b in text.split("\n\n") if b]
    assert sorted(blocks) == sorted(
        [
            BACKGROUND,
            "본 발명의 세제는 계면활성제를 포함한다.\n상기 계면활성제는 0.5 중량%로 포함된다.",
            "계면활성제; 및 용매를 포함하는 것을 특징으로 하는 세제 조성물.",
        ]
    )
    assert text.count("\n\n") == 3

    rejects = [
        json.loads(line)
        for i in range(2)
        for line in (out / "rejects" / f"part-0000{i}-of-00002.jsonl")
        .read_text(encoding="utf-8")
        .splitlines()
    ]
    by_doc = {}
    for r in rejects:
        by_doc.setdefault(r["doc_id"], []).append((r["kind"], r["reason"]))
    assert ("document", "duplicate_document") in by_doc["KR2"]
    assert ("document", "no_text_after_cleaning") in by_doc["KR4"]
    assert ("document", "all_paragraphs_duplicate") in by_doc["KR5"]
    assert ("paragraph", "duplicate_paragraph") in by_doc["KR3"]
    assert ("sentence", "too_short") in by_doc["KR1"]  # the 6-character title
    assert ("document", "duplicate_doc_id") in by_doc["KR3"]  # other.jsonl:7 > KR3.xml

    # Accounting: 6 document instances in = 2 written + 4 rejected.
    written = {r["doc_id"] for r in _sentences(out)}
    rejected = sorted(r["doc_id"] for r in rejects if r["kind"] == "document")
    assert written == {"KR1", "KR3"} and rejected == ["KR2", "KR3", "KR4", "KR5"]


def _sentences(out):
    tables = [pq.read_table(str(path)) for path in sorted((out / "sentences").glob("*.parquet"))]
    return [row for t in tables for row in t.to_pylist()]


def test_sentence_table_matches_text(tmp_path):
    rows = _rows("KR9", "H", [("abstract", "본 발명은 이차전지에 관한 것이다. 양극은 리튬을 포함한다.")])
    src = tmp_path / "ingest"
    src.mkdir()
    pq.write_table(
        pa.Table.from_pylist(rows, schema=layout.paragraph_schema()), str(src / "part-00000-of-00001.parquet")
    )
    out = tmp_path / "clean"
    with TestPipeline() as p:
        _ = p | CleanDocuments(str(src / "*.parquet"), 1, CleanConfig(), str(out))
    assert _sentences(out) == [
        {
            "doc_id": "KR9",
            "cpc_section": "H",
            "paragraph_index": 0,
            "section": "abstract",
            "sentence_index": 0,
            "text": "본 발명은 이차전지에 관한 것이다.",
        },
        {
            "doc_id": "KR9",
            "cpc_section": "H",
            "paragraph_index": 0,
            "section": "abstract",
            "sentence_index": 1,
            "text": "양극은 리튬을 포함한다.",
        },
    ]
    assert (out / "text" / "part-00000-of-00001.txt").read_text(encoding="utf-8") == (
        "본 발명은 이차전지에 관한 것이다.\n양극은 리튬을 포함한다.\n\n"
    )
    assert filesystems.list_files(str(out / "rejects" / "*.jsonl"))


def test_dedup_keys_from_different_shards_meet_in_their_partition(tmp_path):
    """Shards exchange their keys through files; each hash partition decides alone,
    and together they give the markers of one global grouping."""
    shards = {
        0: ([("KR1", ("a.xml", 0))], [("h1", ("KR1", "a.xml", 0))], [("p1", ("KR1", "a.xml", 0, 2))]),
        1: (
            [("KR1", ("z.jsonl:3", 1)), ("KR9", ("b.xml", 1))],
            [("h1", ("KR9", "b.xml", 1)), ("h2", ("KR1", "z.jsonl:3", 1))],
            [("p1", ("KR9", "b.xml", 1, 0)), ("p1", ("KR1", "z.jsonl:3", 1, 5))],
        ),
    }
    by_partition = {}
    for index, kinds in shards.items():
        keys = {}
        for kind, pairs in enumerate(kinds):
            for key, value in pairs:
                keys.setdefault((key_partition(key), kind), []).append((key, value))
        blocks = {place: file_shuffle.dump(k) for place, k in keys.items()}
        refs = file_shuffle.write_blocks(str(tmp_path / f"{index}.bin"), blocks)
        for (partition, kind), ref in refs.items():
            by_partition.setdefault(partition, []).append((kind, ref))
    assert len(by_partition) > 1  # the keys really are spread over partitions
    ids = [m for element in by_partition.items() for m in decide_ids(element)]
    assert ids == [(1, ("duplicate_doc_id", "z.jsonl:3", -1, "same id as a.xml"))]
    losers = {marker[1]: True for _, marker in ids}
    texts = [m for element in by_partition.items() for m in decide_texts(element, losers)]
    assert sorted(texts) == [
        (1, ("duplicate_document", "b.xml", -1, "same text as KR1")),
        (1, ("duplicate_paragraph", "b.xml", 0, "same text as KR1#2")),
    ]


def _write_ingest_shard(folder, rows):
    folder.mkdir()
    table = pa.Table.from_pylist(rows, schema=layout.paragraph_schema())
    pq.write_table(table, str(folder / "part-00000-of-00001.parquet"))


def test_a_document_that_breaks_cleaning_costs_only_itself(tmp_path, monkeypatch):
    real = clean.clean_document

    def breaks_on_bad(doc, config):
        if doc["doc_id"] == "BAD":
            raise RecursionError("maximum recursion depth exceeded")
        return real(doc, config)

    monkeypatch.setattr(clean, "clean_document", breaks_on_bad)
    rows = []
    for doc_id in ("KR1", "BAD", "KR2"):
        rows += _rows(doc_id, "H", [("abstract", f"본 발명은 {doc_id} 이차전지의 양극에 관한 것이다.")])
    src = tmp_path / "ingest"
    _write_ingest_shard(src, rows)
    out = tmp_path / "clean"
    with TestPipeline() as p:
        _ = p | CleanDocuments(str(src / "*.parquet"), 1, CleanConfig(max_error_share=0.5), str(out))
    assert {r["doc_id"] for r in _sentences(out)} == {"KR1", "KR2"}
    rejects = [
        json.loads(x) for x in (out / "rejects" / "part-00000-of-00001.jsonl").read_text().splitlines()
    ]
    assert [(r["doc_id"], r["kind"], r["reason"]) for r in rejects] == [("BAD", "document", "clean_error")]
    assert rejects[0]["detail"] == "RecursionError: maximum recursion depth exceeded"
    assert rejects[0]["snippet"].startswith("본 발명은 BAD")

    # One failing document in three is far over the default share: the stage fails, loudly.
    with (
        pytest.raises(
            Exception,
            match=r"cleaning failed on 1 of 3 documents .* max_error_share=0.01: .* e\.g\. BAD: RecursionError",
        ),
        TestPipeline() as p,
    ):
        _ = p | CleanDocuments(str(src / "*.parquet"), 1, CleanConfig(), str(tmp_path / "again"))


def test_check_error_share():
    assert clean.check_error_share((100, 1, ["A: E"]), 0.01) == (100, 1, ["A: E"])
    with pytest.raises(clean.ErrorShareExceeded, match="e.g. A: E; B: E"):
        clean.check_error_share((100, 2, ["A: E", "B: E"]), 0.01)
    assert clean.sum_counts([(3, 1, ["B: x"]), (4, 2, ["A: y", "C: z"])]) == (7, 3, ["A: y", "B: x", "C: z"])
