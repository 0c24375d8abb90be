"""`pip install .` gives a working `korpat` command away from the checkout.

The wheel is built from a copy of the files the container's build context
holds (.dockerignore), installed with `--no-deps` into a new virtualenv that
sees the project's dependencies (this .venv's site-packages, through a .pth
line) but not the checkout, and run from a folder outside the repository with a
config there: the bundled stop list, units list and schemas must come from the
installed package.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile

import pytest
import yaml

from tests.helpers import REPO

# What the wheel is built from (the container's build context, plus the build hook).
SOURCES = (
    "pyproject.toml",
    "setup.py",
    "MANIFEST.in",
    "README.md",
    "pipeline",
    "components",
    "dictionaries",
    "tfrecords_schema",
)


def _build_wheel(tmp_path) -> str:
    source = tmp_path / "src"
    source.mkdir()
    for name in SOURCES:
        path = os.path.join(REPO, name)
        if os.path.isdir(path):
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(path, source / name)
    wheels = tmp_path / "whl"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation"]
        + ["--disable-pip-version-check", "-q", "-w", str(wheels)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = wheels.iterdir()
    return str(wheel)


def test_the_wheel_carries_the_data_folders_and_the_command(tmp_path):
    with zipfile.ZipFile(_build_wheel(tmp_path)) as wheel:
        names = set(wheel.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        assert "korpat = pipeline.cli:main" in wheel.read(entry_points).decode()
    for folder in ("dictionaries", "tfrecords_schema"):
        for dirpath, _, filenames in os.walk(os.path.join(REPO, folder)):
            for filename in filenames:
                rel = os.path.relpath(os.path.join(dirpath, filename), REPO)
                assert f"pipeline/_data/{rel}" in names
    assert not any(n.startswith(("dictionaries/", "tfrecords_schema/", "tests/")) for n in names)


def _install(tmp_path) -> str:
    """A virtualenv with the wheel installed and the dependencies of this .venv; its bin/."""
    wheel = _build_wheel(tmp_path)
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = str(env_dir / "bin" / "python")
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The dependencies only: a plain path line, so that this .venv's .pth files
    # (the editable install that maps `pipeline` to the checkout) are not run.
    with open(os.path.join(site, "deps.pth"), "w", encoding="utf-8") as f:
        f.write(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "-q"]
        + ["--disable-pip-version-check", wheel],
        check=True,
        capture_output=True,
        text=True,
    )
    return str(env_dir / "bin")


@pytest.mark.slow
def test_korpat_runs_a_config_outside_the_checkout(tmp_path):
    bin_dir = _install(tmp_path)
    work = tmp_path / "elsewhere"
    (work / "corpus").mkdir(parents=True)
    (work / "corpus" / "a.jsonl").write_text(
        '{"id": "KR1", "title": "합성세제 조성물", "abstract": "본 발명은 합성세제액에 관한 것이다. '
        '세정력이 우수한 합성세제 조성물을 제공한다."}\n',
        encoding="utf-8",
    )
    config = {
        "output_root": "out",
        "inputs": [{"glob": "corpus/*.jsonl", "format": "jsonl"}],
        "runner": {"direct_running_mode": "in_memory", "direct_num_workers": 1},
    }
    (work / "my.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONWARNINGS")}

    def korpat(*args):
        return subprocess.run(
            [os.path.join(bin_dir, "korpat"), *args],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    where = subprocess.run(
        [os.path.join(bin_dir, "python"), "-c", "import pipeline, sys; print(pipeline.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(tmp_path / "venv")), where

    explain = korpat("config", "--explain")
    assert explain.returncode == 0, explain.stderr
    assert "nouns.stop_list" in explain.stdout

    # The bundled defaults resolve from the package, the user's paths from my.yaml.
    checked = korpat("run", "--to", "nouns", "--dry-run", "--config", "my.yaml")
    assert checked.returncode == 0, checked.stderr

    done = korpat("run", "--to", "nouns", "--config", "my.yaml")
    assert done.returncode == 0, done.stderr[-3000:]
    for stage in ("ingest", "clean", "nouns"):
        manifest = json.loads((work / "out" / stage / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["counters"]
    assert (work / "out" / "clean" / "text").is_dir()
    # nouns read the stop list the package carries.
    nouns = (work / "out" / "nouns" / "manifest.json").read_text(encoding="utf-8")
    assert os.path.join("pipeline", "_data", "dictionaries", "stopwords.txt") in nouns
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------ bundled defaults


def test_bundled_names_resolve_to_the_shipped_files():
    from pipeline import package_data

    assert package_data.find("dictionaries/stopwords.txt") == os.path.join(
        package_data.data_root(), "dictionaries", "stopwords.txt"
    )
    assert os.path.isfile(package_data.find("tfrecords_schema/bert-128/schema.pbtxt"))
    assert package_data.find("dictionaries/no-such-list.txt") is None
    assert package_data.find("corpus/a.jsonl") is None
    assert package_data.find("/abs/dictionaries/stopwords.txt") is None


def test_a_config_elsewhere_gets_the_bundled_defaults_and_its_own_files(tmp_path, tiny_inputs):
    from pipeline import package_data
    from pipeline.config import load_config, resolve_path
    from tests.helpers import write_config

    config = load_config(write_config(tmp_path, tiny_inputs))
    bundled = resolve_path(config, config.nouns.stop_list)
    assert bundled == package_data.find("dictionaries/stopwords.txt")
    # A file of that name next to the user's YAML is the user's, and wins.
    (tmp_path / "dictionaries").mkdir()
    (tmp_path / "dictionaries" / "stopwords.txt").write_text("것\n", encoding="utf-8")
    assert resolve_path(config, config.nouns.stop_list) == str(tmp_path / "dictionaries" / "stopwords.txt")
    # Other relative paths stay relative to the YAML, found or not.
    assert resolve_path(config, "corpus/x.jsonl") == str(tmp_path / "corpus" / "x.jsonl")
