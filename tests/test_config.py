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
