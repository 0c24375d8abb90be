"""`python -m pipeline` (installed: `korpat`): one entry point, one subcommand per action.

    python -m pipeline run [--stages a,b | --from X --to Y] [--force] [--dry-run] [-- BEAM FLAGS]
    python -m pipeline stage NAME [-- BEAM FLAGS]    # re-run one stage
    python -m pipeline status                       # done / stale / incomplete / missing
    python -m pipeline config [--explain]           # print the resolved config (dry run)
    python -m pipeline build-job [STAGE ...] [--out DIR]   # Dataflow jobs, built offline, not submitted
    python -m pipeline generate-corpus --docs N --out DIR   # synthetic corpus for benchmarks
    python -m pipeline bad-inputs [--out DIR]       # ingest+clean on a bad-input corpus, table of outcomes
    python -m pipeline tokenize "문장" --vocab PATH [--user-dict PATH] [--mode korpat|fast]
    python -m pipeline stats PATH_OR_GLOB            # figures and an HTML report of TFRecords
    python -m pipeline report [--root DIR]           # one offline HTML report of the run
    python -m pipeline train [--force]              # TFX pretraining (the train stage)
    python -m pipeline finetune [--export DIR | --init DIR]   # CPC-section classification on an export
    python -m pipeline evaluate --task cls|ner|qa [--model DIR ...]   # downstream table
    python -m pipeline export [--export DIR] [--out DIR]      # saved_model/, google/ and hf/ of an export
    python -m pipeline compile-vertex --out FILE    # the TFX pipeline as a Vertex AI spec (offline)

Global options (before or after the subcommand): `--config PATH`, `--profile NAME`
(merge `profiles.NAME` of the config over the rest, e.g. `--profile dataflow`), `--set KEY=VALUE`
(repeatable, e.g. `--set clean.min_sentence_chars=5`), `-v` (Beam's INFO messages and the
libraries' own warnings, hidden by default: `pipeline.logs`), `--debug` (a traceback with errors).

The command line is strict: an option this CLI does not know is an error with a
suggestion (exit 2, nothing run). Beam flags go in `runner.options` of the config,
or after a `--` separator: `python -m pipeline run -- --direct_num_workers=1`.
Exit codes: 0 success, 1 a stage failed, 2 bad configuration or usage.

Each command is one row of `COMMANDS`: its help, its arguments, how it needs the
config, and its handler, which lives with its tool and is imported only when
that command runs (so `--help` stays fast).
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import importlib
import os
import re
import sys
from collections.abc import Callable, Sequence

from pipeline import logs
from pipeline.config import ConfigError, load_config


@dataclasses.dataclass(frozen=True)
class Command:
    help: str
    # "module:function" called as handler(config, args, beam_args) -> exit code
    handler: str
    arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None
    # "checked": the config is loaded and its input globs checked; "offline": loaded
    # without listing inputs; "optional": None when it does not load; "none": not loaded.
    config: str = "checked"
    # Whether the command runs Beam and so takes Beam flags after `--`.
    beam_flags: bool = False


# ------------------------------------------------------------------ arguments per command


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stages", help="comma-separated stages to run, of: " + ", ".join(STAGES))
    p.add_argument("--from", dest="start", metavar="STAGE", help="first stage to run")
    p.add_argument("--to", dest="end", metavar="STAGE", help="last stage to run")
    p.add_argument("--force", action="store_true", help="rerun even if up to date")
    p.add_argument("--dry-run", action="store_true", help="print the config and the plan, write nothing")


def _stage_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="STAGE", help="one of: " + ", ".join(STAGES))


def _train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="run even if up to date (TFX's cache still applies)")


def _config_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--explain", action="store_true", help="list every setting with its help text")


def _build_job_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="STAGE", help="stages to build (default: all)")
    p.add_argument("--out", metavar="DIR", help="write DIR/<stage>.json instead of printing the jobs")


def _generate_corpus_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--docs", type=int, required=True, help="number of publications")
    p.add_argument("--out", required=True, help="output folder (kipo_xml/ and jsonl/ inside)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--formats", default="kipo_xml,jsonl", help="comma-separated: kipo_xml, jsonl")


def _bad_inputs_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="work folder to keep (default: a temporary folder, deleted after)")
    p.add_argument("--big-mb", type=float, default=50, help="size of the giant publication in MB")


def _tokenize_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("texts", nargs="+", metavar="TEXT")
    p.add_argument(
        "--vocab",
        help="vocab.txt (this pipeline's or KorPatBERT's layout); default: the vocab stage's bert/vocab.txt",
    )
    p.add_argument("--user-dict", help="Mecab-ko user dictionary (.dic)")
    p.add_argument(
        "--model",
        metavar="DIR",
        help="tokenise as a model folder does (an export or its hf/): its vocab, user.dic and mode",
    )
    p.add_argument("--mode", choices=("korpat", "fast"), default=None, help="default: fast, or the model's")


def _stats_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH_OR_GLOB", help="a TFRecord file, a folder of them or a glob")
    p.add_argument("--vocab", help="vocab.txt to decode ids; default: the vocab stage's, by flavour")
    p.add_argument(
        "--model", metavar="DIR", help="decode ids with a model folder's vocab (an export or its hf/)"
    )
    p.add_argument(
        "--out", metavar="DIR", help="where stats.json and stats.html go (default: beside the files)"
    )
    p.add_argument("--limit", type=int, help="read at most this many examples")
    p.add_argument("--no-tfdv", action="store_true", help="skip TFDV's statistics view in the HTML")


def _report_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", metavar="DIR", help="output root to report on (default: output_root)")
    p.add_argument("--out", metavar="DIR", help="where index.html and report.json go (default: ROOT/report)")
    p.add_argument("--examples", type=int, default=2000, help="TFRecord examples read per output and split")


def _finetune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--export", metavar="DIR", help="an export folder (default: the train stage's newest)")
    p.add_argument(
        "--init",
        metavar="DIR",
        help="fine-tune another model instead: a Google-layout BERT folder (KorPatBERT's) or an hf/ folder",
    )
    p.add_argument("--data", metavar="TSV", help="label<TAB>sentence file (default: finetune.data)")
    p.add_argument("--out", metavar="DIR", help="where the report goes (default: <output_root>/finetune)")


def _evaluate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--task", required=True, choices=("cls", "ner", "qa"), help="which downstream task")
    p.add_argument("--data", metavar="PATH", help="the task's data (default: evaluate.<task>_data)")
    p.add_argument(
        "--model",
        nargs="+",
        metavar="DIR",
        help="model folders: exports, Google-layout (KorPatBERT) or hf/ (default: the newest export)",
    )


def _export_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--export", metavar="DIR", help="an export folder (default: the newest of finetune.model's type)"
    )
    p.add_argument(
        "--format", default="saved_model,google,hf", help="comma-separated: saved_model, google, hf"
    )
    p.add_argument("--out", metavar="DIR", help="where to write (default: into the export folder)")


def _compile_vertex_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="FILE", help="pipeline spec JSON to write")


# The stages in run order, for --help without importing them (the stage table,
# `pipeline.run.registry`, imports Beam; tests/test_cli.py keeps the two equal).
STAGES = ("ingest", "clean", "nouns", "dictionary", "morph", "vocab", "tfrecords", "train")

COMMANDS: dict[str, Command] = {
    "run": Command(
        "run stages in order, skipping up-to-date ones",
        "pipeline.run.commands:run",
        _run_arguments,
        beam_flags=True,
    ),
    "stage": Command(
        "re-run one stage (always runs)", "pipeline.run.commands:stage", _stage_arguments, beam_flags=True
    ),
    "status": Command(
        "show each stage as done, stale, incomplete or missing", "pipeline.run.commands:status"
    ),
    "generate-corpus": Command(
        "write a deterministic synthetic corpus for benchmarks",
        "pipeline.tools.synthetic_corpus:command",
        _generate_corpus_arguments,
        config="none",
    ),
    "bad-inputs": Command(
        "run ingest+clean on a corpus of bad inputs, print what happened",
        "pipeline.tools.bad_inputs.harness:command",
        _bad_inputs_arguments,
        config="none",
        beam_flags=True,
    ),
    "tokenize": Command(
        "print the morphemes, pieces and ids of texts",
        "pipeline.tools.tokenize_text:command",
        _tokenize_arguments,
        config="optional",
    ),
    "stats": Command(
        "figures, stats.json and stats.html of BERT/ELECTRA TFRecords",
        "pipeline.tools.tfrecord_stats:command",
        _stats_arguments,
        config="optional",
    ),
    "report": Command(
        "one offline HTML report of the run (report/index.html, report.json)",
        "pipeline.tools.report:command",
        _report_arguments,
        config="optional",
    ),
    "build-job": Command(
        "build stages as Dataflow jobs with --dry_run=True (offline; nothing is submitted)",
        "pipeline.run.dataflow_jobs:command",
        _build_job_arguments,
        config="offline",
        beam_flags=True,
    ),
    "train": Command(
        "TFX pretraining of BERT/ELECTRA on the tfrecords (stage train)",
        "pipeline.run.commands:train",
        _train_arguments,
        beam_flags=True,
    ),
    "finetune": Command(
        "fine-tune a pretrained encoder on CPC-labelled sentences",
        "pipeline.tools.model_commands:finetune",
        _finetune_arguments,
        config="offline",
    ),
    "evaluate": Command(
        "fine-tune and score encoders on NER, CPC classification or QA (KorPatELECTRA's table)",
        "pipeline.tools.model_commands:evaluate",
        _evaluate_arguments,
        config="offline",
    ),
    "export": Command(
        "write an export's model formats: saved_model/, google/ (Google BERT) and hf/ (Hugging Face)",
        "pipeline.tools.model_commands:export",
        _export_arguments,
        config="offline",
    ),
    "compile-vertex": Command(
        "compile the TFX pipeline for Vertex AI Pipelines (offline; nothing is submitted)",
        "pipeline.tools.compile_vertex:command",
        _compile_vertex_arguments,
        config="offline",
    ),
    "config": Command(
        "print the resolved config", "pipeline.run.commands:config", _config_arguments, "offline"
    ),
}


EXAMPLES = """\
stages, in run order: {stages}

examples:
  {prog} run                                  every stage, skipping up-to-date ones
  {prog} run --to clean --dry-run             the plan and the resolved config, nothing written
  {prog} run --stages nouns,dictionary --force
  {prog} stage morph --set morph.batch_sentences=2000
  {prog} run --config my.yaml --profile dataflow
  {prog} run -- --direct_num_workers=1        Beam flags after `--` (or runner.options in the config)
  {prog} status
  {prog} tokenize "반도체 기판을 세정한다"
  {prog} <command> --help                     the options of one command
"""


class UsageError(Exception):
    """A mistake on the command line: one line on stderr, exit 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, strict: no abbreviations, and an error is an exception (one line,
    with a suggestion) instead of the usage text and an exit."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            options = re.findall(r"'([^']*)'", choice.group(2))
            message += _did_you_mean(choice.group(1), options)
        raise UsageError(f"{self.prog}: {message}")


def _did_you_mean(word: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _common_options(with_defaults: bool) -> argparse.ArgumentParser:
    """The global options. Subcommands get them without defaults: argparse lets a
    subparser's defaults overwrite what was given before the subcommand."""

    def default(value):
        return value if with_defaults else argparse.SUPPRESS

    common = _Parser(add_help=False)
    common.add_argument("--config", default=default("pipeline.yaml"), help="pipeline.yaml to use")
    common.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=default([]),
        metavar="KEY=VALUE",
        help="override one setting, e.g. clean.num_shards=16 (repeatable)",
    )
    common.add_argument(
        "--profile",
        default=default(None),
        metavar="NAME",
        help="merge profiles.NAME of the config over it, e.g. dataflow",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=default(False),
        help="also show Beam's INFO messages and the libraries' own warnings (TensorFlow, TFX)",
    )
    common.add_argument(
        "--debug", action="store_true", default=default(False), help="print a traceback with an error"
    )
    return common


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The parser and each command's subparser (for suggestions)."""
    common = _common_options(with_defaults=False)
    prog = "korpat" if os.path.basename(sys.argv[0]) == "korpat" else "python -m pipeline"
    parser = _Parser(
        prog=prog,
        description=__doc__.split("\n")[0],
        parents=[_common_options(with_defaults=True)],
        epilog=EXAMPLES.format(prog=prog, stages=", ".join(STAGES)),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    subparsers = {}
    for name, command in COMMANDS.items():
        epilog = None
        if command.beam_flags:
            epilog = (
                "Beam flags: after a `--` separator (e.g. `-- --direct_num_workers=1`), "
                "or in runner.options of the config."
            )
        subparsers[name] = sub.add_parser(
            name, parents=[common], help=command.help, description=command.help, epilog=epilog
        )
        command.arguments(subparsers[name])
    return parser, subparsers


def _option_strings(parser: argparse.ArgumentParser) -> list[str]:
    return [s for action in parser._actions for s in action.option_strings]


def _unknown_argument(unknown: str, parser: argparse.ArgumentParser, beam_flags: bool) -> str:
    """The one-line error for an argument no parser took."""
    name = unknown.split("=", 1)[0]
    if not name.startswith("-"):
        return f"{parser.prog}: unexpected argument {unknown!r}"
    if name in _option_strings(parser):  # `--force run`: an option of the command, given before it
        return f"{parser.prog}: {name} goes after the command: {parser.prog} {name} ..."
    hint = _did_you_mean(name, _option_strings(parser))
    if not hint and beam_flags:
        hint = f" (a Beam flag? put Beam flags last, after `--`: ... -- {unknown})"
    return f"{parser.prog}: unknown option {name!r}{hint}"


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """(options, Beam flags): everything after the first `--` is a Beam flag; before it,
    an argument no parser knows is a UsageError."""
    argv = list(argv)
    beam_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, beam_args = argv[:cut], argv[cut + 1 :]
    parser, subparsers = _parser()
    args, unknown = parser.parse_known_args(argv)
    command = COMMANDS[args.command]
    if unknown:
        raise UsageError(_unknown_argument(unknown[0], subparsers[args.command], command.beam_flags))
    if beam_args and not command.beam_flags:
        raise UsageError(f"{subparsers[args.command].prog}: takes no Beam flags (after `--`)")
    return args, beam_args


def _handler(dotted: str) -> Callable[..., int]:
    module, _, function = dotted.partition(":")
    return getattr(importlib.import_module(module), function)


# Errors that mean the user named something that is not there or not of the
# right kind (a Parquet file given to `stats`): exit 2, like a usage error. (A
# stage's failure is caught by the runner's commands: exit 1.)
_USER_ERRORS = (
    ConfigError,
    UsageError,
    ValueError,
    FileNotFoundError,
    NotADirectoryError,
    IsADirectoryError,
)
_USER_ERROR_NAMES = ("DataLossError", "NotFoundError", "InvalidArgumentError")


def _one_line(error: BaseException) -> str:
    """An exception as one readable line (TensorFlow's op decorations removed)."""
    text = " ".join(str(error).split())
    text = re.sub(r"\{\{function_node [^}]*\}\}\s*", "", text)
    text = re.sub(r"\s*\[Op:[^\]]*\].*$", "", text)
    return text or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args, beam_args = parse(sys.argv[1:] if argv is None else argv)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    # Before anything imports TensorFlow, Beam or TFX (child processes inherit it).
    logs.configure(args.verbose)
    command = COMMANDS[args.command]
    explain_only = args.command == "config" and args.explain
    config = None
    if command.config != "none" and not explain_only:
        try:
            config = load_config(
                args.config,
                tuple(args.overrides),
                check_inputs=command.config == "checked",
                profile=args.profile,
            )
        except ConfigError as e:
            if command.config != "optional":
                print(f"config error: {e}", file=sys.stderr)
                return 2
    try:
        return _handler(command.handler)(config, args, beam_args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if args.debug:
            raise
        user_error = isinstance(e, _USER_ERRORS) or type(e).__name__ in _USER_ERROR_NAMES
        print(f"error: {_one_line(e)} (--debug shows the traceback)", file=sys.stderr)
        return 2 if user_error else 1
