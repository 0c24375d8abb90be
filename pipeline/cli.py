"""`python -m pipeline`: one entry point, one subcommand per action.

    python -m pipeline run [--stages a,b | --from X --to Y] [--force] [BEAM FLAGS]
    python -m pipeline stage NAME [BEAM FLAGS]      # re-run one stage
    python -m pipeline status                       # done / stale / incomplete / missing
    python -m pipeline config [--explain]           # print the resolved config (dry run)
    python -m pipeline build-job [STAGE ...] [--out DIR]   # Dataflow jobs, built offline, not submitted
    python -m pipeline generate-corpus --docs N --out DIR   # synthetic corpus for benchmarks
    python -m pipeline bad-inputs [--out DIR]       # ingest+clean on a bad-input corpus, table of outcomes
    python -m pipeline tokenize "문장" --vocab PATH [--user-dict PATH] [--mode korpat|fast]
    python -m pipeline stats PATH_OR_GLOB            # figures and an HTML report of TFRecords
    python -m pipeline train [--force]              # TFX pretraining (the train stage)
    python -m pipeline finetune [--export DIR]      # CPC-section classification on an export
    python -m pipeline compile-vertex --out FILE    # the TFX pipeline as a Vertex AI spec (offline)

Global options (before or after the subcommand): `--config PATH`, `--profile NAME`
(merge `profiles.NAME` of the config over the rest, e.g. `--profile dataflow`), `--set KEY=VALUE`
(repeatable, e.g. `--set clean.min_sentence_chars=5`). Flags that this CLI does
not know (`--runner`, `--direct_num_workers`, `--project`, ...) go to Beam.
Exit codes: 0 success, 1 a stage failed, 2 bad configuration or usage.

Each command is one row of `COMMANDS`: its help, its arguments, how it needs the
config, and its handler, which lives with its tool and is imported only when
that command runs (so `--help` stays fast).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import logging
import os
import sys
from collections.abc import Callable, Sequence

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


# ------------------------------------------------------------------ arguments per command


def _run_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--stages", help="comma-separated stages to run")
    p.add_argument("--from", dest="start", metavar="STAGE", help="first stage to run")
    p.add_argument("--to", dest="end", metavar="STAGE", help="last stage to run")
    p.add_argument("--force", action="store_true", help="rerun even if up to date")
    p.add_argument("--dry-run", action="store_true", help="print the config and the plan, write nothing")


def _stage_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("name")


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
    p.add_argument("--mode", choices=("korpat", "fast"), default="fast")


def _stats_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="PATH_OR_GLOB", help="a TFRecord file, a folder of them or a glob")
    p.add_argument("--vocab", help="vocab.txt to decode ids; default: the vocab stage's, by flavour")
    p.add_argument(
        "--out", metavar="DIR", help="where stats.json and stats.html go (default: beside the files)"
    )
    p.add_argument("--limit", type=int, help="read at most this many examples")
    p.add_argument("--no-tfdv", action="store_true", help="skip TFDV's statistics view in the HTML")


def _finetune_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--export", metavar="DIR", help="an export folder (default: the train stage's newest)")
    p.add_argument("--data", metavar="TSV", help="label<TAB>sentence file (default: finetune.data)")
    p.add_argument("--out", metavar="DIR", help="where the report goes (default: <output_root>/finetune)")


def _compile_vertex_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, metavar="FILE", help="pipeline spec JSON to write")


COMMANDS: dict[str, Command] = {
    "run": Command(
        "run stages in order, skipping up-to-date ones", "pipeline.run.commands:run", _run_arguments
    ),
    "stage": Command("re-run one stage (always runs)", "pipeline.run.commands:stage", _stage_arguments),
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
    "build-job": Command(
        "build stages as Dataflow jobs with --dry_run=True (offline; nothing is submitted)",
        "pipeline.run.dataflow_jobs:command",
        _build_job_arguments,
        config="offline",
    ),
    "train": Command(
        "TFX pretraining of BERT/ELECTRA on the tfrecords (stage train)",
        "pipeline.run.commands:train",
        _train_arguments,
    ),
    "finetune": Command(
        "fine-tune a pretrained encoder on CPC-labelled sentences",
        "pipeline.tools.model_commands:finetune",
        _finetune_arguments,
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


def _common_options(with_defaults: bool) -> argparse.ArgumentParser:
    """The global options. Subcommands get them without defaults: argparse lets a
    subparser's defaults overwrite what was given before the subcommand."""

    def default(value):
        return value if with_defaults else argparse.SUPPRESS

    common = argparse.ArgumentParser(add_help=False)
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
        "-v", "--verbose", action="store_true", default=default(False), help="log Beam's INFO messages"
    )
    return common


def _parser() -> argparse.ArgumentParser:
    common = _common_options(with_defaults=False)
    parser = argparse.ArgumentParser(
        prog="python -m pipeline",
        description=__doc__.split("\n")[0],
        parents=[_common_options(with_defaults=True)],
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        command.arguments(sub.add_parser(name, parents=[common], help=command.help))
    return parser


# DirectRunner's worker processes report these at WARNING on every start; they
# say nothing about the run.
_BEAM_NOISE = ("semi_persistent_directory", "Discarding unparseable args")


class _DropBeamNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in _BEAM_NOISE)


def _handler(dotted: str) -> Callable[..., int]:
    module, _, function = dotted.partition(":")
    return getattr(importlib.import_module(module), function)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, beam_args = parser.parse_known_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(_DropBeamNoise())
    # Worker processes inherit this: google-api-core's Python 3.11 notice.
    os.environ.setdefault("PYTHONWARNINGS", "ignore::FutureWarning")
    # TensorFlow's start-up INFO lines (oneDNN notices) say nothing about the run.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")
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
    return _handler(command.handler)(config, args, list(beam_args))
