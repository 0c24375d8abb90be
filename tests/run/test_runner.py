"""Stage selection and fingerprints: what reruns when something changes."""

import dataclasses

import pytest

from pipeline.config import load_config
from pipeline.run.registry import stage_table
from pipeline.run.runner import expected_fingerprints, select_stages
from pipeline.run.stage import Stage
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


# Settings that say where or how fast a stage runs, never what it writes.
MACHINE_OVERRIDES = (
    "runner.direct_num_workers=1",
    "runner.direct_running_mode=in_memory",
    "runner.machine_type=n2-highmem-16",
    "runner.max_num_workers=64",
    "runner.disk_size_gb=200",
    "nouns.scoring_min_ram=64GB",
    "nouns.scoring_partitions=9",
    "vocab.training_min_ram=64GB",
    "vocab.wordpiece_processes=7",
    "runner.jobs=fused",
    "morph.batch_sentences=17",
    "train.cpu_replicas=1",
    "train.vertex_machine_type=a3-highgpu-8g",
    "train.vertex_accelerator_type=NVIDIA_H100_80GB",
    "train.vertex_accelerator_count=2",
    "train.vertex_replica_count=2",
    "train.vertex_image=example.org/korpat:2",
)


def test_machine_settings_leave_every_stage_fingerprint_unchanged(tmp_path, tiny_inputs):
    path = write_config(tmp_path, tiny_inputs)
    stages = stage_table()
    before = expected_fingerprints(load_config(path), stages)
    after = expected_fingerprints(load_config(path, MACHINE_OVERRIDES), stages)
    assert list(after) == ["ingest", "clean", "nouns", "dictionary", "morph", "vocab", "tfrecords", "train"]
    assert after == before
    # ... while a setting that changes an output still makes its stage stale.
    changed = expected_fingerprints(load_config(path, ("morph.use_user_dictionary=false",)), stages)
    assert changed["dictionary"] == before["dictionary"]
    assert changed["morph"]["fingerprint"] != before["morph"]["fingerprint"]


def test_machine_settings_are_marked_in_explain():
    from pipeline.config import explain

    marked = sorted(line.split(" ")[0] for line in explain() if "[machine setting" in line)
    assert marked == [
        "morph.batch_sentences",
        "nouns.scoring_min_ram",
        "nouns.scoring_partitions",
        "train.cpu_replicas",
        "train.vertex_accelerator_count",
        "train.vertex_accelerator_type",
        "train.vertex_image",
        "train.vertex_machine_type",
        "train.vertex_replica_count",
        "vocab.training_min_ram",
        "vocab.wordpiece_processes",
    ]


def test_file_stats_read_a_bracketed_path_literally(tmp_path):
    from pipeline.run.runner import file_stats

    for name, text in (("lists1", "one"), ("lists[1]", "three")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "stop.txt").write_text(text)
    [stats] = file_stats([str(tmp_path / "lists[1]" / "stop.txt")])
    assert stats["path"] == str(tmp_path / "lists[1]" / "stop.txt") and stats["size"] == 5
    assert file_stats([str(tmp_path / "lists[2]" / "stop.txt")])[0]["missing"] is True
