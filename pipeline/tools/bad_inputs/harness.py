"""`python -m pipeline bad-inputs`: ingest + clean on the bad-input corpus, and a table of what happened.

    python -m pipeline bad-inputs [--out DIR] [--big-mb 50] [BEAM FLAGS]

Writes the corpus of `pipeline.tools.bad_inputs.cases` and a `pipeline.yaml` for it under a
folder whose name has spaces and Korean characters, runs `python -m pipeline
run --stages ingest,clean --force` on it through the real CLI (a child
process; DirectRunner as `pipeline.yaml` configures it), with the network
guard of `pipeline.tools.netguard` in every process, and samples the memory of the
process tree. Then it reads the manifests, reject files and outputs, and
prints a markdown table: each case, what was expected, what happened, counts;
then the accounting identities and the guard's findings. Last, the run-level
cases of `run_cases` (a second writer, a typo, a bad Beam flag, a missing word
list, inputs under the output root, a glob-like root, YAML aliases, NaN, a
damaged and a stale upstream), each run through the CLI against that finished
output, which none of them may touch.

Exit code 0 when every case had its expected outcome and every check held,
1 otherwise. Without --out the work folder is a temporary one, deleted after.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence

import yaml

from pipeline.io.memory import PeakMemory
from pipeline.layout import REPO_ROOT
from pipeline.tools import netguard
from pipeline.tools.bad_inputs import cases as bad_cases
from pipeline.tools.bad_inputs import run_cases

CORPUS = "불량 입력 corpus"
OUTPUT = "출력 결과"
CONFIG = "pipeline 설정.yaml"
GUARD = "_netguard"
GUARD_LOG = "netguard.log"
REPO = REPO_ROOT


@dataclasses.dataclass
class CaseResult:
    """What the run did with one case's file."""

    units: Counter = dataclasses.field(default_factory=Counter)  # 'kept' / 'rejected:REASON' -> n
    sentence_drops: Counter = dataclasses.field(default_factory=Counter)
    sentences_written: int = 0
    probe_found: bool | None = None  # None: the case has no probe
    absent_found: bool | None = None  # None: the case names no text that must stay out

    @property
    def text_ok(self) -> bool:
        return self.probe_found is not False and self.absent_found is not True

    @property
    def text_note(self) -> str:
        notes = []
        if self.probe_found is False:
            notes.append(" (probe text missing)")
        if self.absent_found:
            notes.append(" (text that must stay out is in the output)")
        return "".join(notes)

    @property
    def outcome(self) -> str:
        return bad_cases.outcome_text(self.units, self.sentence_drops)


@dataclasses.dataclass
class Check:
    name: str
    ok: bool
    detail: str


# ------------------------------------------------------------------ running


def write_config(work: str, corpus_root: str, max_file_mb: int = 256) -> str:
    """A pipeline.yaml reading every format folder of the corpus; returns its path."""
    inputs = [
        {"glob": os.path.join(corpus_root, folder, pattern), "format": fmt}
        for fmt, (folder, pattern) in bad_cases.FOLDERS.items()
    ]
    inputs += [
        {"glob": os.path.join(corpus_root, bad_cases.FOLDERS[fmt][0], pattern), "format": fmt}
        for fmt, pattern in bad_cases.EXTRA_GLOBS
    ]
    # Most of this corpus is bad on purpose: no reject share stops the run.
    ingest = {"max_file_mb": max_file_mb, "max_reject_share": 1.0}
    data = {"output_root": OUTPUT, "inputs": inputs, "ingest": ingest}
    path = os.path.join(work, CONFIG)
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, allow_unicode=True, sort_keys=False)
    return path


def run_pipeline(work: str, config_path: str, beam_args: Sequence[str] = ()) -> tuple[int, str, PeakMemory]:
    """`python -m pipeline run --stages ingest,clean --force` under the network guard.

    Returns (exit code, stderr, peak memory). The command is an argument list:
    no shell sees any path.
    """
    env = {
        **os.environ,
        **netguard.guard_env(os.path.join(work, GUARD), os.path.join(work, GUARD_LOG), bad_cases.CANARY_FILE),
        "PYTHONWARNINGS": "ignore",
    }
    cmd = [sys.executable, "-m", "pipeline", "run", "--stages", "ingest,clean", "--force"]
    cmd += ["--config", config_path, "--", *beam_args]  # Beam flags after `--`
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as err:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err)
        memory = PeakMemory(proc.pid, children=True, every_s=0.2).start()
        code = proc.wait()
        memory.stop()
        err.seek(0)
        return code, err.read(), memory


# ------------------------------------------------------------------ reading the outputs


def _jsonl_records(folder: str) -> list[dict]:
    records: list[dict] = []
    if not os.path.isdir(folder):
        return records
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            records.extend(json.loads(line) for line in f if line.strip())
    return records


def _parquet_rows(folder: str, columns: list[str]):
    import pyarrow.parquet as pq

    if not os.path.isdir(folder):
        return
    for name in sorted(os.listdir(folder)):
        pf = pq.ParquetFile(os.path.join(folder, name))
        for batch in pf.iter_batches(columns=columns):
            yield from batch.to_pylist()


def _manifest(output_root: str, stage: str) -> dict:
    path = os.path.join(output_root, stage, "manifest.json")
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def collect(cases: Sequence[bad_cases.BadCase], corpus_root: str, output_root: str) -> dict[str, CaseResult]:
    """Attribute every ingest unit, clean document and dropped sentence to its case.

    Ingest names units by `source` (the file path, `path@BYTE` or `path:ROW`);
    clean names documents by doc_id, which is unique across the corpus.
    Anything that cannot be attributed lands under the key '?'.
    """
    by_path = {os.path.join(corpus_root, c.path): c.name for c in cases}

    def case_of(source: str) -> str:
        for candidate in (source, source.rsplit("@", 1)[0], source.rsplit(":", 1)[0]):
            if candidate in by_path:
                return by_path[candidate]
        return "?"

    results: dict[str, CaseResult] = defaultdict(CaseResult)
    for c in cases:
        results[c.name] = CaseResult()
    for r in _jsonl_records(os.path.join(output_root, "ingest", "rejects")):
        results[case_of(r["source"])].units[f"rejected:{r['reason']}"] += 1

    case_of_doc: dict[str, str] = {}
    for row in _parquet_rows(os.path.join(output_root, "ingest", "paragraphs"), ["doc_id", "source"]):
        case = case_of(row["source"])
        if case_of_doc.setdefault(row["doc_id"], case) != case:
            raise ValueError(f"doc_id {row['doc_id']} appears in two cases")
    rejected_docs: dict[str, str] = {}
    for r in _jsonl_records(os.path.join(output_root, "clean", "rejects")):
        case = case_of_doc.get(r["doc_id"], "?")
        if r["kind"] == "document":
            rejected_docs[r["doc_id"]] = r["reason"]
        elif r["kind"] == "sentence":
            results[case].sentence_drops[r["reason"]] += 1
    for doc_id, case in case_of_doc.items():
        reason = rejected_docs.get(doc_id)
        results[case].units["kept" if reason is None else f"rejected:{reason}"] += 1

    texts: dict[str, list[str]] = defaultdict(list)
    for row in _parquet_rows(os.path.join(output_root, "clean", "sentences"), ["doc_id", "text"]):
        case = case_of_doc.get(row["doc_id"], "?")
        results[case].sentences_written += 1
        texts[case].append(row["text"])
    for c in cases:
        if c.probe:
            results[c.name].probe_found = c.probe in "\n".join(texts[c.name])
        if c.absent:
            results[c.name].absent_found = any(c.absent[:20] in t for ts in texts.values() for t in ts)
    return dict(results)


def _clean_text(output_root: str) -> str:
    folder = os.path.join(output_root, "clean", "text")
    parts = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            parts.append(f.read())
    return "".join(parts)


def checks(results: dict[str, CaseResult], output_root: str, work: str) -> list[Check]:
    """The accounting identities, and what the guard saw."""
    ingest = _manifest(output_root, "ingest").get("counters", {})
    clean = _manifest(output_root, "clean").get("counters", {})
    units, pubs, rejected = (ingest.get(k, -1) for k in ("input_units", "publications_written", "rejected"))
    docs_in, written, rejected_docs = (
        clean.get(k, -1) for k in ("documents_in", "documents_written", "rejected_documents")
    )
    ingest_rejects = len(_jsonl_records(os.path.join(output_root, "ingest", "rejects")))
    clean_doc_rejects = sum(
        1 for r in _jsonl_records(os.path.join(output_root, "clean", "rejects")) if r["kind"] == "document"
    )
    attributed = sum(sum(r.units.values()) for name, r in results.items() if name != "?")
    log_path = os.path.join(work, GUARD_LOG)
    log = []
    if os.path.exists(log_path):
        with open(log_path, encoding="utf-8") as f:
            log = [line.strip() for line in f if line.strip()]
    refused = [line for line in log if ": refused " in line]
    guarded = sum(1 for line in log if line.endswith(": installed"))
    text = _clean_text(output_root)
    controls = sorted({f"U+{ord(ch):04X}" for ch in text if unicodedata.category(ch) == "Cc" and ch != "\n"})
    leaked = bad_cases.CANARY_MARKER in text or any(
        bad_cases.CANARY_MARKER in r.get("snippet", "")
        for stage in ("ingest", "clean")
        for r in _jsonl_records(os.path.join(output_root, stage, "rejects"))
    )
    return [
        Check(
            "ingest: input_units = publications_written + rejected",
            units == pubs + rejected and units > 0,
            f"{units:,} = {pubs:,} + {rejected:,}",
        ),
        Check(
            "clean: documents_in = documents_written + rejected_documents",
            docs_in == written + rejected_docs and docs_in > 0,
            f"{docs_in:,} = {written:,} + {rejected_docs:,}",
        ),
        Check(
            "clean reads what ingest wrote",
            docs_in == pubs,
            f"documents_in {docs_in:,}, publications {pubs:,}",
        ),
        Check(
            "documents in = documents out + documents rejected (both stages)",
            units == written + rejected + rejected_docs,
            f"{units:,} = {written:,} + {rejected:,} + {rejected_docs:,}",
        ),
        Check(
            "every reject counted has a record in a reject file",
            ingest_rejects == rejected and clean_doc_rejects == rejected_docs,
            f"ingest {ingest_rejects:,} records, clean {clean_doc_rejects:,} document records",
        ),
        Check(
            "every unit traced to its case",
            attributed == units and "?" not in results,
            f"{attributed:,} of {units:,}",
        ),
        Check(
            "no network access, canary never opened",
            guarded > 0 and not refused,
            f"guard in {guarded} processes, {len(refused)} refused attempts"
            + (f": {refused[:3]}" if refused else ""),
        ),
        Check("canary text in no output", not leaked, "absent" if not leaked else "LEAKED"),
        Check(
            "no control characters in clean text",
            not controls,
            "none" if not controls else ", ".join(controls[:10]),
        ),
    ]


# ------------------------------------------------------------------ the table


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(
    cases: Sequence[bad_cases.BadCase],
    results: dict[str, CaseResult],
    found: Sequence[Check],
    output_root: str,
    memory: PeakMemory | None = None,
) -> str:
    """The markdown report: one row per case, then the checks."""
    lines = [
        "| case | input (file) | expected | what happened | ok | units | sentences kept | sentences dropped |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        r = results[c.name]
        ok = r.outcome == c.expect and r.text_ok
        happened = r.outcome + r.text_note
        drops = ", ".join(f"{k} {v:,}" for k, v in sorted(r.sentence_drops.items())) or "0"
        lines.append(
            f"| {c.name} | {_cell(c.what)} (`{_cell(c.file)}`) | {_cell(c.expect)} | {_cell(happened)} | "
            f"{'✓' if ok else '✗'} | {sum(r.units.values()):,} | {r.sentences_written:,} | {drops} |"
        )
    if "?" in results:
        r = results["?"]
        lines.append(f"| ? | not traced to a case | | {_cell(r.outcome)} | ✗ | {sum(r.units.values())} | | |")
    lines.append("")
    for check in found:
        lines.append(f"- {'✓' if check.ok else '✗'} {check.name}: {check.detail}")
    seconds = [_manifest(output_root, s).get("seconds") for s in ("ingest", "clean")]
    timing = f"ingest {seconds[0]} s, clean {seconds[1]} s (DirectRunner, as configured)"
    if memory is not None:
        timing += (
            f"; peak RSS {memory.peak_rss / 2**20:,.0f} MiB in the largest process, "
            f"{memory.peak_total / 2**20:,.0f} MiB over all processes"
        )
    lines.append(f"- {timing}")
    return "\n".join(lines)


def all_ok(
    cases: Sequence[bad_cases.BadCase], results: dict[str, CaseResult], found: Sequence[Check]
) -> bool:
    return (
        all(results[c.name].outcome == c.expect and results[c.name].text_ok for c in cases)
        and all(c.ok for c in found)
        and "?" not in results
    )


def run(
    work: str, big_mb: float = 50, beam_args: Sequence[str] = (), max_file_mb: int = 256
) -> tuple[bool, str]:
    """Build, run, read back; returns (everything as expected, the report)."""
    corpus_root = os.path.join(work, CORPUS)
    cases = bad_cases.write_corpus(corpus_root, big_mb, max_file_mb)
    config_path = write_config(work, corpus_root, max_file_mb)
    code, stderr, memory = run_pipeline(work, config_path, beam_args)
    if code != 0:
        return False, f"`python -m pipeline run` exited with {code}:\n{stderr[-4000:]}"
    output_root = os.path.join(work, OUTPUT)
    results = collect(cases, corpus_root, output_root)
    found = checks(results, output_root, work)
    report = render(cases, results, found, output_root, memory)
    # Then the run-level cases, each against this finished output (which none may touch).
    ran = run_cases.run_all(run_cases.Setting(work, config_path, output_root, corpus_root))
    report += "\n\n" + run_cases.render(ran)
    return all_ok(cases, results, found) and all(r.ok for r in ran), report


def main(out: str | None = None, big_mb: float = 50, beam_args: Sequence[str] = ()) -> int:
    work = out or tempfile.mkdtemp(prefix="bad inputs 불량 입력 ")
    os.makedirs(work, exist_ok=True)
    try:
        ok, report = run(os.path.abspath(work), big_mb, beam_args)
    finally:
        if out is None:
            shutil.rmtree(work, ignore_errors=True)
    print(report)
    return 0 if ok else 1


def command(config, args, beam_args: Sequence[str]) -> int:
    """`python -m pipeline bad-inputs`."""
    return main(args.out, args.big_mb, beam_args)
