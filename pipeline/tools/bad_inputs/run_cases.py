"""Run-level bad input: a second writer, a mistaken flag, a missing word list, a stale or
damaged upstream, a hostile or impossible config, each met with the harness's finished
ingest + clean output in place.

In:  the harness's work folder after its `run --stages ingest,clean` (config, corpus, output).
Out: one row per case: what was done, the expected outcome, the one line the real CLI
     printed, and whether every output folder was left byte for byte as it was.

Every case expects exit 2, exactly one `error:` (or `config error:`) line holding the
expected words, and no output touched: a refusal happens before anything is deleted or
written. The cases that damage something (an upstream file, an input) put it back
afterwards, and run last.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import yaml

from pipeline.layout import REPO_ROOT
from pipeline.run.lock import OutputLock
from pipeline.tools.bad_inputs.cases import FOLDERS


@dataclass(frozen=True)
class Setting:
    work: str
    config: str  # the harness's pipeline.yaml
    output_root: str
    corpus_root: str


@dataclass(frozen=True)
class RunCase:
    name: str
    what: str
    expect: str  # words the one error line must hold
    run: Callable[[Setting], subprocess.CompletedProcess]


@dataclass(frozen=True)
class RunResult:
    case: RunCase
    code: int
    message: str  # the CLI's stderr, one line when all is well
    untouched: bool

    @property
    def ok(self) -> bool:
        lines = self.message.strip().splitlines()
        return (
            self.code == 2
            and len(lines) == 1
            and lines[0].startswith(("error: ", "config error: "))
            and self.case.expect in lines[0]
            and self.untouched
        )


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        capture_output=True,
        text=True,
        timeout=600,
    )


def _tree_digest(folder: str) -> dict[str, str]:
    """Every file under `folder` (the lock file aside) -> sha1 of its bytes."""
    out = {}
    for dirpath, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(dirpath, name)
            if name == ".pipeline.lock":
                continue
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder)] = hashlib.sha1(f.read()).hexdigest()
    return out


def _variant(s: Setting, name: str, change: Callable[[dict], None]) -> str:
    """A copy of the harness's config, changed; returns its path."""
    with open(s.config, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    data["output_root"] = os.path.join(os.path.dirname(s.config), data["output_root"])
    change(data)
    path = os.path.join(s.work, f"{name}.yaml")
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, allow_unicode=True, sort_keys=False)
    return path


def _second_writer(s: Setting) -> subprocess.CompletedProcess:
    with OutputLock(s.output_root, "bad-inputs harness"):
        return _cli("stage", "clean", "--config", s.config)


def _typo(s: Setting) -> subprocess.CompletedProcess:
    return _cli("run", "--stages", "clean", "--dry-rn", "--config", s.config)


def _beam_flag(s: Setting) -> subprocess.CompletedProcess:
    return _cli("stage", "clean", "--config", s.config, "--", "--direct_num_workers=abc")


def _missing_list(s: Setting) -> subprocess.CompletedProcess:
    missing = os.path.join(s.work, "없는 불용어 목록.txt")
    return _cli("run", "--to", "nouns", "--config", s.config, "--set", f"nouns.stop_list={missing}")


def _input_under_output(s: Setting) -> subprocess.CompletedProcess:
    def change(data: dict) -> None:
        data["inputs"] = [{"glob": os.path.join(data["output_root"], "ingest", "*.jsonl"), "format": "jsonl"}]

    return _cli("run", "--to", "ingest", "--config", _variant(s, "input under output", change))


def _glob_root(s: Setting) -> subprocess.CompletedProcess:
    def change(data: dict) -> None:
        data["output_root"] = os.path.join(s.work, "runs", "run[1]")

    return _cli("run", "--to", "ingest", "--config", _variant(s, "glob root", change))


def _aliases(s: Setting) -> subprocess.CompletedProcess:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
    path = os.path.join(s.work, "billion laughs.yaml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    return _cli("run", "--config", path)


def _not_a_number(s: Setting) -> subprocess.CompletedProcess:
    return _cli("run", "--to", "clean", "--config", s.config, "--set", "ingest.max_reject_share=.nan")


def _damaged_upstream(s: Setting) -> subprocess.CompletedProcess:
    folder = os.path.join(s.output_root, "clean", "text")
    shard = os.path.join(folder, sorted(os.listdir(folder))[0])
    with open(shard, "rb") as f:
        original = f.read()
    try:
        with open(shard, "wb") as f:
            f.write(original[: len(original) // 2])
        return _cli("stage", "nouns", "--config", s.config)
    finally:
        with open(shard, "wb") as f:
            f.write(original)


def _stale_upstream(s: Setting) -> subprocess.CompletedProcess:
    folder = os.path.join(s.corpus_root, FOLDERS["jsonl"][0])
    name = sorted(n for n in os.listdir(folder) if n.endswith(".jsonl"))[0]
    path = os.path.join(folder, name)
    backup = os.path.join(s.work, "input backup.jsonl")
    shutil.copy2(path, backup)
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write('{"id": "KR-NEW-1", "title": "새로 추가된 공보", "abstract": "새 문서의 요약이다."}\n')
        return _cli("stage", "clean", "--config", s.config)
    finally:
        shutil.copy2(backup, path)
        os.remove(backup)


CASES = (
    RunCase("second_writer", "`stage clean` while another run holds the output root", "in use by another run", _second_writer),
    RunCase("option_typo", "`run --stages clean --dry-rn` (a typo of --dry-run)", "did you mean '--dry-run'", _typo),
    RunCase("bad_beam_flag", "`stage clean -- --direct_num_workers=abc`", "invalid int value: 'abc'", _beam_flag),
    RunCase("missing_stop_list", "`nouns.stop_list` names a file that is not there", "which does not exist", _missing_list),
    RunCase("input_under_output", "an input glob under `<output_root>/ingest/`", "lies inside output_root", _input_under_output),
    RunCase("glob_output_root", "`output_root: runs/run[1]` beside a real `runs/run1/`", "glob character", _glob_root),
    RunCase("yaml_aliases", "a config of nested YAML aliases (a billion laughs)", "YAML aliases", _aliases),
    RunCase("not_a_number", "`--set ingest.max_reject_share=.nan`", "max_reject_share", _not_a_number),
    # These two damage something and put it back: they run last.
    RunCase("damaged_upstream", "a clean text shard cut in half, then `stage nouns`", "reads clean, which is stale", _damaged_upstream),
    RunCase("stale_upstream", "an input publication added after ingest, then `stage clean`", "reads ingest, which is stale", _stale_upstream),
)  # fmt: skip


def run_all(s: Setting) -> list[RunResult]:
    """Every case in order; the whole work folder's outputs are compared around each."""
    look_alike = os.path.join(s.work, "runs", "run1")  # what `runs/run[1]` must never touch
    os.makedirs(look_alike, exist_ok=True)
    with open(os.path.join(look_alike, "keep.txt"), "w", encoding="utf-8") as f:
        f.write("a look-alike of runs/run[1]\n")
    roots = [s.output_root, os.path.join(s.work, "runs")]
    results = []
    for case in CASES:
        before = {root: _tree_digest(root) for root in roots}
        done = case.run(s)
        after = {root: _tree_digest(root) for root in roots}
        results.append(RunResult(case, done.returncode, done.stderr, before == after))
    return results


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(results: list[RunResult]) -> str:
    lines = [
        "| run-level case | what was done | expected (exit 2, one line holding) | what the CLI printed | outputs untouched | ok |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        said = " / ".join(r.message.strip().splitlines()[-3:]) or "(nothing)"
        lines.append(
            f"| {r.case.name} | {_cell(r.case.what)} | {_cell(r.case.expect)} | exit {r.code}: {_cell(said)} | "
            f"{'yes' if r.untouched else 'no'} | {'✓' if r.ok else '✗'} |"
        )
    return "\n".join(lines)
