"""pipeline.tools.corpus_writers and scripts/build_demo_corpus.py: written corpora parse back."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

from pipeline.text import readers
from pipeline.text.publication import Publication
from pipeline.text.readers import (
    decode_bytes,
    iter_jsonl,
    iter_parquet,
    parse_kipo_xml,
    parse_record,
    parse_sectioned_text,
)
from pipeline.tools import corpus_writers
from tests.text.reader_samples import (
    all_text,
    pairs,
)

REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------
# Writers and the demo corpus script
# --------------------------------------------------------------------------


def _source_record(n: int, cpc: str) -> dict:
    return {
        "id": f"KR10202400{n:05d}",
        "title": f"시험용 발명 {n} 및 그 제조 방법",
        "cpc": [f"{cpc}01B 33/12", f"{cpc}02F 1/00"],
        "ipc": [f"{cpc}01B 33/00"],
        "application_number": f"10-2024-00{n:05d}",
        "filing_date": "2024-01-02",
        "publication_date": "2025-07-08",
        "applicant": f"주식회사 시험출원인{n}",
        "inventors": [f"발명자갑{n}", f"발명자을{n}"],
        "agent": f"특허법인 대리{n}",
        "abstract": [f"본 발명은 시험용 발명 {n}에 관한 것으로, SiO2 층과 TiO2 층을 포함한다."],
        "claims": [
            f"기판; 및 상기 기판 상의 Al2O3 층을 포함하는 시험용 발명 {n}.",
            "제1항에 있어서,\n상기 층의 두께는 10 nm인 시험용 발명.",
        ],
        "description": {
            "technical_field": [f"본 발명은 시험용 발명 {n}에 관한 것이다."],
            "background_art": [
                f"종래 기술 {n}의 첫째 문단이다.",
                f"종래 기술 {n}의 둘째 문단 & <비교> 이다.",
            ],
            "tech_problem": ["과제 문단이다."],
            "tech_solution": ["해결 수단 문단이다."],
            "advantageous_effects": ["효과 문단이다."],
            "description_of_drawings": [
                "도 1은 사시도이다.",
                f"도 2는 도 1의 단면도이고, 도 3은 발명 {n}의 평면도이다. 도 4는 순서도이다.",
            ],
            "description_of_embodiments": [
                "도 1을 참조하면, 실시예 문단이다.",
                "둘째 실시예 문단이다.",
                "셋째 실시예 문단이다.",
            ],
        },
    }


def _load_script():
    spec = importlib.util.spec_from_file_location(
        "build_demo_corpus", REPO / "scripts" / "build_demo_corpus.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _section_counts(pub: Publication) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in pub.paragraphs:
        counts[p.section] = counts.get(p.section, 0) + 1
    return counts


def _squash(text: str) -> str:
    return " ".join(text.split())


def test_render_kipo_xml_round_trips_through_the_reader():
    rec = _source_record(1, "C")
    data = corpus_writers.render_kipo_xml(rec, with_table=True)
    xml = data.decode("utf-8")
    assert "SiO<sub>2</sub>" in xml and "Al<sub>2</sub>O<sub>3</sub>" in xml
    assert '<figref num="2">도 2</figref>' in xml and "<tables" in xml and "<!DOCTYPE KIPO" in xml
    assert "이고,<br/><figref" in xml  # figure sentences split in the description of drawings
    pub = parse_kipo_xml(data, "a.xml", "stem")
    want = parse_record(rec, "src")
    assert pub.doc_id == rec["id"] and pub.cpc_section == want.cpc_section == "C"
    assert [(s, _squash(t)) for s, t in pairs(pub)] == [(s, _squash(t)) for s, t in pairs(want)]
    assert corpus_writers.render_kipo_xml(rec, encoding="euc-kr").startswith(
        b'<?xml version="1.0" encoding="EUC-KR"?>'
    )
    text_pub = parse_sectioned_text(corpus_writers.render_sectioned_text(rec), "a.txt", "stem")
    assert pairs(text_pub) == pairs(want) and text_pub.doc_id == rec["id"]


def test_build_demo_corpus_round_trip(tmp_path, capsys):
    source = tmp_path / "source"
    source.mkdir()
    records = [_source_record(n, cpc) for n, cpc in zip((4, 1, 3, 2), "HACG", strict=True)]
    (source / "part_a.jsonl").write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[:3]), encoding="utf-8"
    )
    (source / "part_b.jsonl").write_text(
        json.dumps(records[3], ensure_ascii=False) + "\n\n", encoding="utf-8"
    )
    out = tmp_path / "corpus"
    script = _load_script()
    assert script.main(["--source", str(source), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "re-publication" in printed and "divisional" in printed

    # Parse every output file back with the readers.
    parsed: dict[str, Publication] = {}
    formats: dict[str, str] = {}
    files = sorted(p for p in out.rglob("*") if p.is_file() and p.name != "MANIFEST.txt")
    for path in files:
        fmt = path.relative_to(out).parts[0]
        if fmt == "kipo_xml":
            items = [parse_kipo_xml(path.read_bytes(), str(path), readers.doc_stem(path.name))]
        elif fmt == "text":
            items = [
                parse_sectioned_text(decode_bytes(path.read_bytes()), str(path), readers.doc_stem(path.name))
            ]
        elif fmt == "jsonl":
            with open(path, "rb") as f:
                items = list(iter_jsonl(f, str(path)))
        else:
            with open(path, "rb") as f:
                items = list(iter_parquet(f, str(path)))
        for item in items:
            assert isinstance(item, Publication), item
            assert item.doc_id not in parsed
            parsed[item.doc_id] = item
            formats[item.doc_id] = fmt

    by_id = {r["id"]: r for r in records}
    extra = sorted(set(parsed) - set(by_id))
    assert set(by_id) <= set(parsed) and len(extra) == 2
    assert sorted(formats.values()) == sorted(["kipo_xml"] * 2 + ["jsonl"] * 2 + ["parquet", "text"])
    for doc_id, rec in by_id.items():
        assert _section_counts(parsed[doc_id]) == _section_counts(parse_record(rec, "src")), doc_id
        assert parsed[doc_id].cpc_section == rec["cpc"][0][0]
        text = all_text(parsed[doc_id])
        for value in (rec["applicant"], rec["agent"], rec["application_number"], *rec["inventors"], "시료 A"):
            assert value not in text

    # Family members: a re-publication (same text as a KIPO XML publication, new id)
    # and a divisional (reuses another publication's background art and drawings text).
    def squashed(pub: Publication) -> list[tuple[str, str]]:
        return [(s, _squash(t)) for s, t in pairs(pub)]

    (republished,) = [i for i in extra if any(squashed(parsed[i]) == squashed(parsed[j]) for j in by_id)]
    original = next(j for j in by_id if squashed(parsed[j]) == squashed(parsed[republished]))
    assert formats[republished] == "jsonl" and formats[original] == "kipo_xml"
    assert parsed[republished].paragraphs == parse_record(by_id[original], "s").paragraphs
    (divisional,) = [i for i in extra if i != republished]
    div = parsed[divisional]
    assert formats[divisional] == "jsonl"
    parent = next(
        parsed[j]
        for j in by_id
        if [_squash(x.text) for x in parsed[j].paragraphs if x.section == "background_art"]
        == [_squash(x.text) for x in div.paragraphs if x.section == "background_art"]
    )
    for section in ("background_art", "description_of_drawings"):
        mine = [_squash(p.text) for p in div.paragraphs if p.section == section]
        assert mine and mine == [_squash(p.text) for p in parent.paragraphs if p.section == section]
    for section in ("title", "claims", "abstract"):
        assert {p.text for p in div.paragraphs if p.section == section}.isdisjoint(
            {p.text for p in parent.paragraphs if p.section == section}
        )

    # Special encodings: one gzipped, one EUC-KR KIPO XML file.
    xml_files = sorted((out / "kipo_xml").iterdir())
    assert sum(p.name.endswith(".xml.gz") for p in xml_files) == 1
    assert any(p.read_bytes().startswith(b'<?xml version="1.0" encoding="EUC-KR"?>') for p in xml_files)

    # Manifest lists every file with its sha256; a rerun is byte-identical.
    manifest = (out / "MANIFEST.txt").read_text(encoding="utf-8").splitlines()
    assert manifest == [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out).as_posix()}" for p in files
    ]
    first = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert script.main(["--source", str(source), "--out", str(out)]) == 0
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == first
