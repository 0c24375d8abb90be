"""CleanDocuments as a Beam transform: exact output files, dedup and accounting; the key exchange."""

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline import layout
from pipeline.config import CleanConfig
from pipeline.config.sections import NearDuplicatesConfig
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
    """Exact dedup alone (near duplicates off: KR3 and KR5 would be near duplicates of KR1,
    test_near_duplicates_end_to_end). spill_keys=2: every phase-1 task writes its dedup
    keys in many small files; the decisions, and so the output, are the same."""
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
    exact_only = CleanConfig(near_duplicates=NearDuplicatesConfig(enabled=False))
    with TestPipeline() as p:
        _ = p | CleanDocuments(str(src / "*.parquet"), 2, exact_only, str(out))
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


# A publication (KR1), its grant with one amended word (KR2), a divisional
# repeating its background under a new claim (KR3), and another publication (KR4) that
# shares only a stock sentence.
SPEC = [
    ("title", "저염 김치 절임용 복합 염수 조성물"),
    (
        "background_art",
        "종래의 김치 절임 공정은 고농도의 정제염 용액에 배추를 장시간 침지하므로 나트륨 함량이 높고 "
        "절임수의 재사용이 어려워 다량의 염 폐수가 발생하는 문제가 있었다.",
    ),
    (
        "tech_solution",
        "본 발명의 염수 조성물은 정제염 대신 염화칼륨과 해조 추출물을 일정 비율로 혼합하여 배추의 "
        "삼투 탈수를 유지하면서도 나트륨 함량을 낮추고 절임 시간을 단축한다.",
    ),
    (
        "embodiment",
        "실시예 1에서는 염화칼륨 30 중량부와 다시마 추출물 5 중량부를 물 1000 중량부에 용해한 염수에 "
        "배추를 6시간 침지한 후 세척하고 탈수하여 절임 배추를 얻었다.",
    ),
]
AMENDED = [(s, t.replace("6시간", "8시간")) for s, t in SPEC]
DIVISIONAL = [
    SPEC[1],
    ("claims", "염화칼륨 및 해조 추출물을 포함하는 염수로 배추를 절이는 단계를 포함하는 김치 제조 방법."),
]
OTHER = [
    (
        "background_art",
        "종래의 리튬 이차전지는 양극 활물질의 구조 붕괴로 인하여 고전압에서 충방전을 반복하면 용량이 "
        "급격히 감소하는 문제가 있었다.",
    ),
    (
        "tech_solution",
        "본 발명의 양극 활물질은 니켈 코발트 망간 산화물의 표면에 알루미늄 산화물 코팅층을 형성하여 "
        "전해액과의 부반응을 억제하고 수명 특성을 향상시킨다.",
    ),
]


def test_near_duplicates_end_to_end(tmp_path):
    """Near duplicates with the defaults: the grant and the divisional go, each rejected once
    with the id it duplicates, the cluster's smallest, and its strongest pair (the divisional
    is a little closer to the grant); their paragraphs are not counted again as exact
    duplicates; the unrelated publication stays."""
    src = tmp_path / "ingest"
    rows = _rows("KR1", "A", SPEC) + _rows("KR2", "A", AMENDED) + _rows("KR3", "A", DIVISIONAL)
    _write_ingest_shard(src, rows + _rows("KR4", "H", OTHER))
    out = tmp_path / "clean"
    with TestPipeline() as p:
        _ = p | CleanDocuments(str(src / "*.parquet"), 1, CleanConfig(), str(out))
    rejects = [
        json.loads(x) for x in (out / "rejects" / "part-00000-of-00001.jsonl").read_text().splitlines()
    ]
    found = [(r["doc_id"], r["kind"], r["reason"], r["detail"]) for r in rejects if r["kind"] != "sentence"]
    assert found == [
        (
            "KR2",
            "document",
            "near_duplicate_document",
            "near duplicate of KR1 (paired with KR1: estimated Jaccard 0.80, 62% of its text in near-duplicate "
            "paragraphs)",
        ),
        (
            "KR3",
            "document",
            "near_duplicate_document",
            "near duplicate of KR1 (paired with KR2: estimated Jaccard 0.23, 64% of its text in near-duplicate "
            "paragraphs)",
        ),
    ]
    assert {r["doc_id"] for r in _sentences(out)} == {"KR1", "KR4"}


def test_near_duplicate_pairs_stream_through_the_shards_and_match_the_in_memory_result():
    """The stage's three near-duplicate steps as plain functions (`near_candidates`, then
    `attach_signatures` and `confirm_attached` of the library), on two shards: band
    buckets -> candidates at a's shard -> pairs with a's (trimmed) signature at b's shard
    -> confirmed pairs, the same as `confirmed_pairs` in memory. Each step reads its
    shard's signatures once, in file order, and yields before reading on."""
    from pipeline.text.near_duplicates import (
        MinHasher,
        NearDuplicateParams,
        attach_signatures,
        band_keys,
        confirm_attached,
        confirmed_pairs,
        paragraph_keys,
        publication_signature,
    )

    params = NearDuplicateParams.of(NearDuplicatesConfig())
    hasher = MinHasher(params.num_perm, params.seed)
    docs = {"KR1": SPEC, "KR2": AMENDED, "KR3": DIVISIONAL, "KR4": OTHER}
    signatures = {d: publication_signature(d, [t for _, t in ps], hasher, params) for d, ps in docs.items()}
    # Shard 0 holds KR3 and KR1 (in that file order), shard 1 KR4 and KR2.
    shards = {0: ["KR3", "KR1"], 1: ["KR4", "KR2"]}
    instance = {
        d: (d, f"src-{d}", shard, ordinal) for shard, ds in shards.items() for ordinal, d in enumerate(ds)
    }
    whole = [
        (key, instance[d])
        for d, s in signatures.items()
        for key in band_keys(s.whole, params.bands, params.rows)
    ]
    paragraphs = [
        (key, (*instance[d], rank)) for d, s in signatures.items() for key, rank in paragraph_keys(s, params)
    ]
    refs = [
        (clean.WHOLE_BAND, file_shuffle.dump(whole)),
        (clean.PARAGRAPH_BAND, file_shuffle.dump(paragraphs)),
    ]
    candidates = list(clean.near_candidates((0, refs), {}, params.max_bucket_size))
    assert {c[2][:2] for c in candidates} >= {
        (instance["KR1"], instance["KR2"]),
        (instance["KR1"], instance["KR3"]),
    }

    read = []

    def signature_file(shard):
        for d in shards[shard]:
            read.append(d)
            yield f"src-{d}", signatures[d]

    def in_ordinal_order(items, shard):
        return sorted(
            ((ordinal, item) for index, ordinal, item in items if index == shard), key=lambda x: x[0]
        )

    pairs = []
    for shard in shards:
        read.clear()
        stream = attach_signatures(in_ordinal_order(candidates, shard), signature_file(shard))
        first = next(stream, None)
        if first is not None:  # the first a's pairs come before the file is read past a
            assert read[-1] == first[2][0][0]
            pairs += [first, *stream]
        assert read == shards[shard][: len(read)]
    # Only the paragraphs a pair compares travel with a's signature.
    for _, _, (_a, _b, signature_a, ranks) in pairs:
        sent = {i for i, s in enumerate(signature_a.paragraphs) if s is not None}
        assert sent == {i for i, _ in ranks}
    confirmed = {}
    for shard in shards:
        for (a, b), found in confirm_attached(in_ordinal_order(pairs, shard), signature_file(shard), params):
            assert (a[0], b[0]) not in confirmed and len(a) == len(b) == 3
            if found:
                confirmed[(a[0], b[0])] = found
    assert confirmed == confirmed_pairs(signatures, params)
    assert set(confirmed) == {("KR1", "KR2"), ("KR1", "KR3"), ("KR2", "KR3")}
