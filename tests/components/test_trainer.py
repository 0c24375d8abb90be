"""components.trainer: settings, ELECTRA dynamic masking, and tiny BERT / ELECTRA
training on the real demo TFRecords (subprocesses with 2 logical CPU replicas)."""

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from components.trainer.settings import DEFAULT_LEARNING_RATES, TrainSettings

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCAB = {"bert": "vocab/bert/vocab.txt", "electra": "vocab/electra/vocab.txt"}
# Short runs: 40 steps of 16 examples; summaries (loss windows) every 5 steps.
QUICK = {"train_steps": 40, "summary_every": 5, "checkpoint_every": 20, "eval_steps": 3, "warmup_steps": 5}


# ------------------------------------------------------------------ settings (fast)


def test_settings_round_trip_and_default_learning_rate():
    s = TrainSettings.from_dict({"model_type": "electra", "vocab_size": 100})
    assert s.learning_rate == DEFAULT_LEARNING_RATES["tiny"]
    assert TrainSettings.from_dict(s.to_dict()) == s
    json.dumps(s.to_dict())  # travels through TFX custom_config
    assert TrainSettings(model_size="base", learning_rate=5e-5).learning_rate == 5e-5


def test_settings_reject_unknown_keys_and_bad_values():
    with pytest.raises(ValueError, match="bogus, lr"):
        TrainSettings.from_dict({"model_type": "bert", "lr": 1, "bogus": 2})
    with pytest.raises(ValueError, match="model_type"):
        TrainSettings.from_dict({"model_type": "gpt"})
    with pytest.raises(ValueError, match="model_size"):
        TrainSettings(model_size="huge")
    with pytest.raises(ValueError, match="seq_length"):
        TrainSettings(seq_length=1024)


def test_encoder_config_has_korpatbert_keys():
    from components.trainer.models import BERT_CONFIG_KEYS, KORPAT_EXTRA_KEYS, encoder_config

    config = encoder_config(TrainSettings(model_size="base", vocab_size=21400))
    assert sorted(config) == sorted([*BERT_CONFIG_KEYS, *KORPAT_EXTRA_KEYS, "model_type"])
    assert (config["directionality"], config["pooler_type"], config["pooler_fc_size"]) == (
        "bidi",
        "first_token_transform",
        768,
    )
    assert (config["num_hidden_layers"], config["hidden_size"], config["num_attention_heads"]) == (
        12,
        768,
        12,
    )
    assert (config["intermediate_size"], config["max_position_embeddings"], config["type_vocab_size"]) == (
        3072,
        512,
        2,
    )
    generator = encoder_config(TrainSettings(model_type="electra", model_size="base", vocab_size=9), True)
    assert (generator["hidden_size"], generator["num_attention_heads"], generator["intermediate_size"]) == (
        256,
        4,
        1024,
    )


def test_run_fn_settings_from_fn_args():
    from tfx.components.trainer.fn_args_utils import FnArgs

    from components.trainer.run import settings_from_fn_args

    custom = {
        "settings": {"model_type": "bert", "train_steps": 5},
        "checkpoint_dir": "/c",
        "vocab_path": "/v",
    }
    s = settings_from_fn_args(FnArgs(custom_config=custom, train_steps=7, eval_steps=None))
    assert (s.train_steps, s.eval_steps, s.vocab_path) == (7, 10, "/v")
    with pytest.raises(ValueError, match="extra"):
        settings_from_fn_args(FnArgs(custom_config={**custom, "extra": 1}))


def test_cli_rejects_bad_settings():
    done = subprocess.run(
        [sys.executable, "-m", "components.trainer", "--settings", '{"model_type": "gpt"}']
        + ["--train", "x", "--checkpoint-dir", "c", "--export-dir", "e", "--log-dir", "l"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "model_type" in done.stderr


def test_configure_devices_too_late_warns(caplog):
    import tensorflow as tf

    from components.trainer.strategy import configure_devices

    have = len(tf.config.list_logical_devices("CPU"))  # initialises TensorFlow's devices
    with caplog.at_level("WARNING"):
        configure_devices(have + 1)
    assert "already initialised" in caplog.text
    assert len(tf.config.list_logical_devices("CPU")) == have


def test_worker_role_picks_the_chief():
    from types import SimpleNamespace

    from components.trainer.strategy import worker_role

    def strategy(task_type, task_id, cluster):
        spec = SimpleNamespace(as_dict=lambda: cluster)
        resolver = SimpleNamespace(task_type=task_type, task_id=task_id, cluster_spec=lambda: spec)
        return SimpleNamespace(cluster_resolver=resolver)

    assert worker_role(SimpleNamespace(cluster_resolver=None)) is None
    workers = {"worker": ["a:1", "b:1"]}
    assert worker_role(strategy("worker", 0, workers)) is None
    assert worker_role(strategy("worker", 1, workers)) == "worker-1"
    with_chief = {"chief": ["c:1"], "worker": ["a:1"]}
    assert worker_role(strategy("chief", 0, with_chief)) is None
    assert worker_role(strategy("worker", 0, with_chief)) == "worker-0"


# ------------------------------------------------------------------ masking (pure TF)


@pytest.mark.slow  # needs the demo pipeline run (demo_tfrecords), not training
def test_electra_dynamic_masking(demo_tfrecords):
    import tensorflow as tf

    from components.trainer import inputs

    special = inputs.special_ids(os.path.join(demo_tfrecords, VOCAB["electra"]))
    files = inputs.list_files(os.path.join(demo_tfrecords, "tfrecords/electra-128/Split-train/*"))
    serialized = next(iter(tf.data.TFRecordDataset(files, compression_type="GZIP").batch(64)))
    batch = inputs.parse_batch(serialized, "electra", 128, 0, False)
    # Pad rows to make the padding rules visible: keep 40 real tokens, the last one [SEP].
    ids = batch["input_word_ids"].numpy()
    mask = batch["input_mask"].numpy()
    ids[:8, 40:], mask[:8, 40:] = special["[PAD]"], 0
    ids[:8, 39] = special["[SEP]"]
    batch = {**batch, "input_word_ids": tf.constant(ids), "input_mask": tf.constant(mask)}
    unselectable = [special["[CLS]"], special["[SEP]"], special["[PAD]"]]
    tf.random.set_seed(1)
    out = inputs.electra_mask(batch, 6961, special["[MASK]"], unselectable, 20, 0.15)
    out = {k: v.numpy() for k, v in out.items()}

    assert out["masked_lm_positions"].shape == out["masked_lm_ids"].shape == (64, 20)
    assert out["masked_lm_weights"].shape == (64, 20) and out["input_word_ids"].shape == (64, 128)
    n_masked = out["masked_lm_weights"].sum(axis=1)
    selectable = (mask * ~np.isin(ids, unselectable)).sum(axis=1)
    np.testing.assert_array_equal(n_masked, np.minimum(np.ceil(selectable * 0.15), 20))
    assert 0.12 < n_masked.sum() / mask.sum() < 0.16
    mask_token = kept = 0
    for row in range(64):
        k = int(n_masked[row])
        positions = out["masked_lm_positions"][row]
        assert np.all(np.diff(positions[:k]) > 0)  # sorted, distinct
        assert np.all(out["masked_lm_weights"][row, :k] == 1) and np.all(
            out["masked_lm_weights"][row, k:] == 0
        )
        assert np.all(positions[k:] == 0) and np.all(out["masked_lm_ids"][row, k:] == 0)
        assert np.all(mask[row, positions[:k]] == 1)  # never padding
        assert not np.isin(ids[row, positions[:k]], unselectable).any()  # never [CLS]/[SEP]/[PAD]
        np.testing.assert_array_equal(out["masked_lm_ids"][row, :k], ids[row, positions[:k]])
        untouched = np.ones(128, bool)
        untouched[positions[:k]] = False
        np.testing.assert_array_equal(out["input_word_ids"][row, untouched], ids[row, untouched])
        new = out["input_word_ids"][row, positions[:k]]
        mask_token += int((new == special["[MASK]"]).sum())
        kept += int((new == ids[row, positions[:k]]).sum())
    assert 0.7 < mask_token / n_masked.sum() < 0.9  # 80% [MASK]
    assert 0.04 < kept / n_masked.sum() < 0.2  # 10% kept (+ random hits of the same id)


# ------------------------------------------------------------------ training (subprocesses)


def trainer_command(root, flavour, workdir, settings, cpu_replicas=2):
    data = os.path.join(root, "tfrecords", f"{flavour}-128")
    return [
        sys.executable,
        "-m",
        "components.trainer",
        "--settings",
        json.dumps({"model_type": flavour, **settings}),
        "--train",
        os.path.join(data, "Split-train", "*"),
        "--eval",
        os.path.join(data, "Split-eval", "*"),
        "--vocab",
        os.path.join(root, VOCAB[flavour]),
        "--checkpoint-dir",
        os.path.join(workdir, "checkpoints"),
        "--export-dir",
        os.path.join(workdir, "export"),
        "--log-dir",
        os.path.join(workdir, "logs"),
        "--cpu-replicas",
        str(cpu_replicas),
    ]


def start(command, workdir):
    os.makedirs(workdir, exist_ok=True)
    log = open(os.path.join(workdir, f"run-{time.time_ns()}.log"), "w")  # noqa: SIM115
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    proc.log_path = log.name
    return proc


def finish(proc, timeout=400) -> tuple[dict, str]:
    proc.wait(timeout=timeout)
    with open(proc.log_path) as f:
        output = f.read()
    assert proc.returncode == 0, output[-4000:]
    lines = [line for line in output.splitlines() if line.startswith("METRICS ")]
    return json.loads(lines[-1][len("METRICS ") :]), output


@pytest.fixture(scope="module")
def trained(demo_tfrecords, tmp_path_factory):
    """Side by side (most of a run's time is single-threaded tracing): tiny BERT and
    tiny ELECTRA to the end. Returns {name: (workdir, metrics)}. (A run killed after its
    first checkpoint and resumed: the train stage's, in
    tests/components/test_tasks_end_to_end.py, restarts the same trainer.)"""
    runs = {}
    for name, flavour, settings in (("bert", "bert", QUICK), ("electra", "electra", QUICK)):
        workdir = str(tmp_path_factory.mktemp(name))
        runs[name] = (workdir, start(trainer_command(demo_tfrecords, flavour, workdir, settings), workdir))
    return {name: (workdir, finish(proc)[0]) for name, (workdir, proc) in runs.items()}


def window_means(metrics, n=2):
    losses = [loss for _, loss in metrics["train_loss_history"]]
    return float(np.mean(losses[:n])), float(np.mean(losses[-n:]))


def check_export(export_dir, steps):
    import tensorflow as tf

    from components.trainer.export import load_encoder
    from components.trainer.models import BERT_CONFIG_KEYS

    for name in (
        "saved_model/saved_model.pb",
        "checkpoint/encoder.index",
        "checkpoint/pretrainer.index",
        "config.json",
        "vocab.txt",
    ):
        assert os.path.exists(os.path.join(export_dir, name)), name
    with open(os.path.join(export_dir, "training.json")) as f:
        assert json.load(f)["steps"] == steps
    encoder, config = load_encoder(export_dir)
    assert (
        set(BERT_CONFIG_KEYS) <= set(config) and config["max_seq_length"] == 128 and config["step"] == steps
    )

    rng = np.random.default_rng(0)
    ids = rng.integers(5, config["vocab_size"], size=(3, 128)).astype(np.int32)
    input_mask = np.ones_like(ids)
    input_mask[1, 70:] = 0
    type_ids = np.zeros_like(ids)
    type_ids[:, 64:] = 1
    serve = tf.saved_model.load(os.path.join(export_dir, "saved_model")).signatures["serving_default"]
    served = serve(
        input_word_ids=tf.constant(ids),
        input_mask=tf.constant(input_mask),
        input_type_ids=tf.constant(type_ids),
    )
    direct = encoder([ids, input_mask, type_ids], training=False)
    assert served["sequence_output"].shape == (3, 128, config["hidden_size"])
    for key in ("pooled_output", "sequence_output"):
        np.testing.assert_allclose(served[key].numpy(), direct[key].numpy(), atol=1e-5)


@pytest.mark.slow
def test_tiny_bert_trains_and_exports(trained):
    workdir, metrics = trained["bert"]
    assert (metrics["strategy"], metrics["replicas"]) == ("MirroredStrategy", 2)
    assert metrics["steps"] == 40 and metrics["resumed_from_step"] == 0
    first, last = window_means(metrics)
    assert last < first - 0.5, metrics["train_loss_history"]
    assert metrics["eval_steps"] == 3 and 0 <= metrics["eval_mlm_accuracy"] <= 1
    assert "eval_nsp_accuracy" in metrics
    assert os.listdir(os.path.join(workdir, "logs", "train"))  # TensorBoard events
    check_export(os.path.join(workdir, "export"), 40)
    check_warm_start(os.path.join(workdir, "export"))


@pytest.mark.slow
def test_next_phase_starts_where_the_previous_one_ended(demo_tfrecords, trained, tmp_path):
    """init_checkpoint = the BERT export: the whole pretrainer (MLM and NSP heads too)
    is restored, so the next phase's first losses continue from the previous phase's
    last ones instead of starting over from fresh heads."""
    workdir, previous = trained["bert"]
    settings = {**QUICK, "train_steps": 10, "eval_steps": 0}
    command = trainer_command(demo_tfrecords, "bert", str(tmp_path), settings)
    metrics, output = finish(
        start([*command, "--init-checkpoint", os.path.join(workdir, "export")], str(tmp_path))
    )
    assert "warm-started the whole pretrainer" in output
    first_before, last_before = window_means(previous)
    first_now = metrics["train_loss_history"][0][1]
    assert first_now < last_before + 0.5 < first_before, (previous["train_loss_history"], metrics)


def check_warm_start(export_dir):
    """init_checkpoint: a fresh encoder gets every exported weight; another architecture is refused."""
    from components.trainer.export import load_encoder
    from components.trainer.models import build_encoder
    from components.trainer.train import warm_start

    exported, config = load_encoder(export_dir)
    fresh = build_encoder(config)
    warm_start(fresh, export_dir)
    for a, b in zip(fresh.get_weights(), exported.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="init_checkpoint"):
        warm_start(build_encoder({**config, "num_hidden_layers": 1}), export_dir)


@pytest.mark.slow
def test_tiny_electra_trains_and_exports(trained):
    workdir, metrics = trained["electra"]
    assert (metrics["strategy"], metrics["replicas"]) == ("MirroredStrategy", 2)
    first, last = window_means(metrics)
    assert last < first - 3.0, metrics["train_loss_history"]  # mlm + 50 x replaced-token loss
    assert 0.5 < metrics["eval_discriminator_accuracy"] <= 1
    check_export(os.path.join(workdir, "export"), 40)
