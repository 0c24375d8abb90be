"""`python -m pipeline`: one entry point, one subcommand per action.

    python -m pipeline run [--stages a,b | --from X --to Y] [--force] [BEAM FLAGS]
    python -m pipeline stage NAME [BEAM FLAGS]      # re-run one stage
    python -m pipeline status                       # done / stale / incomplete / missing
    python -m pipeline config [--explain]           # print the resolved config (dry run)
    python -m pipeline generate-corpus --docs N --out DIR   # synthetic corpus for benchmarks

Global options (before or after the subcommand): `--config PATH`, `--set KEY=VALUE`
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


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default="pipeline.yaml", help="pipeline.yaml to use")
    common.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one setting, e.g. clean.num_shards=16 (repeatable)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="log Beam's INFO messages")

    parser = argparse.ArgumentParser(
        prog="python -m pipeline", description=__doc__.split("\n")[0], parents=[common]
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
    if args.command == "generate-corpus":
        from pipeline.synthetic import write_corpus

        summary = write_corpus(args.out, args.docs, args.seed, tuple(args.formats.split(",")))
        print(" ".join(f"{k}={v}" for k, v in summary.items()))
        return 0
    if args.command == "config" and args.explain:
        print("\n".join(explain()))
        return 0
    try:
        config = load_config(args.config, tuple(args.overrides), check_inputs=args.command != "config")
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return 2

    from pipeline import runner

    stages = runner.stage_table()
    if args.command == "config":
        print(to_yaml(config), end="")
        return 0
    if args.command == "status":
        for s in runner.stage_status(config, stages):
            print(f"{s.name:<12} {s.state:<11} {s.detail}")
        return 0

    if args.command == "stage":
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
