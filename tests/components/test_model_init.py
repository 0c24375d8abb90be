"""Training that starts from KorPatBERT-style checkpoints, and a pooler that trains.

A checkpoint written by google-research/bert's own modeling.py (random tiny
weights, run_pretraining.py's head names, Adam slots and global_step as in
KorPatBERT's release) is read by `components.model_formats.checkpoint`; a few
training steps on synthetic records run in this process.
"""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from components.model_formats import ModelFormatError
from components.trainer.settings import TrainSettings
from tests.helpers import REPO  # noqa: E402


@pytest.fixture(scope="module")
def korpat_release(tmp_path_factory):
    """A folder like KorPatBERT's release: model.ckpt-7.*, korpat_bert_config.json, korpat_vocab.txt."""
    folder = tmp_path_factory.mktemp("korpat")
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-m", "components.model_formats.google_reference", "write", str(folder)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return str(folder)


def write_records(folder, flavour, vocab_size, count=32, seq_length=32, predictions=5, seed=0):
    """GZIP TFRecords in the tfrecords stage's schema with random content; returns the glob."""
    import tensorflow as tf

    from pipeline.pretraining.features import serialize_example

    rng = np.random.default_rng(seed)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "part-00000.tfrecord.gz")
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:
        for _ in range(count):
            ids = [int(i) for i in rng.integers(10, vocab_size, seq_length)]
            features = {
                "input_ids": ids,
                "input_mask": [1] * seq_length,
                "segment_ids": [0] * (seq_length // 2) + [1] * (seq_length - seq_length // 2),
            }
            if flavour == "bert":
                positions = sorted(
                    int(p) for p in rng.choice(np.arange(1, seq_length), predictions, replace=False)
                )
                features.update(
                    masked_lm_positions=positions,
                    masked_lm_ids=[ids[p] for p in positions],
                    masked_lm_weights=[1.0] * predictions,
                    next_sentence_labels=[int(rng.integers(0, 2))],
                )
            writer.write(serialize_example(features))
    return os.path.join(folder, "*")


def quick_train(tmp_path, flavour, vocab, init_checkpoint="", steps=3, mixed_precision="off"):
    from components.trainer.train import train

    settings = TrainSettings(
        model_type=flavour,
        seq_length=32,
        max_predictions=5,
        train_steps=steps,
        eval_steps=0,
        global_batch_size=8,
        warmup_steps=1,
        checkpoint_every=steps,
        summary_every=steps,
        init_checkpoint=init_checkpoint,
        mixed_precision=mixed_precision,
    )
    from pipeline.text.tokenizer import load_vocab

    files = write_records(str(tmp_path / "records"), flavour, len(load_vocab(vocab)))
    export = str(tmp_path / "export")
    metrics = train(
        settings,
        train_files=files,
        eval_files=None,
        checkpoint_dir=str(tmp_path / "checkpoints"),
        export_dir=export,
        log_dir=str(tmp_path / "logs"),
        vocab_path=vocab,
    )
    return metrics, export


def file_weights(prefix):
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


# ------------------------------------------------------------------ reading a Google checkpoint


def test_restores_every_weight_of_a_google_bert_checkpoint(korpat_release):
    from components.model_formats import google_bert
    from components.model_formats.checkpoint import find_source, read_source_config, restore
    from components.model_formats.package import dummy_features
    from components.trainer.models import build_bert_pretrainer

    source = find_source(korpat_release)
    assert (source.kind, os.path.basename(source.weights)) == ("google", "model.ckpt-7")
    assert os.path.basename(source.config) == "korpat_bert_config.json"
    assert os.path.basename(source.vocab) == "korpat_vocab.txt"
    config = read_source_config(korpat_release)["encoder"]
    assert (config["hidden_size"], config["num_hidden_layers"], config["vocab_size"]) == (48, 2, 120)
    assert config["directionality"] == "bidi"

    model = build_bert_pretrainer(config)
    model(dummy_features(), training=False)
    restore(model, korpat_release)
    stored = file_weights(source.weights)
    weights = google_bert.bert_weights(model)
    assert len(weights) == len([n for n in stored if not google_bert.is_training_state(n)])
    for w in weights:
        np.testing.assert_array_equal(w.variable.numpy().reshape(w.shape), stored[w.name], err_msg=w.name)


def test_bad_checkpoints_are_named(korpat_release, tmp_path):
    import tensorflow as tf

    from components.model_formats import google_bert
    from components.model_formats.checkpoint import check_vocab, read_source_config, restore
    from components.model_formats.package import dummy_features
    from components.trainer.models import build_bert_pretrainer

    def copy(name):
        target = tmp_path / name
        shutil.copytree(korpat_release, target)
        return target

    def built(folder):
        model = build_bert_pretrainer(read_source_config(str(folder))["encoder"])
        model(dummy_features(), training=False)
        return model

    # A variable missing from the checkpoint.
    missing = copy("missing")
    tensors = file_weights(str(missing / "model.ckpt-7"))
    del tensors["cls/seq_relationship/output_bias"]
    for f in missing.glob("model.ckpt-7*"):
        f.unlink()
    google_bert.write_checkpoint(tensors, str(missing / "model.ckpt-7"))
    with pytest.raises(ModelFormatError, match="cls/seq_relationship/output_bias"):
        restore(built(missing), str(missing))

    # Sizes in the config that disagree with the checkpoint.
    wrong = copy("wrong")
    config = json.loads((wrong / "korpat_bert_config.json").read_text())
    (wrong / "korpat_bert_config.json").write_text(json.dumps({**config, "intermediate_size": 64}))
    with pytest.raises(ModelFormatError, match=r"intermediate/dense/kernel has shape \[48, 96\]"):
        restore(built(wrong), str(wrong))

    # Not a model folder.
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("x")
    with pytest.raises(ModelFormatError, match="unknown model format"):
        read_source_config(str(empty))

    # A vocab that is not the checkpoint's.
    other = tmp_path / "vocab.txt"
    other.write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(115)]) + "\n"
    )
    with pytest.raises(ModelFormatError, match="korpat_vocab.txt") as error:
        check_vocab(korpat_release, str(other))
    assert str(other) in str(error.value) and "[PAD] is id 3 against 0" in str(error.value)
    check_vocab(korpat_release, os.path.join(korpat_release, "korpat_vocab.txt"))
    assert tf.io.gfile.exists(os.path.join(korpat_release, "model.ckpt-7.index"))


def test_continued_pretraining_from_a_korpatbert_checkpoint(korpat_release, tmp_path):
    """init_checkpoint = the Google-layout folder: the model takes its size from
    korpat_bert_config.json, starts from its weights (heads included) at step 0,
    and NSP trains the encoder's pooler (it moves and has optimizer slots)."""
    import tensorflow as tf

    vocab = os.path.join(korpat_release, "korpat_vocab.txt")
    metrics, export = quick_train(tmp_path, "bert", vocab, init_checkpoint=korpat_release, steps=3)
    assert metrics["steps"] == 3 and metrics["resumed_from_step"] == 0
    with open(os.path.join(export, "config.json")) as f:
        config = json.load(f)
    assert (config["hidden_size"], config["num_attention_heads"], config["vocab_size"]) == (48, 3, 120)

    before = file_weights(os.path.join(korpat_release, "model.ckpt-7"))
    after = file_weights(os.path.join(export, "google", "bert_model.ckpt"))
    for name in ("bert/pooler/dense/kernel", "bert/pooler/dense/bias", "cls/seq_relationship/output_weights"):
        change = np.max(np.abs(after[name] - before[name]))
        assert 0 < change < 0.1, (name, change)  # trained a little, from the file's values
    # The training checkpoint holds Adam's m and v for the pooler (found by its value).
    training = tf.train.load_checkpoint(str(tmp_path / "checkpoints"))
    value_suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    for name in ("bert/pooler/dense/kernel", "bert/pooler/dense/bias"):
        keys = [
            k
            for k, shape in training.get_variable_to_shape_map().items()
            if "OPTIMIZER_SLOT" not in k
            and list(shape) == list(after[name].shape)
            and np.array_equal(training.get_tensor(k), after[name])
        ]
        assert len(keys) == 1, (name, keys)
        for slot in ("m", "v"):
            slot_key = keys[0].replace(value_suffix, f"/.OPTIMIZER_SLOT/optimizer/{slot}{value_suffix}")
            assert np.any(training.get_tensor(slot_key) != 0), slot_key


def test_vocab_mismatch_stops_before_training(korpat_release, tmp_path):
    other = tmp_path / "vocab.txt"
    other.write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(115)]) + "\n"
    )
    with pytest.raises(ModelFormatError, match="does not match the checkpoint"):
        quick_train(tmp_path, "bert", str(other), init_checkpoint=korpat_release)
    assert not (tmp_path / "checkpoints").exists()


def test_electra_starts_from_its_hf_export(tmp_path):
    """An ELECTRA export's hf/ folder (discriminator + generator/) restores every weight."""
    from components.model_formats import google_bert
    from components.model_formats.checkpoint import read_source_config, restore
    from components.model_formats.package import dummy_features
    from components.trainer.models import build_pretrainer, pretrainer_from_config
    from components.trainer.train import export_encoder, model_config

    vocab = tmp_path / "vocab.txt"
    vocab.write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(95)]) + "\n"
    )
    settings = TrainSettings(model_type="electra", vocab_size=100, vocab_path=str(vocab))
    model, encoder = build_pretrainer(settings)
    model(dummy_features(), training=False)
    rng = np.random.default_rng(1)
    for v in model.weights:
        v.assign(v.numpy() + rng.normal(0, 0.05, v.shape).astype(np.float32))
    export = str(tmp_path / "export")
    export_encoder(encoder, model_config(settings), export, 3, 128, str(vocab), {}, model, settings)

    for folder in ("hf", "google"):
        configs = read_source_config(os.path.join(export, folder), "electra")
        fresh, _ = pretrainer_from_config({**configs["encoder"], "generator": configs["generator"]})
        fresh(dummy_features(), training=False)
        restore(fresh, os.path.join(export, folder))
        expected = google_bert.to_google(google_bert.electra_weights(model))
        got = google_bert.to_google(google_bert.electra_weights(fresh))
        assert sorted(got) == sorted(expected)
        for name in expected:
            np.testing.assert_array_equal(got[name], expected[name], err_msg=f"{folder}: {name}")


def test_electra_trains_in_mixed_precision_and_exports(tmp_path):
    """mixed_float16 (what GPUs train with): Model Garden's ELECTRA sampling failed on
    float16 logits; the export of the trained model matches it in every format."""
    import tf_keras

    from components.model_formats.equivalence import compare

    vocab = tmp_path / "vocab.txt"
    vocab.write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(95)]) + "\n"
    )
    try:
        metrics, export = quick_train(tmp_path, "electra", str(vocab), steps=2, mixed_precision="on")
    finally:
        tf_keras.mixed_precision.set_global_policy("float32")
    assert metrics["mixed_precision"] is True and metrics["steps"] == 2
    for fmt, row in compare(export).items():
        assert max(row.values()) < 1e-4, (fmt, row)


# ------------------------------------------------------------------ Pusher


def test_pusher_keeps_nested_saved_model(tmp_path):
    from components.pusher import ExportPusher, ExportPusherExecutor, copy_nested_saved_models

    source = tmp_path / "Format-Serving"
    (source / "saved_model" / "variables").mkdir(parents=True)
    (source / "saved_model" / "saved_model.pb").write_bytes(b"pb")
    (source / "saved_model" / "variables" / "variables.index").write_bytes(b"i")
    destination = tmp_path / "pushed"
    (destination / "saved_model" / "variables").mkdir(parents=True)  # what the stock Pusher copied
    (destination / "saved_model" / "variables" / "variables.index").write_bytes(b"i")
    written = copy_nested_saved_models(str(source), str(destination))
    assert written == [str(destination / "saved_model" / "saved_model.pb")]
    assert (destination / "saved_model" / "saved_model.pb").read_bytes() == b"pb"
    assert copy_nested_saved_models(str(source), str(destination)) == []
    assert ExportPusher.EXECUTOR_SPEC.executor_class is ExportPusherExecutor


def test_finetune_init_loads_the_encoder_of_any_layout(korpat_release):
    """checkpoint.load_encoder (finetune --init): a KorPatBERT-style Google folder gives the
    encoder with the file's weights."""
    from components.model_formats.checkpoint import detect_model_type, load_encoder

    assert detect_model_type(korpat_release) == "bert"
    encoder, config = load_encoder(korpat_release)
    assert config["hidden_size"] == 48
    stored = file_weights(os.path.join(korpat_release, "model.ckpt-7"))
    np.testing.assert_array_equal(encoder.pooler_layer.kernel.numpy(), stored["bert/pooler/dense/kernel"])
    np.testing.assert_array_equal(
        encoder.get_embedding_table().numpy(), stored["bert/embeddings/word_embeddings"]
    )


def test_train_stage_checks_the_init_checkpoint_before_anything_runs(korpat_release, tmp_path):
    """train.init_checkpoint: a checkpoint of another vocab, or no vocab named for the
    records, is one line naming both files, exit 2, before any stage writes."""
    from pipeline.config import load_config
    from pipeline.stages import train
    from tests.helpers import run_cli

    repo_config = os.path.join(REPO, "pipeline.yaml")
    bert_only = "train.phases=[{output: bert-128, steps: 2}]"
    init = f"train.init_checkpoint={korpat_release}"
    vocab = os.path.join(korpat_release, "korpat_vocab.txt")
    with pytest.raises(ValueError, match=r"set tfrecords.bert_vocab to its vocab \(.*korpat_vocab.txt\)"):
        train.check_init_checkpoint(load_config(repo_config, (init, bert_only), check_inputs=False))
    config = load_config(repo_config, (init, bert_only, f"tfrecords.bert_vocab={vocab}"), check_inputs=False)
    train.check_init_checkpoint(config)  # the checkpoint's own vocab: fine
    other = tmp_path / "vocab.txt"
    other.write_text(
        "\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "가", "나"]) + "\n", encoding="utf-8"
    )
    config = load_config(repo_config, (init, bert_only, f"tfrecords.bert_vocab={other}"), check_inputs=False)
    with pytest.raises(ValueError, match="korpat_vocab.txt") as error:
        train.check_init_checkpoint(config)
    assert str(other) in str(error.value)

    done = run_cli(
        repo_config,
        "stage",
        "train",
        "--set",
        f"output_root={tmp_path / 'out'}",
        "--set",
        init,
        "--set",
        bert_only,
        "--set",
        f"tfrecords.bert_vocab={other}",
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "train.init_checkpoint" in done.stderr or "korpat_vocab.txt" in done.stderr
    assert not (tmp_path / "out" / "train").exists()

    # A checkpoint missing a variable, or whose config's sizes disagree with its tensors:
    # the variable is named before anything runs, not inside the trainer.
    from components.model_formats import google_bert

    missing = tmp_path / "missing"
    shutil.copytree(korpat_release, missing)
    tensors = file_weights(str(missing / "model.ckpt-7"))
    del tensors["cls/seq_relationship/output_bias"]
    for f in missing.glob("model.ckpt-7*"):
        f.unlink()
    google_bert.write_checkpoint(tensors, str(missing / "model.ckpt-7"))
    wrong = tmp_path / "wrong"
    shutil.copytree(korpat_release, wrong)
    wrong_config = json.loads((wrong / "korpat_bert_config.json").read_text())
    (wrong / "korpat_bert_config.json").write_text(json.dumps({**wrong_config, "intermediate_size": 64}))
    for folder, message in (
        (missing, "missing 1 variables: cls/seq_relationship/output_bias"),
        (wrong, r"intermediate/dense/kernel has shape \[48, 96\], the config says \[48, 64\]"),
    ):
        overrides = (f"train.init_checkpoint={folder}", bert_only, f"tfrecords.bert_vocab={vocab}")
        with pytest.raises(ModelFormatError, match=message):
            train.check_init_checkpoint(load_config(repo_config, overrides, check_inputs=False))
    root = tmp_path / "out2"
    done = run_cli(
        repo_config,
        "stage",
        "train",
        "--set",
        f"output_root={root}",
        "--set",
        f"train.init_checkpoint={missing}",
        "--set",
        bert_only,
        "--set",
        f"tfrecords.bert_vocab={vocab}",
    )
    assert done.returncode == 2, done.stderr[-2000:]
    assert "cls/seq_relationship/output_bias" in done.stderr and "Traceback" not in done.stderr
    assert not (root / "train").exists()


def test_finetune_from_a_korpatbert_folder_is_reproducible(korpat_release, tmp_path):
    """`finetune --init` on a KorPatBERT-style folder: the same command and seed on the same
    machine give the same losses and the same accuracy."""
    from components.finetune import finetune
    from pipeline.config import load_config

    data = tmp_path / "cpc.tsv"
    with open(os.path.join(REPO, "data", "demo", "cpc_sentences.tsv"), encoding="utf-8") as f:
        lines = [line for i, line in enumerate(f) if i % 20 == 0]
    data.write_text("".join(lines), encoding="utf-8")
    config = load_config(
        os.path.join(REPO, "pipeline.yaml"),
        ("finetune.epochs=2", "finetune.batch_size=8", "finetune.max_len=32"),
        check_inputs=False,
    )
    first = finetune(config, korpat_release, str(data), init=korpat_release)
    second = finetune(config, korpat_release, str(data), init=korpat_release)
    assert first["examples"]["train"] > 20 and first["examples"]["test"] > 0
    assert first["train_loss_per_epoch"] == second["train_loss_per_epoch"]
    assert first["test_accuracy"] == second["test_accuracy"]
    assert first["export"] == korpat_release and first["encoder"]["hidden_size"] == 48


def test_pretraining_on_cpu_is_reproducible(tmp_path):
    """Same settings and seed on the CPU: the same losses and the same weights."""
    vocab = os.path.join(tmp_path, "vocab.txt")
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"t{i}" for i in range(59)]
    with open(vocab, "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    first, export_a = quick_train(tmp_path / "a", "bert", vocab, steps=4)
    second, export_b = quick_train(tmp_path / "b", "bert", vocab, steps=4)
    assert first["train_loss_history"] == second["train_loss_history"]
    a = file_weights(os.path.join(export_a, "checkpoint", "encoder"))
    b = file_weights(os.path.join(export_b, "checkpoint", "encoder"))
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_evaluate_on_a_korpatbert_folder_is_reproducible(korpat_release):
    """`evaluate --task ner --model <KorPatBERT-style folder>`: the same settings and seed on
    the same machine give the same losses and the same scores. The three tasks share one
    seeded loop (components/tasks/common.py); a tiny model and a slice of the demo data keep
    the check quick, and the end-to-end test scores the demo model."""
    from components.tasks.evaluate import run_task
    from pipeline.config import load_config

    config = load_config(
        os.path.join(REPO, "pipeline.yaml"),
        ("evaluate.epochs=2", "evaluate.max_len=48", "evaluate.stride=16", "evaluate.max_train_examples=40"),
        check_inputs=False,
    )
    data = os.path.join(REPO, "data", "demo", "ner.jsonl")
    first = run_task("ner", korpat_release, data, config.evaluate)
    second = run_task("ner", korpat_release, data, config.evaluate)
    assert len(first["train_loss_per_epoch"]) == 2
    for key in ("train_loss_per_epoch", "precision", "recall", "f1", "per_tag", "examples"):
        assert first[key] == second[key], key
