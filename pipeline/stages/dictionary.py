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
share of those nouns that always come out whole, and before/after examples;
and what the entries' costs risk: where an entry overrode a stock analysis
that was not a split noun (a particle, an ending or a verb under it, or a cut
into a stock token), with the share of those that were wrong on a hand-checked
demo sample (`user_dictionary.HAND_CHECKED_OVERRIDES`).

Costs: an added noun's word cost comes from its length (`length_costs`,
`noun_cost`) unless `cost` is set; see docs/stages.md for the figures.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import time
import typing
from collections.abc import Iterable, Iterator, Mapping

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.metrics import Metrics

from pipeline import layout
from pipeline.config import ConfigError, DictionaryConfig, PipelineConfig, resolve_path
from pipeline.io import filesystems
from pipeline.layout import USER_CSV, USER_DIC
from pipeline.run.stage import Stage, StageContext
from pipeline.text.mecab_dictionary import (
    CSV_VERSION,
    SOURCES,
    csv_row,
    format_csv_line,
    noun_cost,
    split_csv_line,
)
from pipeline.text.user_dictionary import (
    CHECK_VERSION,
    HAND_CHECKED_OVERRIDES,
    Entry,
    check_sentences,
    compile_user_dictionary,
    is_sentence,
    known_noun_checker,
    merge_entries,
    read_lines,
    sample_key,
    summarize_checks,
    summarize_overrides,
    term_list_entries,
    user_csv_entries,
    write_entries,
)

NAME = layout.DICTIONARY

REPORT = "report.json"
REJECTS = "rejects.jsonl"

# ------------------------------------------------------------------ inputs


@dataclasses.dataclass(frozen=True)
class DictionaryInputs:
    """What the build step reads: paths resolved and small lists read on the launcher."""

    nouns_parquet: str | None
    term_lists: tuple[tuple[str, str], ...]  # (path, text)
    user_csvs: tuple[str, ...]


def extracted_entries(rows: Iterable[Mapping], config: DictionaryConfig, is_known=None) -> Iterator[Entry]:
    """Rows for the nouns stage's output; `is_known(noun)` says the stock dictionary has it."""
    for r in rows:
        Metrics.counter(NAME, "extracted_nouns_in").inc()
        if is_known is not None and is_known(r["noun"]):
            Metrics.counter(NAME, "extracted_skipped_known").inc()
            continue
        cost = noun_cost(r["noun"], config.cost, config.length_costs)
        row = csv_row(r["noun"], config.pos, tuple(r["parts"] or ()), config.compound_part_pos, cost)
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

        local_dir = filesystems.scratch_folder("dictionary_")
        try:
            local_csv, local_dic = os.path.join(local_dir, USER_CSV), os.path.join(local_dir, USER_DIC)
            write_entries(entries, local_csv)
            with filesystems.Progress.step(NAME, "compiling the user dictionary (mecab-ko)"):
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

        local_dir = filesystems.scratch_folder("dictionary_check_")
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
            overrides: dict = {}
            checks = check_sentences(
                sorted(sentences),
                vocabulary,
                max_length,
                self._stock,
                mecab.MeCab(user_dictionary_path=local_dic),
                overrides,
            )
            seconds = time.time() - started
        finally:
            shutil.rmtree(local_dir, ignore_errors=True)
        summary = summarize_checks(checks, self._config.examples, self._config.target_single_token_share)
        summary["stock_overrides"] = {
            **summarize_overrides(overrides, self._config.examples),
            "hand_checked": HAND_CHECKED_OVERRIDES,
        }
        report = {**built, "check": {"sentences": len(sentences), "seconds": round(seconds, 2), **summary}}
        filesystems.write_json(filesystems.join(self._output_dir, REPORT), report)
        yield report


class CompileUserDictionary(beam.PTransform):
    """Nouns + curated lists + user CSVs -> user.csv, user.dic, rejects.jsonl and report.json."""

    def __init__(
        self,
        text_glob: str,
        config: DictionaryConfig,
        inputs: DictionaryInputs,
        output_dir: str,
        after_text=None,
        after_nouns=None,
    ):
        super().__init__()
        self._glob, self._config, self._inputs, self._output_dir = text_glob, config, inputs, output_dir
        # clean's and nouns' completion elements when fused into their job
        self._after_text, self._after_nouns = after_text, after_nouns

    def expand(self, pipeline):
        built = filesystems.start(pipeline, self._after_nouns) | "Build" >> beam.ParDo(
            BuildUserDictionary(self._config, self._inputs, self._output_dir)
        )
        sample = (
            filesystems.read_text(pipeline, self._glob, self._after_text)
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
    return p | "Dictionary" >> CompileUserDictionary(
        glob,
        config,
        inputs,
        ctx.output_dir,
        after_text=ctx.after(layout.CLEAN),
        after_nouns=ctx.after(layout.NOUNS),
    )


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
    fusable=True,
)
