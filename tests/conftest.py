import os
import shutil
import warnings

import pytest

warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\..*")

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


@pytest.fixture
def demo_copy(tmp_path):
    """A copy of pipeline.yaml whose output_root is a temp folder; returns its path."""
    return write_demo_config(tmp_path)


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
        [sys.executable, "-m", "pipeline", *args, "--config", config],
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


@pytest.fixture
def tiny_inputs(tmp_path):
    """A folder with one JSONL publication; returns a config dict using it."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "a.jsonl").write_text(
        '{"id": "KR1", "title": "합성세제 조성물", "abstract": "본 발명은 합성세제액에 관한 것이다."}\n',
        encoding="utf-8",
    )
    return {
        "output_root": str(tmp_path / "out"),
        "inputs": [{"glob": str(folder / "*.jsonl"), "format": "jsonl"}],
    }


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


@pytest.fixture(scope="session")
def demo_tfrecords(tmp_path_factory):
    """The demo corpus run through the CLI up to the tfrecords stage, once per test
    session; returns the output root (`<root>/tfrecords/bert-128/Split-train/...`,
    `<root>/vocab/bert/vocab.txt`, ...). Read it, never write into it."""
    tmp = tmp_path_factory.mktemp("demo_tfrecords")
    done = run_cli(write_demo_config(tmp), "run", "--to", "tfrecords", timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return str(tmp / "out")
