"""Helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import shutil

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_demo_config(folder) -> str:
    """folder/pipeline.yaml: the repo's config with output_root folder/out and every
    repo path made absolute; returns its path."""
    import yaml

    with open(os.path.join(REPO, "pipeline.yaml"), encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data["output_root"] = str(folder / "out")
    for spec in data["inputs"]:
        spec["glob"] = os.path.join(REPO, spec["glob"])
    return write_config(folder, _absolute_repo_paths(data))


def _absolute_repo_paths(value):
    """Relative paths in the config that name repo files (word lists...) -> absolute."""
    if isinstance(value, dict):
        return {k: _absolute_repo_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_absolute_repo_paths(v) for v in value]
    if isinstance(value, str) and value and not os.path.isabs(value) and "://" not in value:
        candidate = os.path.join(REPO, value)
        if os.path.isfile(candidate):
            return candidate
    return value


def run_cli(config, *args, timeout=900):
    """`python -m pipeline ARGS --config CONFIG` as a user runs it; returns the CompletedProcess."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        # --config first: ARGS may end with `-- BEAM FLAGS`.
        [sys.executable, "-m", "pipeline", "--config", config, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_config(tmp_path, data) -> str:
    import yaml

    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return str(path)


def read_tree(root) -> dict[str, bytes]:
    """Every file under root: relative path -> bytes (for byte-identity checks)."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, root)] = f.read()
    return out


def copy_tree(src: str, dst: str) -> None:
    shutil.copytree(src, dst)


def demo_golden() -> dict:
    """The demo corpus's exact counters per stage (tests/data/expected/demo_counters.json)."""
    import json

    with open(os.path.join(REPO, "tests", "data", "expected", "demo_counters.json"), encoding="utf-8") as f:
        return json.load(f)
