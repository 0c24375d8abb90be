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
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from pipeline.config import ConfigError, explain, load_config, to_yaml


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

    run = sub.add_parser("run", parents=[common], help="run stages in order, skipping up-to-date ones")
    run.add_argument("--stages", help="comma-separated stages to run")
    run.add_argument("--from", dest="start", metavar="STAGE", help="first stage to run")
    run.add_argument("--to", dest="end", metavar="STAGE", help="last stage to run")
    run.add_argument("--force", action="store_true", help="rerun even if up to date")
    run.add_argument("--dry-run", action="store_true", help="print the config and the plan, write nothing")

    stage = sub.add_parser("stage", parents=[common], help="re-run one stage (always runs)")
    stage.add_argument("name")

    sub.add_parser("status", parents=[common], help="show each stage as done, stale, incomplete or missing")

    gen = sub.add_parser(
        "generate-corpus", parents=[common], help="write a deterministic synthetic corpus for benchmarks"
    )
    gen.add_argument("--docs", type=int, required=True, help="number of publications")
    gen.add_argument("--out", required=True, help="output folder (kipo_xml/ and jsonl/ inside)")
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--formats", default="kipo_xml,jsonl", help="comma-separated: kipo_xml, jsonl")

    bad = sub.add_parser(
        "bad-inputs", parents=[common], help="run ingest+clean on a corpus of bad inputs, print what happened"
    )
    bad.add_argument("--out", help="work folder to keep (default: a temporary folder, deleted after)")
    bad.add_argument("--big-mb", type=float, default=50, help="size of the giant publication in MB")

    tok = sub.add_parser("tokenize", parents=[common], help="print the morphemes, pieces and ids of texts")
    tok.add_argument("texts", nargs="+", metavar="TEXT")
    tok.add_argument(
        "--vocab",
        help="vocab.txt (this pipeline's or KorPatBERT's layout); default: the vocab stage's bert/vocab.txt",
    )
    tok.add_argument("--user-dict", help="Mecab-ko user dictionary (.dic)")
    tok.add_argument("--mode", choices=("korpat", "fast"), default="fast")

    st = sub.add_parser(
        "stats", parents=[common], help="figures, stats.json and stats.html of BERT/ELECTRA TFRecords"
    )
    st.add_argument("path", metavar="PATH_OR_GLOB", help="a TFRecord file, a folder of them or a glob")
    st.add_argument("--vocab", help="vocab.txt to decode ids; default: the vocab stage's, by flavour")
    st.add_argument(
        "--out", metavar="DIR", help="where stats.json and stats.html go (default: beside the files)"
    )
    st.add_argument("--limit", type=int, help="read at most this many examples")
    st.add_argument("--no-tfdv", action="store_true", help="skip TFDV's statistics view in the HTML")

    job = sub.add_parser(
        "build-job",
        parents=[common],
        help="build stages as Dataflow jobs with --dry_run=True (offline; nothing is submitted)",
    )
    job.add_argument("names", nargs="*", metavar="STAGE", help="stages to build (default: all)")
    job.add_argument("--out", metavar="DIR", help="write DIR/<stage>.json instead of printing the jobs")

    tr = sub.add_parser(
        "train", parents=[common], help="TFX pretraining of BERT/ELECTRA on the tfrecords (stage train)"
    )
    tr.add_argument("--force", action="store_true", help="run even if up to date (TFX's cache still applies)")

    ft = sub.add_parser(
        "finetune", parents=[common], help="fine-tune a pretrained encoder on CPC-labelled sentences"
    )
    ft.add_argument("--export", metavar="DIR", help="an export folder (default: the train stage's newest)")
    ft.add_argument("--data", metavar="TSV", help="label<TAB>sentence file (default: finetune.data)")
    ft.add_argument("--out", metavar="DIR", help="where the report goes (default: <output_root>/finetune)")

    cv = sub.add_parser(
        "compile-vertex",
        parents=[common],
        help="compile the TFX pipeline for Vertex AI Pipelines (offline; nothing is submitted)",
    )
    cv.add_argument("--out", required=True, metavar="FILE", help="pipeline spec JSON to write")

    cfg = sub.add_parser("config", parents=[common], help="print the resolved config")
    cfg.add_argument("--explain", action="store_true", help="list every setting with its help text")
    return parser


# DirectRunner's worker processes report these at WARNING on every start; they
# say nothing about the run.
_BEAM_NOISE = ("semi_persistent_directory", "Discarding unparseable args")


class _DropBeamNoise(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(noise in message for noise in _BEAM_NOISE)


def _build_jobs(config, stages, names: Sequence[str], out: str | None, beam_args: Sequence[str]) -> int:
    """`build-job`: each chosen stage as a Dataflow job, printed as JSON or written to DIR/<stage>.json."""
    import json
    import time

    from pipeline import beam_io, dataflow, runner

    beam_stages = [name for name, stage in stages.items() if stage.build is not None]
    for name in names:
        if name in stages and stages[name].build is None:
            print(
                f"error: stage {name} is a TFX pipeline, not a Beam job; compile it for Vertex AI "
                "with `python -m pipeline compile-vertex`",
                file=sys.stderr,
            )
            return 2
    try:
        names = runner.select_stages(beam_stages, names or None)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    jobs = {}
    for name in names:
        started = time.monotonic()
        try:
            jobs[name] = dataflow.build_job(config, stages[name], beam_args)
        except ConfigError as e:
            print(f"config error: {e}", file=sys.stderr)
            return 2
        except Exception as e:
            logging.exception("building stage %s failed", name)
            print(f"error: building stage {name} as a Dataflow job failed: {e}", file=sys.stderr)
            return 1
        print(f"{dataflow.summary(jobs[name])}; built in {time.monotonic() - started:.1f} s", file=sys.stderr)
        if out:
            beam_io.write_json(beam_io.join(out, f"{name}.json"), jobs[name])
    if not out:
        print(json.dumps(jobs, ensure_ascii=False, indent=2, sort_keys=True))
    return 0


def _default_vocab(args) -> str | None:
    """`<output_root>/vocab/bert/vocab.txt` of the config, when the vocab stage has written it."""
    from pipeline import beam_io
    from pipeline.config import resolve_path

    try:
        config = load_config(args.config, tuple(args.overrides), check_inputs=False, profile=args.profile)
    except ConfigError:
        return None
    path = beam_io.join(resolve_path(config, config.output_root), "vocab", "bert", "vocab.txt")
    return path if beam_io.exists(path) else None


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
    if args.command == "generate-corpus":
        from pipeline.synthetic import write_corpus

        summary = write_corpus(args.out, args.docs, args.seed, tuple(args.formats.split(",")))
        print(" ".join(f"{k}={v}" for k, v in summary.items()))
        return 0
    if args.command == "bad-inputs":
        from pipeline.badinputs import main as bad_inputs

        return bad_inputs(args.out, args.big_mb, beam_args)
    if args.command == "tokenize":
        from pipeline.tokenizer import tokenize_command

        return tokenize_command(args.texts, args.vocab or _default_vocab(args), args.user_dict, args.mode)
    if args.command == "stats":
        from pipeline.tfrecord_stats import stats_command

        bert = _default_vocab(args)
        defaults = {"bert": bert, "electra": bert.replace("/bert/", "/electra/")} if bert else None
        return stats_command(args.path, args.vocab, args.out, args.limit, not args.no_tfdv, defaults)
    if args.command == "config" and args.explain:
        print("\n".join(explain()))
        return 0
    try:
        config = load_config(
            args.config,
            tuple(args.overrides),
            # These two must work offline: they never list the inputs.
            check_inputs=args.command not in ("config", "build-job", "compile-vertex", "finetune"),
            profile=args.profile,
        )
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2

    from pipeline import runner

    stages = runner.stage_table()
    if args.command == "config":
        print(to_yaml(config), end="")
        return 0
    if args.command == "build-job":
        return _build_jobs(config, stages, args.names, args.out, beam_args)
    if args.command == "compile-vertex":
        from pipeline.train import compile_vertex_command

        try:
            return compile_vertex_command(config, args.out)
        except ConfigError as e:
            print(f"config error: {e}", file=sys.stderr)
            return 2
    if args.command == "finetune":
        from pipeline.finetune import finetune_command

        return finetune_command(config, args.export, args.data, args.out)
    if args.command == "status":
        for s in runner.stage_status(config, stages):
            print(f"{s.name:<12} {s.state:<11} {s.detail}")
        return 0

    if args.command == "train":
        names, force = ["train"], args.force
    elif args.command == "stage":
        names, force = [args.name], True
        if args.name not in stages:
            print(f"error: unknown stage {args.name!r}; stages are: {', '.join(stages)}", file=sys.stderr)
            return 2
    else:
        only = args.stages.split(",") if args.stages else None
        try:
            names = runner.select_stages(list(stages), only, args.start, args.end)
        except ValueError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        force = args.force
        if args.dry_run:
            print(to_yaml(config), end="")
            status = {s.name: s for s in runner.stage_status(config, stages)}
            for n in names:
                action = "skip (up to date)" if status[n].state == "done" and not force else "run"
                print(f"# plan: {n}: {action} [{status[n].state}] {status[n].detail}")
            return 0

    for name in names:
        try:
            runner.run_stage(config, stages[name], stages, beam_args, force=force)
        except Exception as e:  # a failed stage leaves no manifest behind
            logging.exception("stage %s failed", name)
            print(f"error: stage {name} failed: {e}", file=sys.stderr)
            return 1
    return 0
