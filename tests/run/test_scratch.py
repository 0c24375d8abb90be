"""Temporary files live in one scratch folder per stage run, removed on success and failure."""

import ast
import os

import pytest

from pipeline.config import load_config
from pipeline.io import filesystems
from pipeline.run.runner import scratch_space
from tests.helpers import REPO, write_config


def test_scratch_space_holds_every_scratch_folder_and_is_removed(tmp_path, tiny_inputs):
    scratch = tmp_path / "scratch"
    config = load_config(write_config(tmp_path, {**tiny_inputs, "runner": {"scratch_dir": str(scratch)}}))
    with scratch_space(config, "morph") as folder:
        assert os.path.dirname(folder) == str(scratch)
        assert os.environ[filesystems.SCRATCH_ENV] == folder
        made = filesystems.scratch_folder("userdic_")
        assert os.path.dirname(made) == folder
        open(os.path.join(made, "user.dic"), "wb").close()
    assert os.listdir(scratch) == []
    assert filesystems.SCRATCH_ENV not in os.environ


def test_scratch_space_is_removed_when_the_stage_fails(tmp_path, tiny_inputs):
    scratch = tmp_path / "scratch"
    config = load_config(write_config(tmp_path, {**tiny_inputs, "runner": {"scratch_dir": str(scratch)}}))
    with pytest.raises(RuntimeError), scratch_space(config, "dictionary"):
        filesystems.scratch_folder("dictionary_")
        raise RuntimeError("compile failed")
    assert os.listdir(scratch) == []


def test_no_stage_or_library_makes_temporary_folders_outside_the_scratch_folder():
    """Every mkdtemp / TemporaryDirectory in the stages and libraries names a folder
    (`dir=`), or goes through filesystems.scratch_folder."""
    offenders = []
    for package in ("stages", "text", "pretraining", "io"):
        folder = os.path.join(REPO, "pipeline", package)
        for dirpath, _, names in os.walk(folder):
            for name in names:
                if not name.endswith(".py"):
                    continue
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    tree = ast.parse(f.read())
                for node in ast.walk(tree):
                    if (
                        isinstance(node, ast.Call)
                        and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("mkdtemp", "TemporaryDirectory", "mkstemp")
                        and not any(k.arg == "dir" for k in node.keywords)
                    ):
                        offenders.append(f"{os.path.relpath(path, REPO)}:{node.lineno}")
    assert offenders == []
