import warnings

import pytest

from tests.helpers import REPO, run_cli, write_config, write_demo_config  # noqa: F401

warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\..*")


@pytest.fixture
def demo_copy(tmp_path):
    """A copy of pipeline.yaml whose output_root is a temp folder; returns its path."""
    return write_demo_config(tmp_path)


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


@pytest.fixture(scope="session")
def demo_tfrecords(tmp_path_factory):
    """The demo corpus run through the CLI up to the tfrecords stage, once per test
    session; returns the output root (`<root>/tfrecords/bert-128/Split-train/...`,
    `<root>/vocab/bert/vocab.txt`, ...). Read it, never write into it."""
    tmp = tmp_path_factory.mktemp("demo_tfrecords")
    done = run_cli(write_demo_config(tmp), "run", "--to", "tfrecords", timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    return str(tmp / "out")
