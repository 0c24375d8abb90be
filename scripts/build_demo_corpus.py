#!/usr/bin/env python3
"""Build the pipeline's demo inputs from the demo source records.

    python scripts/build_demo_corpus.py [--source data/demo/source] [--out data/demo/corpus]

Reads every `*.jsonl` under --source (one publication per line: id, title,
cpc, ipc, application_number, filing_date, publication_date, applicant,
inventors, agent, abstract [list], claims [list], description {section: [list]})
and writes, deterministically (no randomness, no timestamps; reruns are
byte-identical, see MANIFEST.txt):

  kipo_xml/<id>.xml        ~55% of publications, KIPO layout with a
                           bibliographic block, DOCTYPE, <sub>, <figref>, <br/>,
                           a <tables> block in a few; one file EUC-KR encoded,
                           one gzipped as <id>.xml.gz
  jsonl/publications.jsonl the rest (~35%) as source records, plus a
                           re-publication (exact duplicate of a KIPO XML
                           publication under a new id) and a divisional
                           (reuses another publication's background_art and
                           description_of_drawings with new title/claims/abstract)
  parquet/publications.parquet  3 publications
  text/<id>.txt            3 publications as 【】 sectioned text
  MANIFEST.txt             'sha256  path' per file (sha256sum -c compatible)

Formats are assigned round-robin over CPC sections in id order (see
assign_formats), so the split does not depend on which source file a record
sits in and every format mixes sections; every output lists records by id.
After writing, every output is parsed back with pipeline.text.readers and checked
against the source records (ids and paragraph counts).
"""

from __future__ import annotations

import argparse
import copy
import gzip
import hashlib
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from pipeline.text import readers
from pipeline.tools import corpus_writers
from pipeline.tools.corpus_writers import load_sources

REPO = Path(__file__).resolve().parents[1]

FORMAT_DIRS = ("kipo_xml", "jsonl", "parquet", "text")
XML_SHARE = 0.55
SMALL_FORMAT_COUNT = 3  # publications in Parquet and in sectioned text each
TABLE_EVERY = 6  # every 6th KIPO XML publication (id order, offset 1) gets a <tables> block


# --------------------------------------------------------------------------
# Derived publications (patent-family realism for dedup tests)
# --------------------------------------------------------------------------


def _bump(value: str, step: int, taken: set[str]) -> str:
    """Same-shaped identifier with its trailing number raised by `step`, not in `taken`."""
    m = re.search(r"(\d+)$", value)
    if not m:
        n = 1
        while f"{value}-{n}" in taken:
            n += 1
        return f"{value}-{n}"
    digits = m.group(1)
    number = int(digits)
    while True:
        number += step
        candidate = value[: m.start()] + str(number).zfill(len(digits))
        if candidate not in taken:
            return candidate


def _object_josa(word: str) -> str:
    last = word.rstrip()[-1:] if word.strip() else ""
    if "가" <= last <= "힣":
        return "을" if (ord(last) - 0xAC00) % 28 else "를"
    return "를"


def make_republication(parent: dict, taken: set[str]) -> dict:
    """Exact duplicate of `parent` (same text) published under a new id."""
    rec = copy.deepcopy(parent)
    new_id = parent["id"] + "B1"
    while new_id in taken:
        new_id += "B"
    rec["id"] = new_id
    return rec


def make_divisional(parent: dict, taken: set[str]) -> dict:
    """A divisional of `parent`: new id, title, claims and abstract; it reuses the
    parent's background_art and description_of_drawings paragraphs verbatim."""
    desc = corpus_writers.record_description(parent)
    base = re.split(r"\s+및\s+|,\s*", readers.split_title(str(parent.get("title") or "")))[0].strip()
    base = base or "상기 장치"
    obj = _object_josa(base)
    rec = {k: copy.deepcopy(v) for k, v in parent.items() if k not in ("description", "abstract", "claims")}
    rec["id"] = _bump(parent["id"], 5000, taken)
    if parent.get("application_number"):
        rec["application_number"] = _bump(str(parent["application_number"]), 5000, set())
    rec["title"] = f"{base}의 제조 공정 관리 방법"
    rec["abstract"] = [
        f"본 발명은 {base}의 제조 공정 관리 방법에 관한 것으로, 구성 요소별 공정 조건을 설정하고 "
        f"중간 제품의 특성값을 측정하여 기준 범위를 벗어나는 경우 공정 조건을 보정한다. "
        f"이에 따라 {base}의 품질 편차를 줄이고 불량률을 낮출 수 있다."
    ]
    rec["claims"] = [
        f"{base}{obj} 제조하는 공정을 관리하는 방법으로서, 상기 {base}의 구성 요소별 공정 조건을 "
        f"설정하는 단계; 상기 공정 조건에 따라 제조된 중간 제품의 특성값을 측정하는 단계; 및 "
        f"측정된 특성값이 기준 범위를 벗어나는 경우 상기 공정 조건을 보정하는 단계를 포함하는, "
        f"{base}의 제조 공정 관리 방법.",
        "제1항에 있어서, 상기 특성값을 측정하는 단계는 비파괴 방식으로 수행되는, 제조 공정 관리 방법.",
        "제1항에 있어서, 상기 공정 조건을 보정하는 단계는 직전 복수 회의 측정값의 이동 평균을 "
        "기준으로 수행되는, 제조 공정 관리 방법.",
    ]
    rec["description"] = {
        "technical_field": [f"본 발명은 {base}의 제조 공정 관리 방법에 관한 것이다."],
        "background_art": list(desc.get("background_art", [])),
        "tech_problem": [
            f"본 발명은 {base}{obj} 제조하는 과정에서 발생하는 품질 편차를 줄일 수 있는 "
            "제조 공정 관리 방법을 제공하는 것을 목적으로 한다."
        ],
        "description_of_drawings": list(desc.get("description_of_drawings", [])),
        "description_of_embodiments": [
            f"본 실시예에 따른 제조 공정 관리 방법은 {base}의 구성 요소마다 목표 특성값과 허용 범위를 "
            "미리 정해 두고, 각 공정 단계가 끝날 때마다 중간 제품의 특성값을 측정한다.",
            "측정된 특성값이 허용 범위를 벗어나면 해당 공정 단계의 조건을 보정하며, 보정량은 직전 "
            "복수 회의 측정값의 이동 평균과 목표 특성값의 차이에 비례하도록 정해진다.",
        ],
    }
    return rec


def _safe_name(doc_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", doc_id)


# --------------------------------------------------------------------------
# Build
# --------------------------------------------------------------------------


def assign_formats(records: Sequence[dict]) -> dict[str, list[dict]]:
    """Split records into formats; each returned list is sorted by id.

    Records are ranked round-robin over their CPC sections (each section's
    records in id order), then the ranking is cut into Parquet, text, KIPO XML
    and JSONL in that order, so every format mixes sections.
    """
    groups: dict[str, list[dict]] = {}
    for rec in sorted(records, key=lambda r: r["id"]):
        section = readers.parse_record(rec, "source").cpc_section or "~"
        groups.setdefault(section, []).append(rec)
    ranked = [
        group[i]
        for i in range(max((len(g) for g in groups.values()), default=0))
        for _, group in sorted(groups.items())
        if i < len(group)
    ]
    n = len(ranked)
    k = min(SMALL_FORMAT_COUNT, max(1, n // 8)) if n >= 4 else 0
    rest = ranked[2 * k :]
    n_xml = min(len(rest), max(1, round(XML_SHARE * n)))
    split = {
        "parquet": ranked[:k],
        "text": ranked[k : 2 * k],
        "kipo_xml": rest[:n_xml],
        "jsonl": rest[n_xml:],
    }
    return {fmt: sorted(recs, key=lambda r: r["id"]) for fmt, recs in split.items()}


def _expected(rec: dict) -> readers.Publication:
    return readers.parse_record(rec, "source")


def _by_section(pub: readers.Publication) -> dict[str, list[str]]:
    """Section -> paragraph texts with whitespace runs collapsed (<br/> gives '\n')."""
    out: dict[str, list[str]] = {}
    for p in pub.paragraphs:
        out.setdefault(p.section, []).append(" ".join(p.text.split()))
    return out


def _verify(out: Path, expected: dict[str, dict]) -> int:
    """Parse every output back; compare ids, cpc_section and per-section paragraphs."""
    seen: dict[str, readers.Publication] = {}
    problems: list[str] = []

    def add(item, where: str) -> None:
        if isinstance(item, readers.InputRejected):
            problems.append(f"{where}: rejected {item}")
        elif item.doc_id in seen:
            problems.append(f"{where}: id {item.doc_id} appears twice")
        else:
            seen[item.doc_id] = item

    for path in sorted((out / "kipo_xml").iterdir()):
        try:
            add(readers.parse_kipo_xml(path.read_bytes(), str(path), readers.doc_stem(path.name)), str(path))
        except readers.InputRejected as exc:
            add(exc, str(path))
    for path in sorted((out / "text").iterdir()):
        try:
            text = readers.decode_bytes(path.read_bytes())
            add(readers.parse_sectioned_text(text, str(path), readers.doc_stem(path.name)), str(path))
        except readers.InputRejected as exc:
            add(exc, str(path))
    with open(out / "jsonl" / "publications.jsonl", "rb") as f:
        for item in readers.iter_jsonl(f, "jsonl"):
            add(item, "jsonl")
    with open(out / "parquet" / "publications.parquet", "rb") as f:
        for item in readers.iter_parquet(f, "parquet"):
            add(item, "parquet")

    if set(seen) != set(expected):
        problems.append(
            f"ids differ: missing {sorted(set(expected) - set(seen))}, extra {sorted(set(seen) - set(expected))}"
        )
    for doc_id, rec in expected.items():
        if doc_id not in seen:
            continue
        want = _expected(rec)
        got, exp = _by_section(seen[doc_id]), _by_section(want)
        if got != exp:
            diff = sorted(k for k in set(got) | set(exp) if got.get(k) != exp.get(k))
            problems.append(f"{doc_id}: paragraphs differ from the source in sections {diff}")
        if seen[doc_id].cpc_section != want.cpc_section:
            problems.append(f"{doc_id}: cpc_section {seen[doc_id].cpc_section} != {want.cpc_section}")
    if problems:
        raise SystemExit("verification failed:\n  " + "\n  ".join(problems))
    return len(seen)


def build(source: Path, out: Path) -> dict:
    """Write the corpus under `out`; returns the summary dict."""
    records = load_sources(source)
    by_format = assign_formats(records)
    xml_recs = by_format["kipo_xml"]
    taken = {r["id"] for r in records}

    # Family members, both added to the JSONL file.
    dup_parent = xml_recs[0]
    republication = make_republication(dup_parent, taken)
    taken.add(republication["id"])
    div_candidates = (
        [
            r
            for r in xml_recs
            if {"background_art", "description_of_drawings"} <= set(corpus_writers.record_description(r))
            and r is not dup_parent
        ]
        or [r for r in xml_recs if r is not dup_parent]
        or xml_recs
    )
    div_parent = div_candidates[0]
    divisional = make_divisional(div_parent, taken)
    taken.add(divisional["id"])
    jsonl_recs = sorted([*by_format["jsonl"], republication, divisional], key=lambda r: r["id"])

    for sub in FORMAT_DIRS:
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir(parents=True)
    (out / "MANIFEST.txt").unlink(missing_ok=True)

    # KIPO XML: one EUC-KR file (first encodable), one gzipped (last other one).
    euc_kr_id = None
    for rec in xml_recs:
        try:
            corpus_writers.render_kipo_xml(rec, encoding="euc-kr")
        except UnicodeEncodeError:
            continue
        euc_kr_id = rec["id"]
        break
    gz_id = next((r["id"] for r in reversed(xml_recs) if r["id"] != euc_kr_id), None)
    table_ids = [
        r["id"]
        for i, r in enumerate(xml_recs)
        if i % TABLE_EVERY == 1 and "description_of_embodiments" in corpus_writers.record_description(r)
    ]
    for rec in xml_recs:
        with_table = rec["id"] in table_ids
        name = _safe_name(rec["id"])
        if rec["id"] == euc_kr_id:
            data = corpus_writers.render_kipo_xml(rec, encoding="euc-kr", with_table=with_table)
        else:
            data = corpus_writers.render_kipo_xml(rec, with_table=with_table)
        if rec["id"] == gz_id:
            (out / "kipo_xml" / f"{name}.xml.gz").write_bytes(gzip.compress(data, compresslevel=9, mtime=0))
        else:
            (out / "kipo_xml" / f"{name}.xml").write_bytes(data)

    with open(out / "jsonl" / "publications.jsonl", "w", encoding="utf-8", newline="\n") as f:
        for rec in jsonl_recs:
            f.write(corpus_writers.render_jsonl_line(rec))
    (out / "parquet" / "publications.parquet").write_bytes(
        corpus_writers.render_parquet(by_format["parquet"])
    )
    for rec in by_format["text"]:
        (out / "text" / f"{_safe_name(rec['id'])}.txt").write_bytes(
            corpus_writers.render_sectioned_text(rec).encode("utf-8")
        )

    files = sorted(p for sub in FORMAT_DIRS for p in (out / sub).rglob("*") if p.is_file())
    manifest = [
        f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.relative_to(out).as_posix()}" for p in files
    ]
    (out / "MANIFEST.txt").write_text("\n".join(manifest) + "\n", encoding="utf-8")

    expected = {r["id"]: r for r in [*xml_recs, *jsonl_recs, *by_format["parquet"], *by_format["text"]]}
    verified = _verify(out, expected)
    return {
        "sources": len(records),
        "counts": {
            "kipo_xml": len(xml_recs),
            "jsonl": len(jsonl_recs),
            "parquet": len(by_format["parquet"]),
            "text": len(by_format["text"]),
        },
        "bytes": {
            sub: sum(p.stat().st_size for p in (out / sub).rglob("*") if p.is_file()) for sub in FORMAT_DIRS
        },
        "files": len(files),
        "euc_kr": euc_kr_id,
        "gzip": gz_id,
        "tables": table_ids,
        "republication": (republication["id"], dup_parent["id"]),
        "divisional": (divisional["id"], div_parent["id"]),
        "verified": verified,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=REPO / "data" / "demo" / "source")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "demo" / "corpus")
    args = parser.parse_args(argv)
    s = build(args.source, args.out)
    c, b = s["counts"], s["bytes"]
    print(f"demo corpus from {s['sources']} source publications -> {args.out}")
    for fmt in FORMAT_DIRS:
        print(f"  {fmt:9s} {c[fmt]:3d} publications  {b[fmt]:9d} bytes")
    print(f"  total     {sum(c.values()):3d} publications  {sum(b.values()):9d} bytes in {s['files']} files")
    print(f"  EUC-KR encoded KIPO XML: {s['euc_kr'] or '(none encodable)'}; gzipped: {s['gzip'] or '(none)'}")
    print(f"  <tables> blocks in: {', '.join(s['tables']) or '(none)'}")
    print(
        f"  re-publication (exact duplicate, in jsonl): {s['republication'][0]} = {s['republication'][1]} (kipo_xml)"
    )
    print(
        f"  divisional (in jsonl): {s['divisional'][0]} reuses background_art and "
        f"description_of_drawings of {s['divisional'][1]} (kipo_xml)"
    )
    print(f"  verified: all {s['verified']} publications parse back with pipeline.text.readers")
    print(
        f"  MANIFEST.txt: sha256 of {s['files']} files (check with: cd {args.out} && sha256sum -c MANIFEST.txt)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
