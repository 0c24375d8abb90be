"""The runner's commands: `run`, `stage`, `train`, `status` and `config`.

`run`, `stage` and `train` write: each checks everything it can first (output
root, Beam flags, files, upstreams; a failed check is one line and exit 2 with
nothing written), then holds the output root's lock (`pipeline.run.lock`) while
its stages run. `status` and `config` only read and take no lock.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from pipeline.config import PipelineConfig, explain, to_yaml
from pipeline.run import runner
from pipeline.run.lock import OutputLock, OutputLocked
from pipeline.run.registry import stage_table


def _run_stages(
    config: PipelineConfig, names: Sequence[str], beam_args: Sequence[str], force: bool, command: str
) -> int:
    stages = stage_table()
    try:
        runner.check_output_root(config)
        with OutputLock(runner.output_root(config), command):
            runner.preflight(config, names, stages, beam_args)
            for name in names:
                try:
                    runner.run_stage(config, stages[name], stages, beam_args, force=force)
                except (runner.RunRefused, OutputLocked):
                    raise
                except Exception as e:  # a failed stage leaves the previous output in place
                    logging.exception("stage %s failed", name)
                    print(f"error: stage {name} failed: {e}", file=sys.stderr)
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
        try:  # what the real run would refuse, the dry run refuses too (it writes nothing)
            runner.preflight(config, names, stages, beam_args)
        except runner.RunRefused as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        return 0
    return _run_stages(config, names, beam_args, args.force, "run")


def stage(config: PipelineConfig, args: argparse.Namespace, beam_args: Sequence[str]) -> int:
    """One stage, always rerun."""
    stages = stage_table()
    if args.name not in stages:
        print(f"error: unknown stage {args.name!r}; stages are: {', '.join(stages)}", file=sys.stderr)
        return 2
    return _run_stages(config, [args.name], beam_args, force=True, command=f"stage {args.name}")


def train(config: PipelineConfig, args: argparse.Namespace, beam_args: Sequence[str]) -> int:
    """The train stage (TFX), skipped when up to date unless --force."""
    return _run_stages(config, ["train"], beam_args, args.force, "train")


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
