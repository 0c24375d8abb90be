"""Stage `dictionary`: nouns + curated lists -> a compiled Mecab-ko user dictionary.

In:  `<output_root>/nouns/nouns.parquet` (unless include_extracted_nouns is off),
     the curated term lists (`dictionaries/seed_terms.txt`, `term_lists`),
     complete user CSVs a user brings (`user_csvs`, e.g. KorPatBERT's
     pat_all_mecab_dic.csv), and `<output_root>/clean/text/` for the check.
Out: `user.csv` (mecab-ko-dic's 12 columns, sorted by surface), `user.dic`
     (compiled by python-mecab-ko's bundled `mecab-dict-index`), `rejects.jsonl`
     (skipped malformed rows), `report.json` (sizes, compile time and memory,
     and the check below), also in the manifest under "report".

Merging: one entry per surface. A user CSV row wins over a curated term,
which wins over an extracted noun; every loser is counted
(`duplicates_dropped_<source>`). Extracted nouns the stock dictionary already
reads as one noun are skipped (`skip_known_nouns`).

Check: a fixed hash sample of corpus sentences is parsed with the stock
dictionary and with user.dic; for every dictionary noun found at the start of
an eojeol we record whether it comes out as one token. The report gives the
share of those nouns that always come out whole, and before/after examples.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import typing
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import ConfigError, DictionaryConfig, PipelineConfig, resolve_path
from pipeline.io import filesystems
from pipeline.layout import USER_CSV, USER_DIC
from pipeline.run.stage import Stage, StageContext
from pipeline.text.mecab_dictionary import (
    SOURCES,
    csv_row,
    csv_row_error,
    format_csv_line,
    parse_term_line,
    split_csv_line,
)

NAME = "dictionary"
CSV_VERSION = "mecab_ko_user_csv_v1"
CHECK_VERSION = "single_token_check_v1"

REPORT = "report.json"
REJECTS = "rejects.jsonl"

# ------------------------------------------------------------------ merging


@dataclasses.dataclass(frozen=True)
class DictionaryInputs:
    """What the build step reads: paths resolved and small lists read on the launcher."""

    nouns_parquet: str | None
    term_lists: tuple[tuple[str, str], ...]  # (path, text)
    user_csvs: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Entry:
    surface: str
    line: str  # the CSV line, newline included
    source: str  # one of SOURCES


class MalformedRow(ValueError):
    """A malformed user CSV row or term-list line: file, line number and reason."""


def read_lines(path: str) -> Iterator[tuple[int, str]]:
    """(line number, text) of a UTF-8 file (local or gs://), streamed; a BOM is ignored."""
    try:
        yield from filesystems.numbered_lines(path)
    except filesystems.NotUtf8 as e:
        raise MalformedRow(str(e)) from None


def user_csv_entries(path: str, problems: list[dict], skip_malformed: bool) -> Iterator[Entry]:
    """Validated rows of a user-supplied CSV. Malformed rows raise, or are recorded and skipped."""
    for number, text in read_lines(path):
        if not text.strip():
            continue
        try:
            fields = split_csv_line(text)
        except csv.Error as e:
            reason = f"unreadable CSV: {e}"
        else:
            reason = csv_row_error(fields)
        if reason is None:
            yield Entry(fields[0], text + "\n", "user_csv")
            continue
        if not skip_malformed:
            raise MalformedRow(f"{path}:{number}: {reason}")
        problems.append(
            {"stage": NAME, "kind": "user_csv_row", "file": path, "line": number, "reason": reason}
        )


def term_list_entries(
    path: str, text: str, config: DictionaryConfig, problems: list[dict], skip_malformed: bool
) -> Iterator[Entry]:
    """Rows for a curated term list (its text, read on the launcher)."""
    for number, line in enumerate(text.splitlines(), start=1):
        parsed = parse_term_line(line)
        if parsed is None:
            continue
        if isinstance(parsed, str):
            if not skip_malformed:
                raise MalformedRow(f"{path}:{number}: {parsed}")
            problems.append({"stage": NAME, "kind": "term", "file": path, "line": number, "reason": parsed})
            continue
        term, parts = parsed
        row = csv_row(term, config.pos, parts, config.compound_part_pos, config.cost)
        yield Entry(term, format_csv_line(row), "term_list")


def extracted_entries(rows: Iterable[Mapping], config: DictionaryConfig, is_known=None) -> Iterator[Entry]:
    """Rows for the nouns stage's output; `is_known(noun)` says the stock dictionary has it."""
    for r in rows:
        Metrics.counter(NAME, "extracted_nouns_in").inc()
        if is_known is not None and is_known(r["noun"]):
            Metrics.counter(NAME, "extracted_skipped_known").inc()
            continue
        row = csv_row(r["noun"], config.pos, tuple(r["parts"] or ()), config.compound_part_pos, config.cost)
        yield Entry(r["noun"], format_csv_line(row), "extracted")


def entry_sources(inputs: DictionaryInputs, config: DictionaryConfig, problems: list[dict], is_known=None):
    """The entry streams in order of precedence: user CSVs, curated term lists, extracted nouns."""
    skip = config.skip_malformed_rows
    user = (e for path in inputs.user_csvs for e in user_csv_entries(path, problems, skip))
    terms = (
        e for path, text in inputs.term_lists for e in term_list_entries(path, text, config, problems, skip)
    )
    extracted = ()
    if inputs.nouns_parquet:
        extracted = extracted_entries(filesystems.iter_parquet_rows(inputs.nouns_parquet), config, is_known)
    return [user, terms, extracted]


def merge_entries(sources: Iterable[Iterable[Entry]]) -> tuple[list[Entry], dict[str, int]]:
    """Entries from sources in order of precedence -> (one per surface, sorted), duplicates by source."""
    chosen: dict[str, Entry] = {}
    duplicates = {s: 0 for s in SOURCES}
    for source in sources:
        for entry in source:
            if entry.surface in chosen:
                duplicates[entry.source] += 1
            else:
                chosen[entry.surface] = entry
    return [chosen[s] for s in sorted(chosen)], duplicates


def is_known_analysis(noun: str, analysis: Sequence[tuple[str, str]]) -> bool:
    """Is [(surface, pos)...] one noun, or a noun plus derivational suffixes (안정/NNG 성/XSN)?

    Such nouns gain nothing from the user dictionary: the stock analysis is
    already consistent, and an NNP entry would only sometimes win against it.
    """
    if not analysis or "".join(s for s, _ in analysis) != noun:
        return False
    return analysis[0][1].startswith("NN") and all(pos == "XSN" for _, pos in analysis[1:])


def known_noun_checker(tagger):
    """noun -> True when the stock dictionary already analyses it as a (derived) noun."""

    def is_known(noun: str) -> bool:
        return is_known_analysis(noun, [(m.surface, m.pos) for m in tagger.parse(noun)])

    return is_known


# ------------------------------------------------------------------ compiling


class PeakChildMemory:
    """Peak RSS of a child process, sampled in a thread."""

    def __init__(self, pid: int, every_s: float = 0.02) -> None:
        import psutil

        self.peak_rss = 0
        self._process = psutil.Process(pid)
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            try:
                self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
            except psutil.Error:
                return
            self._stop.wait(self._every_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def compile_user_dictionary(csv_path: str, dic_path: str) -> dict:
    """Compile a local user CSV with python-mecab-ko's bundled mecab-dict-index.

    Runs `python -m mecab dict-index` in a child process (an argument list, no
    shell): ids and costs come from the bundled model. Returns seconds and peak
    memory; raises RuntimeError with the compiler's message when it fails.
    """
    if os.path.getsize(csv_path) == 0:
        # mecab-dict-index crashes (SIGSEGV) on an empty CSV.
        raise RuntimeError("the user dictionary has no entries: nothing to compile")
    command = [
        sys.executable,
        "-m",
        "mecab",
        "dict-index",
        f"--userdic={dic_path}",
        "--dictionary-charset=utf-8",
        "--charset=utf-8",
        csv_path,
    ]
    started = time.time()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    memory = PeakChildMemory(proc.pid)
    out, err = proc.communicate()
    memory.stop()
    seconds = time.time() - started
    if proc.returncode != 0 or not os.path.exists(dic_path):
        message = (err or out).decode("utf-8", "replace").strip().splitlines()
        detail = message[-1] if message else "no message"
        raise RuntimeError(f"mecab dict-index failed (exit code {proc.returncode}): {detail}")
    return {"compile_seconds": round(seconds, 2), "compile_peak_rss_mb": round(memory.peak_rss / 2**20, 1)}


def copy_to(local_path: str, dest: str) -> None:
    """Copy a local file to a FileSystems path (local or gs://) in 8 MB chunks."""
    with open(local_path, "rb") as src, filesystems.FileSystems.create(dest) as out:
        shutil.copyfileobj(src, out, 8 << 20)


def copy_from(path: str, local_path: str) -> None:
    with (
        filesystems.FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as src,
        open(local_path, "wb") as out,
    ):
        shutil.copyfileobj(src, out, 8 << 20)


def write_entries(entries: Iterable[Entry], path: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as f:
        for e in entries:
            f.write(e.line)


# ------------------------------------------------------------------ checking


_EOJEOL = re.compile(r"\S+")


def noun_occurrences(sentence: str, vocabulary: frozenset[str] | set[str], max_length: int):
    """(start, end, noun) for the longest dictionary noun starting each eojeol.

    Leading brackets and quotes are skipped, as in `(합성세제액)을`.
    """
    found = []
    for m in _EOJEOL.finditer(sentence):
        word, start = m.group(), m.start()
        skip = 0
        while skip < len(word) and not word[skip].isalnum():
            skip += 1
        word, start = word[skip:], start + skip
        for length in range(min(max_length, len(word)), 0, -1):
            if word[:length] in vocabulary:
                found.append((start, start + length, word[:length]))
                break
    return found


def tokens_in(morphemes, start: int, end: int) -> list[str]:
    """Surfaces of the morphemes that overlap [start, end)."""
    return [m.surface for m in morphemes if m.span.start < end and m.span.end > start]


def is_one_token(morphemes, start: int, end: int) -> bool:
    return any(m.span.start == start and m.span.end == end for m in morphemes)


@dataclasses.dataclass
class NounCheck:
    occurrences: int = 0
    whole_before: int = 0
    whole_after: int = 0
    before: str = ""  # the stock dictionary's split of the first occurrence
    after: str = ""
    sentence: str = ""


def check_sentences(
    sentences: Iterable[str], vocabulary, max_length: int, stock, user
) -> dict[str, NounCheck]:
    """Parse each sentence with both taggers; per dictionary noun, how often it is one token.

    An occurrence counts only where the user-dictionary parse has token
    boundaries at both ends of the noun: `스크` found at the start of `스크린을`
    is not an occurrence of the noun 스크 (스크린 is one token).
    """
    checks: dict[str, NounCheck] = {}
    for sentence in sentences:
        occurrences = noun_occurrences(sentence, vocabulary, max_length)
        if not occurrences:
            continue
        before, after = stock.parse(sentence), user.parse(sentence)
        starts, ends = {m.span.start for m in after}, {m.span.end for m in after}
        for start, end, noun in occurrences:
            if start not in starts or end not in ends:
                continue
            check = checks.setdefault(noun, NounCheck())
            whole_before, whole_after = is_one_token(before, start, end), is_one_token(after, start, end)
            if check.occurrences == 0:
                check.before = "/".join(tokens_in(before, start, end))
                check.after = "/".join(tokens_in(after, start, end))
                check.sentence = sentence
            check.occurrences += 1
            check.whole_before += whole_before
            check.whole_after += whole_after
    return checks


def summarize_checks(checks: Mapping[str, NounCheck], examples: int, target: float) -> dict:
    """The figures for the manifest: shares of nouns that come out whole, before and after."""
    found = len(checks)
    occurrences = sum(c.occurrences for c in checks.values())
    always_after = sorted(n for n, c in checks.items() if c.whole_after == c.occurrences)
    always_before = [n for n, c in checks.items() if c.whole_before == c.occurrences]
    share = len(always_after) / found if found else 0.0
    fixed = sorted(
        (n for n, c in checks.items() if c.whole_after == c.occurrences and c.whole_before < c.occurrences),
        key=lambda n: (-checks[n].occurrences, n),
    )
    still_split = sorted(
        (n for n, c in checks.items() if c.whole_after < c.occurrences),
        key=lambda n: (-checks[n].occurrences, n),
    )

    def example(n: str) -> dict:
        c = checks[n]
        return {"noun": n, "before": c.before, "after": c.after, "occurrences": c.occurrences}

    return {
        "nouns_found_in_sample": found,
        "noun_occurrences": occurrences,
        "single_token_share": round(share, 4),
        "single_token_share_before": round(len(always_before) / found, 4) if found else 0.0,
        "occurrence_single_token_share": (
            round(sum(c.whole_after for c in checks.values()) / occurrences, 4) if occurrences else 0.0
        ),
        "target_single_token_share": target,
        "meets_target": share >= target,
        "nouns_fixed": len(fixed),
        "examples_fixed": [example(n) for n in fixed[:examples]],
        "examples_still_split": [example(n) for n in still_split[:examples]],
    }


def sample_key(sentence: str) -> tuple[int, str]:
    """A fixed pseudo-random order of sentences (same on every runner and run)."""
    return zlib.crc32(sentence.encode("utf-8")), sentence


def is_sentence(line: str) -> bool:
    return bool(line.strip())


# ------------------------------------------------------------------ Beam steps


# Reports are nested dicts: no inferred (flat) dict coder.
@beam.typehints.with_output_types(typing.Any)
class BuildUserDictionary(beam.DoFn):
    """The central build step: sources -> user.csv, compiled user.dic, rejects; yields a summary."""

    def __init__(self, config: DictionaryConfig, inputs: DictionaryInputs, output_dir: str) -> None:
        self._config, self._inputs, self._output_dir = config, inputs, output_dir

    def setup(self) -> None:
        import mecab

        self._stock = mecab.MeCab()

    def process(self, _):
        config, inputs = self._config, self._inputs
        problems: list[dict] = []
        is_known = None
        if config.skip_known_nouns and inputs.nouns_parquet:
            is_known = known_noun_checker(self._stock)
        sources = entry_sources(inputs, config, problems, is_known)
        entries, duplicates = merge_entries(sources)

        for source in SOURCES:
            Metrics.counter(NAME, f"entries_from_{source}").inc(sum(e.source == source for e in entries))
            Metrics.counter(NAME, f"duplicates_dropped_{source}").inc(duplicates[source])
        Metrics.counter(NAME, "entries_written").inc(len(entries))
        Metrics.counter(NAME, "compounds_written").inc(sum(",Compound," in e.line for e in entries))
        Metrics.counter(NAME, "malformed_rows_skipped").inc(len(problems))

        local_dir = tempfile.mkdtemp(prefix="dictionary_")
        try:
            local_csv, local_dic = os.path.join(local_dir, USER_CSV), os.path.join(local_dir, USER_DIC)
            write_entries(entries, local_csv)
            compiled = compile_user_dictionary(local_csv, local_dic)
            dic_bytes = os.path.getsize(local_dic)
            copy_to(local_csv, filesystems.join(self._output_dir, USER_CSV))
            copy_to(local_dic, filesystems.join(self._output_dir, USER_DIC))
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)
        with filesystems.FileSystems.create(filesystems.join(self._output_dir, REJECTS)) as f:
            filesystems.write_jsonl(f, problems)
        yield {
            "entries": len(entries),
            "entries_by_source": {s: sum(e.source == s for e in entries) for s in SOURCES},
            "user_dic_mb": round(dic_bytes / 2**20, 2),
            **compiled,
        }


# Reports are nested dicts: no inferred (flat) dict coder.
@beam.typehints.with_output_types(typing.Any)
class CheckUserDictionary(beam.DoFn):
    """The sampled sentences + the build summary -> the single-token check, written to report.json."""

    def __init__(self, config: DictionaryConfig, output_dir: str) -> None:
        self._config, self._output_dir = config, output_dir

    def setup(self) -> None:
        import mecab

        self._stock = mecab.MeCab()

    def process(self, sentences, built):
        import mecab

        local_dir = tempfile.mkdtemp(prefix="dictionary_check_")
        try:
            local_dic = os.path.join(local_dir, USER_DIC)
            copy_from(filesystems.join(self._output_dir, USER_DIC), local_dic)
            vocabulary = frozenset(
                split_csv_line(line)[0]
                for _, line in read_lines(filesystems.join(self._output_dir, USER_CSV))
                if line
            )
            max_length = max(map(len, vocabulary), default=0)
            started = time.time()
            checks = check_sentences(
                sorted(sentences),
                vocabulary,
                max_length,
                self._stock,
                mecab.MeCab(user_dictionary_path=local_dic),
            )
            seconds = time.time() - started
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)
        summary = summarize_checks(checks, self._config.examples, self._config.target_single_token_share)
        report = {**built, "check": {"sentences": len(sentences), "seconds": round(seconds, 2), **summary}}
        filesystems.write_json(filesystems.join(self._output_dir, REPORT), report)
        yield report


class CompileUserDictionary(beam.PTransform):
    """Nouns + curated lists + user CSVs -> user.csv, user.dic, rejects.jsonl and report.json."""

    def __init__(self, text_glob: str, config: DictionaryConfig, inputs: DictionaryInputs, output_dir: str):
        super().__init__()
        self._glob, self._config, self._inputs, self._output_dir = text_glob, config, inputs, output_dir

    def expand(self, pipeline):
        built = (
            pipeline
            | "Start" >> beam.Create([None])
            | "Build" >> beam.ParDo(BuildUserDictionary(self._config, self._inputs, self._output_dir))
        )
        sample = (
            pipeline
            | "Read" >> beam.io.ReadFromText(self._glob, validate=False)
            | "Sentences" >> beam.Filter(is_sentence)
            | "Sample" >> beam.combiners.Top.Smallest(self._config.eval_sentences, key=sample_key)
        )
        return sample | "Check" >> beam.ParDo(
            CheckUserDictionary(self._config, self._output_dir), beam.pvalue.AsSingleton(built)
        )


# ------------------------------------------------------------------ stage


def read_term_lists(config: PipelineConfig) -> tuple[tuple[str, str], ...]:
    lists = []
    for path in config.dictionary.term_lists:
        resolved = resolve_path(config, path)
        lists.append((resolved, filesystems.read_text_file(resolved, "dictionary.term_lists")))
    return tuple(lists)


def user_csv_paths(config: PipelineConfig) -> tuple[str, ...]:
    """The user CSVs, resolved. They can be large, so the build step reads them
    on the worker: on Dataflow they must be on gs://."""
    paths = tuple(resolve_path(config, p) for p in config.dictionary.user_csvs)
    for path in paths:
        if config.runner.runner == "DataflowRunner" and "://" not in path:
            raise ConfigError(
                f"dictionary.user_csvs: {path} is local; Dataflow workers cannot read it (use gs://)"
            )
        if not filesystems.exists(path):
            raise FileNotFoundError(f"dictionary.user_csvs: {path} not found")
    return paths


def build(p: beam.Pipeline, ctx: StageContext) -> None:
    config = ctx.config.dictionary
    nouns_parquet = None
    if config.include_extracted_nouns:
        nouns_parquet = filesystems.join(ctx.upstream_dirs[layout.NOUNS], layout.NOUNS_PARQUET)
    inputs = DictionaryInputs(nouns_parquet, read_term_lists(ctx.config), user_csv_paths(ctx.config))
    glob = filesystems.join(ctx.upstream_dirs[layout.CLEAN], layout.TEXT, "part-*.txt")
    _ = p | "Dictionary" >> CompileUserDictionary(glob, config, inputs, ctx.output_dir)


def extra_files(config: PipelineConfig) -> list[str]:
    d = config.dictionary
    return [resolve_path(config, p) for p in (*d.term_lists, *d.user_csvs)]


def finalize(ctx: StageContext) -> dict:
    return filesystems.read_json(filesystems.join(ctx.output_dir, REPORT))


STAGE = Stage(
    name=NAME,
    upstream=(layout.CLEAN, layout.NOUNS),
    versions={"csv": CSV_VERSION, "check": CHECK_VERSION},
    build=build,
    description="nouns + curated lists -> mecab-ko-dic user CSV, compiled user.dic, single-token check",
    accounting=(
        "extracted_nouns_in",
        "extracted_skipped_known",
        *(f"entries_from_{s}" for s in SOURCES),
        *(f"duplicates_dropped_{s}" for s in SOURCES),
        "entries_written",
        "malformed_rows_skipped",
    ),
    files=extra_files,
    finalize=finalize,
)
