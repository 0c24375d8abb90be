"""The runner's commands: `run`, `stage`, `train`, `status` and `config`.

`run`, `stage` and `train` write: each checks everything it can first (output
root, Beam flags, files, upstreams; a failed check is one line and exit 2 with
nothing written), then holds the output root's lock (`pipeline.run.lock`) while
its stages run. `status` and `config` only read and take no lock.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import io
import logging
import sys
from collections.abc import Iterable, Sequence

from pipeline.config import PipelineConfig, explain, to_yaml
from pipeline.run import fused_jobs, runner
from pipeline.run.lock import OutputLock, OutputLocked
from pipeline.run.registry import stage_table
from pipeline.tools import report as run_report


def _did_you_mean(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_stage_names(names: Iterable[str], stages: Iterable[str]) -> None:
    """ValueError naming the first unknown stage, with a suggestion."""
    stages = list(stages)
    for name in names:
        if name not in stages:
            raise ValueError(
                f"unknown stage {name!r}{_did_you_mean(name, stages)}; stages are: {', '.join(stages)}"
            )


def check_beam_flags(flags: Sequence[str]) -> None:
    """ValueError naming the first flag Beam would discard (a typo Beam only logs)."""
    from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

    parser = _BeamArgumentParser()
    for cls in {str(c): c for c in PipelineOptions.__subclasses__()}.values():
        cls._add_argparse_args(parser)
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            _, unknown = parser.parse_known_args(list(flags))
    except SystemExit:  # a bad value: runner.preflight names it, in Beam's words
        return
    known = [s for action in parser._actions for s in action.option_strings]
    for flag in unknown:
        if flag.startswith("-"):
            name = flag.split("=", 1)[0]
            raise ValueError(f"unknown Beam flag {name!r}{_did_you_mean(name, known)}")


def _run_stages(
    config: PipelineConfig,
    names: Sequence[str],
    beam_args: Sequence[str],
    force: bool,
    command: str,
    debug: bool = False,
) -> int:
    stages = stage_table()
    try:
        check_beam_flags([*config.runner.options, *beam_args])
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    try:
        runner.check_output_root(config)
        with OutputLock(runner.output_root(config), command):
            runner.preflight(config, names, stages, beam_args)
            for job in fused_jobs.plan_jobs(config, names, stages, force):
                try:
                    if len(job) == 1:
                        runner.run_stage(config, stages[job[0]], stages, beam_args, force=force)
                    else:
                        fused_jobs.run_fused(config, [stages[name] for name in job], stages, beam_args)
                except (runner.RunRefused, OutputLocked):
                    raise
                except Exception as e:  # a failed stage leaves the previous output in place
                    what = f"stage {job[0]}" if len(job) == 1 else f"the job of stages {', '.join(job)}"
                    if debug:
                        logging.exception("%s failed", what)
                    message = " ".join(str(e).split()) or type(e).__name__
                    hint = "" if debug else " (--debug shows the traceback)"
                    print(f"error: {what} failed: {message}{hint}", file=sys.stderr)
                    return 1
    except (runner.RunRefused, OutputLocked) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # the lock file itself (an object store that refuses the write)
        print(f"error: output_root: {e}", file=sys.stderr)
        return 2
    return 0


def run(config: PipelineConfig, args: argparse.Namespace, beam_args: Sequence[str]) -> int:
    """Stages in order (all, `--stages`, or `--from`/`--to`), skipping up-to-date ones."""
    stages = stage_table()
    only = args.stages.split(",") if args.stages else None
    try:
        check_stage_names([*(only or []), *(n for n in (args.start, args.end) if n)], stages)
        names = runner.select_stages(list(stages), only, args.start, args.end)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.dry_run:
        print(to_yaml(config), end="")
        status = {s.name: s for s in runner.stage_status(config, stages)}
        for n in names:
            action = "skip (up to date)" if status[n].state == "done" and not args.force else "run"
            print(f"# plan: {n}: {action} [{status[n].state}] {status[n].detail}")
        jobs = fused_jobs.plan_jobs(config, names, stages, args.force)
        print(f"# jobs ({config.runner.resolved_jobs}): " + " | ".join("+".join(job) for job in jobs))
        try:  # what the real run would refuse, the dry run refuses too (it writes nothing)
            check_beam_flags([*config.runner.options, *beam_args])
            runner.preflight(config, names, stages, beam_args)
        except (ValueError, runner.RunRefused) as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    code = _run_stages(config, names, beam_args, args.force, "run", args.debug)
    # The run report is written after every successful run; it never fails one.
    return code or run_report.after_run(config)


def stage(config: PipelineConfig, args: argparse.Namespace, beam_args: Sequence[str]) -> int:
    """One stage, always rerun."""
    stages = stage_table()
    try:
        check_stage_names([args.name], stages)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return _run_stages(config, [args.name], beam_args, True, f"stage {args.name}", args.debug)


def train(config: PipelineConfig, args: argparse.Namespace, beam_args: Sequence[str]) -> int:
    """The train stage (TFX), skipped when up to date unless --force."""
    return _run_stages(config, ["train"], beam_args, args.force, "train", args.debug)


def status(config: PipelineConfig, args: argparse.Namespace, beam_args: Sequence[str]) -> int:
    for s in runner.stage_status(config, stage_table()):
        print(f"{s.name:<12} {s.state:<11} {s.detail}")
    return 0


def config(config: PipelineConfig | None, args: argparse.Namespace, beam_args: Sequence[str]) -> int:
    """The resolved config as YAML, or (--explain) every setting with its help text."""
    if args.explain:
        print("\n".join(explain()))
    else:
        print(to_yaml(config), end="")
    return 0
