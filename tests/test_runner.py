"""Stage selection and fingerprints: what reruns when something changes."""

import dataclasses

import pytest

from pipeline.config import load_config
from pipeline.run.runner import Stage, expected_fingerprints, select_stages
from tests.helpers import write_config


def _noop(p, ctx):
    pass


STAGES = {
    "ingest": Stage("ingest", (), {"readers": "v1"}, _noop),
    "clean": Stage("clean", ("ingest",), {"splitter": "v1"}, _noop),
}
NAMES = ["ingest", "clean", "nouns", "dictionary", "morph"]


def test_select_stages():
    assert select_stages(NAMES) == NAMES
    assert select_stages(NAMES, start="clean", end="dictionary") == ["clean", "nouns", "dictionary"]
    assert select_stages(NAMES, only=["morph", "ingest"]) == ["ingest", "morph"]
    with pytest.raises(ValueError, match="unknown stage 'vocab'"):
        select_stages(NAMES, start="vocab")


def test_changed_setting_makes_stage_and_downstream_stale_not_upstream(tmp_path, tiny_inputs):
    config = load_config(write_config(tmp_path, tiny_inputs))
    before = expected_fingerprints(config, STAGES)
    changed = dataclasses.replace(config, clean=dataclasses.replace(config.clean, min_sentence_chars=3))
    after = expected_fingerprints(changed, STAGES)
    assert after["ingest"] == before["ingest"]
    assert after["clean"]["fingerprint"] != before["clean"]["fingerprint"]
    changed_ingest = dataclasses.replace(config, ingest=dataclasses.replace(config.ingest, num_shards=3))
    after = expected_fingerprints(changed_ingest, STAGES)
    assert after["ingest"]["fingerprint"] != before["ingest"]["fingerprint"]
    assert after["clean"]["fingerprint"] != before["clean"]["fingerprint"]
    assert after["clean"]["config_fingerprint"] == before["clean"]["config_fingerprint"]


def test_rule_version_and_inputs_change_fingerprints(tmp_path, tiny_inputs):
    config = load_config(write_config(tmp_path, tiny_inputs))
    before = expected_fingerprints(config, STAGES)
    bumped = {**STAGES, "clean": dataclasses.replace(STAGES["clean"], versions={"splitter": "v2"})}
    assert expected_fingerprints(config, bumped)["clean"] != before["clean"]
    (tmp_path / "in" / "b.jsonl").write_text('{"id": "KR2", "title": "새 문서"}\n', encoding="utf-8")
    after = expected_fingerprints(config, STAGES)
    assert after["ingest"]["fingerprint"] != before["ingest"]["fingerprint"]
