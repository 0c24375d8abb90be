"""pipeline.yaml loading: strict validation with one clear message per problem."""

import os

import pytest

from pipeline.cli import main
from pipeline.config import CleanConfig, ConfigError, load_config
from tests.helpers import REPO, write_config


def test_repo_config_loads():
    config = load_config(os.path.join(REPO, "pipeline.yaml"))
    assert config.clean.unicode_form == "NFC"
    assert {s.format for s in config.inputs} == {"kipo_xml", "jsonl", "parquet", "text"}
    assert config.runner.direct_running_mode == "multi_processing"


@pytest.mark.parametrize(
    "patch, message",
    [
        (
            {"clean": {"min_sentnce_chars": 5}},
            "clean.min_sentnce_chars: unknown key (did you mean 'min_sentence_chars'?)",
        ),
        (
            {"clean": {"min_sentence_chars": "five"}},
            "clean.min_sentence_chars: expected an integer, got 'five'",
        ),
        (
            {"clean": {"unicode_form": "NFKD"}},
            "clean.unicode_form: expected one of 'NFC', 'NFKC', got 'NFKD'",
        ),
        ({"clean": {"min_hangul_ratio": 1.5}}, "clean.min_hangul_ratio: must be <= 1.0, got 1.5"),
        ({"clean": {"dedup_documents": "yes"}}, "clean.dedup_documents: expected true or false, got 'yes'"),
        ({"ingest": {"num_shards": 0}}, "ingest.num_shards: must be >= 1, got 0"),
        ({"colour": "blue"}, "colour: unknown key"),
        ({"ingest": ["x"]}, "ingest: expected a mapping, got list"),
    ],
)
def test_bad_values_name_the_key(tmp_path, tiny_inputs, patch, message):
    path = write_config(tmp_path, {**tiny_inputs, **patch})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert str(err.value) == message


def test_missing_input_names_the_glob(tmp_path, tiny_inputs):
    tiny_inputs["inputs"].append({"glob": str(tmp_path / "nowhere" / "*.xml"), "format": "kipo_xml"})
    with pytest.raises(ConfigError, match=r"inputs\[1\].glob: no files match .*nowhere"):
        load_config(write_config(tmp_path, tiny_inputs))


def test_output_root_inside_input_is_refused(tmp_path, tiny_inputs):
    tiny_inputs["output_root"] = str(tmp_path / "in" / "out")
    load_config(write_config(tmp_path, tiny_inputs))  # in/*.jsonl cannot reach in/out/<stage>/
    tiny_inputs["inputs"][0]["glob"] = str(tmp_path / "in" / "**" / "*.jsonl")
    with pytest.raises(ConfigError, match="output_root: .* lies inside inputs\\[0\\].glob"):
        load_config(write_config(tmp_path, tiny_inputs))


def test_overrides_apply_and_are_validated(tmp_path, tiny_inputs):
    path = write_config(tmp_path, tiny_inputs)
    config = load_config(path, ("clean.min_sentence_chars=3", "clean.dedup_documents=false"))
    assert config.clean.min_sentence_chars == 3
    assert config.clean.dedup_documents is False
    with pytest.raises(ConfigError, match="ingest.num_shards: expected an integer"):
        load_config(path, ("ingest.num_shards=many",))


def test_defaults_match_dataclass(tmp_path, tiny_inputs):
    config = load_config(write_config(tmp_path, tiny_inputs))
    assert config.clean == CleanConfig()


def test_cli_config_error_exits_2_and_writes_nothing(tmp_path, tiny_inputs, capsys):
    tiny_inputs["clean"] = {"blank_line_between": "sentences"}
    path = write_config(tmp_path, tiny_inputs)
    assert main(["run", "--config", path]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        "config error: clean.blank_line_between: expected one of 'paragraphs', 'documents', got 'sentences'"
    )
    assert not os.path.exists(tiny_inputs["output_root"])


def test_cli_config_prints_resolved_yaml(tmp_path, tiny_inputs, capsys):
    path = write_config(tmp_path, tiny_inputs)
    assert main(["config", "--config", path, "--set", "ingest.num_shards=3"]) == 0
    out = capsys.readouterr().out
    assert "num_shards: 3" in out and "unicode_form: NFC" in out


def test_yaml_aliases_are_refused_before_they_expand(tmp_path):
    # A "billion laughs" of nested aliases: 1 KB that would expand to gigabytes.
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bomb.yaml: line 2: YAML aliases \(\*a0\) are not allowed"):
        load_config(str(path))
    with pytest.raises(ConfigError, match="YAML aliases"):
        load_config(os.path.join(REPO, "pipeline.yaml"), ("clean.min_sentence_chars=*x",))


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
def test_non_finite_numbers_are_refused(value):
    with pytest.raises(ConfigError, match="clean.min_hangul_ratio: expected a finite number"):
        load_config(
            os.path.join(REPO, "pipeline.yaml"), (f"clean.min_hangul_ratio={value}",), check_inputs=False
        )


def test_config_path_problems_are_one_line(tmp_path):
    with pytest.raises(ConfigError, match="not a regular file"):
        load_config(str(tmp_path))
    (tmp_path / "latin1.yaml").write_bytes("output_root: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="latin1.yaml: not UTF-8 text"):
        load_config(str(tmp_path / "latin1.yaml"))
    (tmp_path / "big.yaml").write_text("# " + "x" * (1 << 20) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="a pipeline config is at most"):
        load_config(str(tmp_path / "big.yaml"))


@pytest.mark.parametrize(
    "glob, refused",
    [
        ("out/ingest/*.jsonl", True),
        ("out/*.jsonl", True),
        ("out/raw/**/*.jsonl", True),
        ("in/*.jsonl", False),
        ("outside/*.jsonl", False),  # a sibling whose name starts like the root
    ],
)
def test_input_glob_inside_output_root_is_refused(tmp_path, tiny_inputs, glob, refused):
    for folder in ("out/ingest", "out/raw/x", "outside"):
        (tmp_path / folder).mkdir(parents=True, exist_ok=True)
        (tmp_path / folder / "a.jsonl").write_text((tmp_path / "in" / "a.jsonl").read_text())
    tiny_inputs["inputs"][0]["glob"] = str(tmp_path / glob)
    path = write_config(tmp_path, tiny_inputs)
    if not refused:
        load_config(path)
        return
    with pytest.raises(
        ConfigError, match=r"inputs\[0\].glob: .* lies inside output_root .*/out, whose folders"
    ):
        load_config(path)


@pytest.mark.parametrize(
    "root, message",
    [
        ("runs/run[1]", r"holds the glob character\(s\) \["),
        ("runs/*", r"holds the glob character\(s\) \*"),
        ("/proc/self/out", "is under /proc"),
        ("/sys/out", "is under /sys"),
        ("a_file", "is a file, not a folder"),
        ("a_file/out", "lies under the file"),
    ],
)
def test_output_root_that_cannot_be_a_folder_of_outputs_is_refused(tmp_path, tiny_inputs, root, message):
    (tmp_path / "a_file").write_text("x")
    tiny_inputs["output_root"] = root
    with pytest.raises(ConfigError, match=f"output_root: .*{message}"):
        load_config(write_config(tmp_path, tiny_inputs))
    # Object stores are not checked on the local disk.
    tiny_inputs["output_root"] = "gs://bucket/out"
    load_config(write_config(tmp_path, tiny_inputs), check_inputs=False)
