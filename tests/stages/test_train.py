"""The train stage (TFX pipeline), compile-vertex, the anomalies gate and finetune."""

import json
import os

import pytest

from pipeline.config import load_config
from pipeline.run.runner import StageContext
from pipeline.stages import train
from tests.helpers import REPO, run_cli, write_config

REPO_CONFIG = os.path.join(REPO, "pipeline.yaml")


def _fake_upstream(tmp_path, vocab_lines=100):
    """A root with the two manifests and vocabs plan() reads."""
    root = tmp_path / "out"
    (root / "tfrecords").mkdir(parents=True, exist_ok=True)
    (root / "tfrecords" / "manifest.json").write_text(json.dumps({"fingerprint": "records-1"}))
    for flavour in ("bert", "electra"):
        (root / "vocab" / flavour).mkdir(parents=True, exist_ok=True)
        tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"t{i}" for i in range(vocab_lines - 5)]
        (root / "vocab" / flavour / "vocab.txt").write_text("\n".join(tokens) + "\n")
    return root


def _plan(tmp_path, *overrides):
    root = _fake_upstream(tmp_path)
    config = load_config(REPO_CONFIG, (f"output_root={root}", *overrides), check_inputs=False)
    ctx = StageContext(
        config,
        str(root / "train"),
        {"vocab": str(root / "vocab"), "tfrecords": str(root / "tfrecords")},
    )
    return train.plan(config, ctx)


def test_plan_has_one_entry_per_phase_with_settings_from_the_config(tmp_path):
    plan = _plan(
        tmp_path,
        "tfrecords.outputs=[bert-128, bert-512, electra-128]",
        "train.phases=[{output: bert-128, steps: 90}, {output: bert-512, steps: 10}, {output: electra-128, steps: 50}]",
    )
    assert [p["name"] for p in plan["phases"]] == ["bert-128", "bert-512", "electra-128"]
    bert, bert512, electra = plan["phases"]
    assert (bert["settings"]["seq_length"], bert["settings"]["max_predictions"]) == (128, 20)
    assert (bert512["settings"]["seq_length"], bert512["settings"]["max_predictions"]) == (512, 76)
    # ELECTRA masks at train time: google-research/electra's int((0.15 + 0.005) * 128).
    assert electra["settings"]["max_predictions"] == 19 and electra["model_type"] == "electra"
    assert bert["settings"]["vocab_size"] == 100 and bert["settings"]["train_steps"] == 90
    assert bert["schema_file"].endswith("tfrecords_schema/bert-128/schema.pbtxt")
    assert os.path.isfile(bert["schema_file"])
    assert bert["examples_fingerprint"] == "records-1"
    assert bert["examples_uri"].endswith("tfrecords/bert-128")
    assert plan["metadata_path"].endswith("train/tfx/metadata.sqlite")
    assert len({p["checkpoint_dir"] for p in plan["phases"]}) == 3


def test_checkpoint_folder_survives_more_steps_but_not_a_new_model(tmp_path):
    def folder(*overrides):
        return _plan(tmp_path, *overrides)["phases"][0]["checkpoint_dir"]

    base = folder()
    # More steps, other eval or checkpoint settings: the same run continues.
    assert folder("train.phases=[{output: bert-128, steps: 500}]") == base
    assert folder("train.eval_steps=3", "train.checkpoint_every=5") == base
    # A different model or schedule cannot resume those checkpoints.
    assert folder("train.model_size=small") != base
    assert folder("train.learning_rate=0.001") != base
    assert _plan(tmp_path)["phases"][0]["settings"]["learning_rate"] is None  # the size's default


def test_a_phase_must_name_a_tfrecords_output(tmp_path, tiny_inputs):
    config = write_config(
        tmp_path, {**tiny_inputs, "train": {"phases": [{"output": "bert-512", "steps": 5}]}}
    )
    result = run_cli(config, "config")
    assert result.returncode == 2
    assert "train.phases[0].output: 'bert-512' is not among tfrecords.outputs" in result.stderr


def test_compile_vertex_writes_a_gpu_pipeline_spec_offline(tmp_path):
    out = tmp_path / "vertex.json"
    result = run_cli(
        REPO_CONFIG,
        "compile-vertex",
        "--profile",
        "dataflow",
        "--set",
        "train.vertex_accelerator_count=4",
        "--out",
        str(out),
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    spec = json.loads(out.read_text())
    assert spec["runtimeConfig"]["gcsOutputDirectory"] == "gs://your-bucket/korpat/output/train/tfx"
    executors = spec["pipelineSpec"]["deploymentSpec"]["executors"]
    for phase in ("bert_128", "electra_128"):
        for node in ("examples", "statistics", "schema", "validator", "anomalies_gate", "trainer", "pusher"):
            assert f"{node}_{phase}_executor" in executors
    image = "asia-northeast3-docker.pkg.dev/your-gcp-project/korpat/korpat-pipeline:0.1.0"
    trainer = executors["trainer_bert_128_executor"]["container"]
    assert trainer["image"] == image
    assert "google_cloud_ai_platform.trainer.executor.GenericExecutor" in " ".join(trainer["args"])
    # The Vertex CustomJob the Trainer step submits: GPUs from pipeline.yaml.
    task = spec["pipelineSpec"]["root"]["dag"]["tasks"]["trainer_bert_128"]
    custom = json.loads(
        task["inputs"]["parameters"]["custom_config"]["runtimeValue"]["constantValue"]["stringValue"]
    )
    pool = custom["ai_platform_training_args"]["worker_pool_specs"][0]
    assert pool["machine_spec"] == {
        "machine_type": "a2-highgpu-8g",
        "accelerator_type": "NVIDIA_TESLA_A100",
        "accelerator_count": 4,
    }
    assert pool["container_spec"]["image_uri"] == image
    assert custom["settings"]["model_size"] == "base" and custom["settings"]["train_steps"] == 900000
    assert custom["checkpoint_dir"].startswith("gs://your-bucket/korpat/output/train/checkpoints/bert-128-")
    schema_step = spec["pipelineSpec"]["root"]["dag"]["tasks"]["schema_bert_128"]
    assert (
        schema_step["inputs"]["parameters"]["schema_file"]["runtimeValue"]["constantValue"]["stringValue"]
        == "gs://your-bucket/korpat/output/tfrecords/bert-128/schema.pbtxt"
    )
    # StatisticsGen over the full corpus runs on Dataflow in the same image.
    stats_args = " ".join(executors["statistics_bert_128_executor"]["container"]["args"])
    assert "--runner=DataflowRunner" in stats_args and f"--sdk_container_image={image}" in stats_args
    assert "Vertex AI pipeline spec written" in result.stderr


def test_compile_vertex_needs_a_bucket_and_a_project(tmp_path):
    result = run_cli(REPO_CONFIG, "compile-vertex", "--out", str(tmp_path / "v.json"))
    assert result.returncode == 2
    assert "runner.project: required to compile for Vertex AI" in result.stderr


@pytest.mark.slow  # the demo_tfrecords fixture runs the demo corpus to tfrecords
def test_anomalies_gate_names_each_anomaly(demo_tfrecords, tmp_path):
    """ELECTRA records checked against the BERT schema: the gate's message names the
    missing features, split by split."""
    import tensorflow_data_validation as tfdv
    from tfx.utils import writer_utils

    from components.gate import anomaly_lines

    records = os.path.join(demo_tfrecords, "tfrecords", "electra-128", "Split-eval", "*")
    stats = tfdv.generate_statistics_from_tfrecord(records)
    schema = tfdv.load_schema_text(os.path.join(REPO, "tfrecords_schema", "bert-128", "schema.pbtxt"))
    anomalies = tfdv.validate_statistics(stats, schema)
    (tmp_path / "Split-eval").mkdir()
    # Where and how ExampleValidator's executor writes them.
    writer_utils.write_anomalies(str(tmp_path / "Split-eval" / "SchemaDiff.pb"), anomalies)
    lines = anomaly_lines(str(tmp_path), ["eval"])
    assert {line.split(":")[1].strip() for line in lines} == {
        "masked_lm_ids",
        "masked_lm_positions",
        "masked_lm_weights",
        "next_sentence_labels",
    }
    # Its own schema: nothing to report.
    own = tfdv.load_schema_text(os.path.join(REPO, "tfrecords_schema", "electra-128", "schema.pbtxt"))
    writer_utils.write_anomalies(
        str(tmp_path / "Split-eval" / "SchemaDiff.pb"), tfdv.validate_statistics(stats, own)
    )
    assert anomaly_lines(str(tmp_path), ["eval"]) == []


def test_finetune_split_is_stable_and_disjoint():
    from components.finetune import read_labelled, split_of

    rows = read_labelled(os.path.join(REPO, "data", "demo", "cpc_sentences.tsv"))
    assert len(rows) > 2000 and {label for label, _ in rows} == set("ABCDEFGH")
    splits = [split_of(s, 0, 10.0, 10.0) for _, s in rows]
    shares = {name: splits.count(name) / len(rows) for name in ("train", "dev", "test")}
    assert 0.07 < shares["test"] < 0.13 and 0.07 < shares["dev"] < 0.13
    assert splits == [split_of(s, 0, 10.0, 10.0) for _, s in reversed(rows)][::-1]
    assert splits != [split_of(s, 1, 10.0, 10.0) for _, s in rows]


def test_finetune_rejects_a_malformed_line(tmp_path):
    from components.finetune import read_labelled

    path = tmp_path / "bad.tsv"
    path.write_text("A\t좋은 문장이다.\n문장만 있는 줄\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2: expected `label<TAB>sentence`"):
        read_labelled(str(path))


# The stage end to end (killed and resumed, served from TFX's cache, then finetune) is part of
# tests/components/test_tasks_end_to_end.py, which pretrains the demo's BERT once for all of it.


def test_plan_starts_the_first_phase_of_each_model_type_from_init_checkpoint(tmp_path):
    plan = _plan(
        tmp_path,
        "tfrecords.outputs=[bert-128, bert-512, electra-128]",
        "train.phases=[{output: bert-128, steps: 9}, {output: bert-512, steps: 1}, {output: electra-128, steps: 5}]",
        "train.init_checkpoint=/models/korpatbert",
    )
    inits = [p["settings"]["init_checkpoint"] for p in plan["phases"]]
    assert inits == ["/models/korpatbert", "", "/models/korpatbert"]
    # The export carries the user dictionary the records were analysed with.
    bert = plan["phases"][0]["settings"]
    assert bert["user_dictionary"].endswith("dictionary/user.dic") and bert["user_csv"].endswith("user.csv")
    assert bert["tokenizer_mode"] == "fast"
    # Another starting point is another model: its checkpoints go to another folder.
    assert plan["phases"][0]["checkpoint_dir"] != _plan(tmp_path)["phases"][0]["checkpoint_dir"]
