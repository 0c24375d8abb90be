"""`python -m pipeline run` on the bundled demo corpus, as a user runs it."""

import json
import os

import pytest

from tests.helpers import REPO, run_cli

pytestmark = pytest.mark.slow


def _cli(config, *args):
    return run_cli(config, *args)


def _manifest(root, stage):
    with open(os.path.join(root, stage, "manifest.json"), encoding="utf-8") as f:
        return json.load(f)


def _rejects(root, stage):
    folder = os.path.join(root, stage, "rejects")
    records = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            records.extend(json.loads(line) for line in f)
    return records


def _snapshot(root):
    files = {}
    for stage in ("ingest", "clean"):
        for dirpath, _, names in os.walk(os.path.join(root, stage)):
            for name in names:
                if name != "manifest.json":
                    path = os.path.join(dirpath, name)
                    with open(path, "rb") as f:
                        files[os.path.relpath(path, root)] = f.read()
    return files


GOLDEN = os.path.join(REPO, "tests", "data", "expected", "demo_counters.json")


def _golden() -> dict:
    """The demo corpus's exact counters per stage (the run is deterministic). After a
    deliberate change of a rule, regenerate with the command in the file's test below."""
    with open(GOLDEN, encoding="utf-8") as f:
        return json.load(f)


def _counters(manifest) -> dict:
    return {k: v for k, v in manifest["counters"].items() if not k.startswith("progress_")}


def test_demo_run_layout_accounting_and_reruns(demo_copy, tmp_path):
    root = str(tmp_path / "out")
    # Later stages have their own end-to-end tests (tests/stages/test_dictionary.py, ...).
    result = _cli(demo_copy, "run", "--to", "clean")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "[clean] finished" in result.stderr and "documents_written" in result.stderr

    ingest, clean = _manifest(root, "ingest"), _manifest(root, "clean")
    ic, cc = ingest["counters"], clean["counters"]
    # Every input unit is a publication or a reject; every document is written or rejected.
    assert ic["input_units"] == ic["publications_written"] + ic["rejected"]
    assert _counters(ingest) == _golden()["ingest"]
    assert _counters(clean) == _golden()["clean"]
    assert cc["documents_in"] == ic["publications_written"]
    assert cc["documents_in"] == cc["documents_written"] + cc.get("rejected_documents", 0)
    assert len([r for r in _rejects(root, "ingest")]) == ic["rejected"]
    doc_rejects = [r for r in _rejects(root, "clean") if r["kind"] == "document"]
    assert len(doc_rejects) == cc.get("rejected_documents", 0)
    # The demo corpus carries a re-publication and a divisional: dedup must catch both.
    # The re-publication is an exact copy; the divisional a near duplicate (clean.near_duplicates).
    assert cc["rejected_documents_duplicate_document"] == 1
    assert cc["rejected_documents_near_duplicate_document"] == 1
    assert set(ic) >= {"files_kipo_xml", "files_jsonl", "files_parquet", "files_text"}
    assert clean["versions"]["splitter"] == "patent_ko_v1"

    # Google BERT layout: one sentence per line, one blank line after each paragraph.
    text_dir = os.path.join(root, "clean", "text")
    shards = sorted(os.listdir(text_dir))
    assert len(shards) == 8
    sentences = 0
    for name in shards:
        with open(os.path.join(text_dir, name), encoding="utf-8") as f:
            content = f.read()
        if not content:
            continue
        assert content.endswith("\n\n") and "\n\n\n" not in content and not content.startswith("\n")
        for line in content.split("\n"):
            assert line == line.strip()
            if line:
                sentences += 1
                assert len(line) >= 8
    assert sentences == cc["sentences_written"]

    # Bibliographic data never reaches the text (applicant names of the sources).
    all_text = ""
    for name in shards:
        with open(os.path.join(text_dir, name), encoding="utf-8") as f:
            all_text += f.read()
    for source in sorted(os.listdir(os.path.join(REPO, "data", "demo", "source"))):
        with open(os.path.join(REPO, "data", "demo", "source", source), encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                assert record["applicant"] not in all_text
                assert record["application_number"] not in all_text

    # A second run skips both stages and leaves the files as they were.
    before = _snapshot(root)
    again = _cli(demo_copy, "run", "--to", "clean")
    assert again.returncode == 0
    assert again.stderr.count("up to date, skipped") == 2
    assert _snapshot(root) == before

    status = _cli(demo_copy, "status")
    assert [line.split()[:2] for line in status.stdout.splitlines()][:2] == [
        ["ingest", "done"],
        ["clean", "done"],
    ]
    changed = _cli(demo_copy, "status", "--set", "clean.min_sentence_chars=5")
    assert [line.split()[:2] for line in changed.stdout.splitlines()][:2] == [
        ["ingest", "done"],
        ["clean", "stale"],
    ]

    # A forced rerun with one worker in another mode gives byte-identical outputs.
    forced = _cli(
        demo_copy,
        "run",
        "--to",
        "clean",
        "--force",
        "--",
        "--direct_running_mode=in_memory",
        "--direct_num_workers=1",
    )
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert _snapshot(root) == before


def test_interrupted_stage_is_incomplete_not_done(demo_copy, tmp_path):
    root = tmp_path / "out"
    result = _cli(demo_copy, "run", "--stages", "ingest")
    assert result.returncode == 0, result.stderr[-3000:]
    os.remove(root / "ingest" / "manifest.json")  # what a kill before the last write leaves
    status = _cli(demo_copy, "status")
    assert status.stdout.split("\n")[0].split()[:2] == ["ingest", "incomplete"]
    refused = _cli(demo_copy, "stage", "clean")
    assert refused.returncode == 2 and "needs ingest" in refused.stderr


def test_demo_counters_of_every_data_stage_match_the_golden_file(demo_tfrecords):
    """ingest -> tfrecords on the demo corpus gives exactly the committed counters.

    To regenerate after a deliberate rule change (and say why in the commit):
        python -m pipeline run --to tfrecords --set output_root=/tmp/demo
        (then the script in tests/data/expected/README.md)
    """
    golden = _golden()
    for stage in ("ingest", "clean", "nouns", "dictionary", "morph", "vocab", "tfrecords"):
        assert _counters(_manifest(demo_tfrecords, stage)) == golden[stage], stage
    report = dict(_manifest(demo_tfrecords, "tfrecords")["report"])
    report.pop("nsp")  # shares, checked in tests/stages/test_tfrecords.py
    assert report == golden["tfrecords_examples"]


def test_machine_settings_leave_every_stage_done(demo_tfrecords):
    """A bigger machine, other workers, another RAM hint or Vertex setting: nothing is stale."""
    config = os.path.join(os.path.dirname(demo_tfrecords), "pipeline.yaml")
    overrides = []
    for setting in (
        "runner.direct_num_workers=1",
        "runner.direct_running_mode=in_memory",
        "nouns.scoring_min_ram=64GB",
        "nouns.scoring_partitions=5",
        "morph.batch_sentences=17",
        "train.cpu_replicas=1",
        "train.vertex_machine_type=a3-highgpu-8g",
        "train.vertex_accelerator_count=2",
    ):
        overrides += ["--set", setting]
    status = _cli(config, "status", *overrides)
    states = dict(line.split()[:2] for line in status.stdout.splitlines())
    data_stages = ("ingest", "clean", "nouns", "dictionary", "morph", "vocab", "tfrecords")
    assert {stage: states[stage] for stage in data_stages} == dict.fromkeys(data_stages, "done")
    # A setting that changes an output does make its stage and the ones after it stale.
    changed = _cli(config, "status", "--set", "morph.use_user_dictionary=false")
    states = dict(line.split()[:2] for line in changed.stdout.splitlines())
    assert [states[s] for s in data_stages] == ["done"] * 4 + ["stale"] * 3
