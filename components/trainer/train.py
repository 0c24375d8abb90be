"""The pretraining loop: BERT (MLM + NSP) or ELECTRA (generator + discriminator).

`train()` builds everything under `strategy.make_strategy()`'s scope, resumes
from the latest checkpoint in `checkpoint_dir` (or warm-starts the encoder
from a previous phase's export), runs a custom loop of `summary_every`-step
windows inside one `tf.function`, saves checkpoints, evaluates, and exports:

    export_dir/saved_model/        serving signature: int32 input_word_ids,
                                   input_mask, input_type_ids -> pooled_output,
                                   sequence_output
    export_dir/checkpoint/encoder.*  tf.train.Checkpoint(encoder=...)
    export_dir/checkpoint/pretrainer.*  tf.train.Checkpoint(model=...): the whole
                                   pretrainer, heads included, for the next phase
    export_dir/config.json         encoder_config + max_seq_length + step (ELECTRA: + "generator")
    export_dir/vocab.txt
    export_dir/training.json       the metrics train() returns
    export_dir/google/, hf/        Google BERT/ELECTRA and Hugging Face layouts, and the
    export_dir/user.dic, user.csv, tokenizer_settings.json   tokenizer state
                                   (components.model_formats.package)

Losses are computed per replica as that replica's share of the global loss
(numerators summed locally, denominators summed over all replicas), so the
summed gradients equal those of one device running the whole global batch.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import time
import warnings

from components.trainer import inputs
from components.trainer.export import PRETRAINER  # the whole pretrainer, beside checkpoint/encoder
from components.trainer.models import build_encoder, build_pretrainer, encoder_config
from components.trainer.settings import TrainSettings
from components.trainer.strategy import make_strategy, strategy_name, worker_role

log = logging.getLogger(__name__)

# Not decayed, as in Google BERT's optimization.py.
NO_WEIGHT_DECAY = ["LayerNorm", "layer_norm", "bias"]
METRICS_FILE = "training.json"


def resolve_vocab(settings: TrainSettings, vocab_path: str | None) -> tuple[TrainSettings, str, dict]:
    """(settings with vocab_size and vocab_path set, vocab path, special token ids)."""
    from pipeline.text.tokenizer import load_vocab

    vocab_path = vocab_path or settings.vocab_path
    if not vocab_path:
        raise ValueError("no vocab: pass vocab_path or set settings.vocab_path")
    vocab = load_vocab(vocab_path)
    size = max(vocab.values()) + 1
    if settings.vocab_size == 0:
        settings = settings.replace(vocab_size=size)
    elif settings.vocab_size < size:
        raise ValueError(f"settings.vocab_size {settings.vocab_size} < {size} ids in {vocab_path}")
    missing = [t for t in inputs.SPECIAL_TOKENS if t not in vocab]
    if missing:
        raise ValueError(f"{vocab_path} lacks {missing}")
    special = {t: vocab[t] for t in inputs.SPECIAL_TOKENS}
    if settings.init_checkpoint:
        from components.model_formats.checkpoint import check_vocab

        check_vocab(settings.init_checkpoint, vocab_path)  # before anything runs
    return settings.replace(vocab_path=vocab_path), vocab_path, special


def learning_rate_schedule(settings: TrainSettings):
    """0 -> learning_rate linearly over warmup_steps, then linearly down to 0 at train_steps.

    (Model Garden's PolynomialDecay, offset by the warmup, under LinearWarmup.)
    """
    from official.modeling import optimization

    warmup = min(settings.warmup_steps, settings.train_steps - 1)
    if warmup < settings.warmup_steps:
        log.warning("warmup_steps %d >= train_steps: warming up over %d", settings.warmup_steps, warmup)
    config = {
        "optimizer": {"type": "adamw"},
        "learning_rate": {
            "type": "polynomial",
            "polynomial": {
                "initial_learning_rate": settings.learning_rate,
                "decay_steps": settings.train_steps - warmup,
                "end_learning_rate": 0.0,
                "power": 1.0,
                "offset": warmup,
            },
        },
    }
    if warmup:
        config["warmup"] = {"type": "linear", "linear": {"warmup_steps": warmup, "warmup_learning_rate": 0.0}}
    return optimization.OptimizerFactory(optimization.OptimizationConfig(config)).build_learning_rate()


def build_optimizer(settings: TrainSettings, schedule, mixed: bool):
    """Model Garden's AdamWeightDecay (BERT's AdamW, global-norm clipping at 1.0)."""
    import tf_keras
    from official.modeling import optimization

    config = optimization.OptimizationConfig(
        {
            "optimizer": {
                "type": "adamw",
                "adamw": {
                    "weight_decay_rate": settings.weight_decay,
                    "exclude_from_weight_decay": NO_WEIGHT_DECAY,
                    "epsilon": 1e-6,
                },
            },
            "learning_rate": {"type": "constant", "constant": {"learning_rate": settings.learning_rate}},
        }
    )
    optimizer = optimization.OptimizerFactory(config).build_optimizer(schedule)
    if mixed:
        optimizer = tf_keras.mixed_precision.LossScaleOptimizer(optimizer)
    return optimizer


# ------------------------------------------------------------------ losses


def _global_sum(value):
    """Sum of `value` over all replicas (a constant for the gradient)."""
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is not None:
        value = context.all_reduce(tf.distribute.ReduceOp.SUM, value)
    return tf.stop_gradient(value)


def loss_denominators(settings: TrainSettings, features: dict) -> dict:
    """The global batch's counts the losses divide by (masked tokens, NSP examples or real
    tokens), summed over replicas: they depend on the inputs alone, so an XLA-compiled step
    takes them as inputs (no cross-replica sum inside XLA)."""
    import tensorflow as tf

    counts = {"mlm": _global_sum(tf.reduce_sum(features["masked_lm_weights"]))}
    if settings.model_type == "bert":
        counts["nsp"] = _global_sum(tf.cast(tf.size(features["next_sentence_labels"]), tf.float32))
    else:
        counts["discriminator"] = _global_sum(tf.reduce_sum(tf.cast(features["input_mask"], tf.float32)))
    return counts


def compute_losses(
    settings: TrainSettings, features: dict, outputs: dict, denominators: dict | None = None
) -> dict:
    """This replica's share of the global loss plus metric numerators/denominators.

    Summing every value over replicas gives the global batch's loss and counts.
    `denominators`: `loss_denominators(settings, features)`, computed here if not given.
    """
    import tensorflow as tf
    import tf_keras

    if denominators is None:
        denominators = loss_denominators(settings, features)
    bert = settings.model_type == "bert"
    logits = tf.cast(outputs["mlm_logits" if bert else "lm_outputs"], tf.float32)
    labels = features["masked_lm_ids"]
    weights = features["masked_lm_weights"]
    per_token = tf_keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    weight_sum = tf.reduce_sum(weights)
    mlm_loss = tf.reduce_sum(per_token * weights) / tf.maximum(denominators["mlm"], 1.0)
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=labels.dtype), labels), tf.float32)
    stats = {
        "mlm_loss": mlm_loss,
        "mlm_correct": tf.reduce_sum(correct * weights),
        "mlm_count": weight_sum,
    }
    if bert:
        nsp_logits = tf.cast(outputs["next_sentence"], tf.float32)
        nsp_labels = features["next_sentence_labels"]
        per_example = tf_keras.losses.sparse_categorical_crossentropy(
            nsp_labels, nsp_logits, from_logits=True
        )
        count = tf.cast(tf.size(nsp_labels), tf.float32)
        nsp_loss = tf.reduce_sum(per_example) / tf.maximum(denominators["nsp"], 1.0)
        nsp_correct = tf.equal(tf.argmax(nsp_logits, -1, output_type=nsp_labels.dtype), nsp_labels)
        stats.update(
            nsp_loss=nsp_loss,
            nsp_correct=tf.reduce_sum(tf.cast(nsp_correct, tf.float32)),
            nsp_count=count,
            loss=mlm_loss + nsp_loss,
        )
    else:
        disc_logits = tf.cast(outputs["disc_logits"], tf.float32)
        disc_labels = tf.cast(outputs["disc_label"], tf.float32)
        mask = tf.cast(features["input_mask"], tf.float32)
        per_token = tf.nn.sigmoid_cross_entropy_with_logits(labels=disc_labels, logits=disc_logits)
        count = tf.reduce_sum(mask)
        disc_loss = tf.reduce_sum(per_token * mask) / tf.maximum(denominators["discriminator"], 1.0)
        disc_correct = tf.cast(tf.equal(tf.cast(disc_logits > 0, tf.float32), disc_labels), tf.float32)
        stats.update(
            discriminator_loss=disc_loss,
            discriminator_correct=tf.reduce_sum(disc_correct * mask),
            discriminator_count=count,
            loss=mlm_loss + settings.electra_discriminator_weight * disc_loss,
        )
    return stats


def stat_keys(settings: TrainSettings) -> tuple[str, ...]:
    """The keys `compute_losses` returns."""
    head = ("nsp_loss", "nsp_correct", "nsp_count")
    if settings.model_type == "electra":
        head = ("discriminator_loss", "discriminator_correct", "discriminator_count")
    return ("loss", "mlm_loss", "mlm_correct", "mlm_count", *head)


def summarize(totals: dict, steps: int) -> dict:
    """Window sums -> mean losses and accuracies."""
    out = {}
    for key, value in totals.items():
        if key.endswith("_loss") or key == "loss":
            out[key] = value / max(steps, 1)
        elif key.endswith("_correct"):
            name = key[: -len("_correct")]
            out[f"{name}_accuracy"] = value / max(totals[f"{name}_count"], 1.0)
    return out


def _model_inputs(settings: TrainSettings, features: dict) -> dict:
    keys = ["input_word_ids", "input_mask", "input_type_ids", "masked_lm_positions"]
    if settings.model_type == "electra":
        keys.append("masked_lm_ids")  # the pretrainer un-masks them before sampling
    return {k: features[k] for k in keys}


def _dummy_features(settings: TrainSettings) -> dict:
    import tensorflow as tf

    ones = tf.ones([1, settings.seq_length], tf.int32)
    positions = tf.ones([1, settings.max_predictions], tf.int32)
    return {
        "input_word_ids": ones,
        "input_mask": ones,
        "input_type_ids": tf.zeros_like(ones),
        "masked_lm_positions": positions,
        "masked_lm_ids": positions,
    }


# ------------------------------------------------------------------ checkpoints


def warm_start(encoder, init_checkpoint: str, model=None) -> None:
    """Start from a previous phase's export (bert-128 -> bert-512) or another model.

    With `model` and an export that holds the whole pretrainer
    (`checkpoint/pretrainer.*`) of the same model type, everything is restored,
    the MLM/NSP heads and ELECTRA's generator included (they do not depend on
    the sequence length), so phase 2 starts where phase 1 ended. Otherwise only
    the encoder is restored; every variable must match either way. A folder
    in Google's checkpoint layout or an hf/ folder restores the whole
    pretrainer through `components.model_formats.checkpoint`."""
    import tensorflow as tf

    if not tf.io.gfile.exists(os.path.join(init_checkpoint, "checkpoint", PRETRAINER + ".index")) and (
        not tf.io.gfile.exists(os.path.join(init_checkpoint, "checkpoint", "encoder.index"))
    ):
        from components.model_formats.checkpoint import restore

        if model is None:
            raise ValueError(
                f"init_checkpoint {init_checkpoint}: restoring a Google or hf/ folder needs the model"
            )
        source = restore(model, init_checkpoint)
        log.info("started from %s (%s layout)", source.weights, source.kind)
        return
    with tf.io.gfile.GFile(os.path.join(init_checkpoint, "config.json")) as f:
        previous = json.load(f)
    current = {k: encoder.get_config().get(k) for k in ("hidden_size", "num_layers", "vocab_size")}
    before = {
        "hidden_size": previous["hidden_size"],
        "num_layers": previous["num_hidden_layers"],
        "vocab_size": previous["vocab_size"],
    }
    if current != before:
        raise ValueError(f"init_checkpoint {init_checkpoint} has {before}, this model {current}")
    whole = os.path.join(init_checkpoint, "checkpoint", PRETRAINER)
    same_type = previous.get("model_type") == encoder_type(model)
    if model is not None and same_type and tf.io.gfile.exists(whole + ".index"):
        tf.train.Checkpoint(model=model).read(whole).assert_consumed()
        log.info("warm-started the whole pretrainer from %s (step %s)", whole, previous.get("step"))
        return
    prefix = os.path.join(init_checkpoint, "checkpoint", "encoder")
    tf.train.Checkpoint(encoder=encoder).read(prefix).assert_consumed()
    log.info("warm-started the encoder from %s (step %s)", prefix, previous.get("step"))


def source_configs(settings: TrainSettings) -> dict | None:
    """The configs of the checkpoint training starts from (None without init_checkpoint)."""
    if not settings.init_checkpoint:
        return None
    from components.model_formats.checkpoint import read_source_config

    return read_source_config(settings.init_checkpoint, settings.model_type)


def model_config(settings: TrainSettings) -> dict:
    """The export's config: the encoder's, with the ELECTRA generator's under "generator"."""
    source = source_configs(settings)
    config = encoder_config(settings, source=source)
    if settings.model_type == "electra":
        config["generator"] = encoder_config(settings, generator=True, source=source)
    return config


def encoder_type(model) -> str | None:
    """'bert' or 'electra' for a pretrainer built by build_pretrainer (None for None)."""
    if model is None:
        return None
    return "electra" if hasattr(model, "discriminator_network") else "bert"


def _read_json(path: str) -> dict | None:
    import tensorflow as tf

    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return json.load(f)


def _write_json(path: str, data: dict) -> None:
    import tensorflow as tf

    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(data, f, indent=2, ensure_ascii=False)
        f.write("\n")


# ------------------------------------------------------------------ export


def serving_function(encoder):
    """tf.function: int32 [batch, seq] input_word_ids, input_mask, input_type_ids -> outputs dict."""
    import tensorflow as tf

    spec = tf.TensorSpec([None, None], tf.int32)

    @tf.function(input_signature=[spec, spec, spec])
    def serve(input_word_ids, input_mask, input_type_ids):
        outputs = encoder([input_word_ids, input_mask, input_type_ids], training=False)
        return {"pooled_output": outputs["pooled_output"], "sequence_output": outputs["sequence_output"]}

    return serve


def export_encoder(
    encoder,
    config: dict,
    export_dir: str,
    step: int,
    seq_length: int,
    vocab_path: str,
    metrics: dict,
    model=None,
    settings: TrainSettings | None = None,
) -> None:
    """Write the export layout (see the module docstring) for a trained encoder.

    The encoder is copied into a fresh float32 model built outside any
    strategy, which is exactly what `export.load_encoder` rebuilds. With the
    pretrainer (`model`), google/ and hf/ are written too.
    """
    import tensorflow as tf
    import tf_keras

    if tf.distribute.has_strategy():
        raise RuntimeError("export_encoder must run outside a strategy scope")
    tf_keras.mixed_precision.set_global_policy("float32")
    fresh = build_encoder(config, initializer=tf_keras.initializers.Zeros())
    fresh.set_weights(encoder.get_weights())
    tf.io.gfile.makedirs(export_dir)
    module = tf.Module()
    # The variables and the serving function only: saving the Keras model too
    # would trace every layer's call (a base model's export took 30 s, now 20).
    module.encoder_variables = list(fresh.variables)
    module.serve = serving_function(fresh)
    tf.saved_model.save(
        module, os.path.join(export_dir, "saved_model"), signatures={"serving_default": module.serve}
    )
    tf.io.gfile.makedirs(os.path.join(export_dir, "checkpoint"))
    tf.train.Checkpoint(encoder=fresh).write(os.path.join(export_dir, "checkpoint", "encoder"))
    del module, fresh  # a base-size copy: not held while the other formats are written
    if model is not None:
        tf.train.Checkpoint(model=model).write(os.path.join(export_dir, "checkpoint", PRETRAINER))
    export_config = {**config, "max_seq_length": seq_length, "step": step}
    _write_json(os.path.join(export_dir, "config.json"), export_config)
    tf.io.gfile.copy(vocab_path, os.path.join(export_dir, "vocab.txt"), overwrite=True)
    if model is not None:
        from components.model_formats.package import write_formats

        write_formats(
            model,
            export_config,
            export_dir,
            vocab_path,
            user_dic=(settings.user_dictionary or None) if settings else None,
            user_csv=(settings.user_csv or None) if settings else None,
            tokenizer_mode=settings.tokenizer_mode if settings else "fast",
        )
    _write_json(os.path.join(export_dir, METRICS_FILE), metrics)
    log.info("exported step %d to %s", step, export_dir)


# ------------------------------------------------------------------ train


def train(
    settings: TrainSettings,
    train_files,
    eval_files,
    checkpoint_dir: str,
    export_dir: str,
    log_dir: str,
    init_checkpoint: str | None = None,
    vocab_path: str | None = None,
) -> dict:
    """Train (or resume) to settings.train_steps, evaluate, export; returns the metrics."""
    import tensorflow as tf
    import tf_keras

    settings, vocab_path, special = resolve_vocab(settings, vocab_path)
    # BertPretrainerV2 hands its whole input dict to the encoder, which warns on every trace.
    warnings.filterwarnings("ignore", message="Input dict contained keys", category=UserWarning)
    tf.keras.utils.set_random_seed(settings.seed)
    strategy = make_strategy()
    gpus = bool(tf.config.list_logical_devices("GPU"))
    if not gpus:
        # On CPU the same seed gives the same model (and the demo's fine-tune the same
        # score): TensorFlow's CPU kernels otherwise reduce in a thread-dependent order.
        # GPUs keep their fast non-deterministic kernels (some ops have no other).
        tf.config.experimental.enable_op_determinism()
    mixed = settings.mixed_precision == "on" or (settings.mixed_precision == "auto" and gpus)
    if mixed and not gpus:
        log.warning("mixed_precision=on without GPUs: float16 on CPU is slow")
    tf_keras.mixed_precision.set_global_policy("mixed_float16" if mixed else "float32")
    # Multi-worker: every worker saves (saving may need collectives), only the
    # chief into the shared folders; the others into a local scratch folder.
    role = worker_role(strategy)
    from pipeline.io.filesystems import scratch_folder

    scratch = scratch_folder(f"trainer-{role}-") if role else None
    folders = Folders(
        checkpoints=checkpoint_dir,
        save=os.path.join(scratch, "checkpoints") if role else checkpoint_dir,
        export=os.path.join(scratch, "export") if role else export_dir,
        logs=os.path.join(log_dir, role) if role else log_dir,
        chief=role is None,
    )
    try:
        return _train(settings, strategy, mixed, folders, train_files, eval_files, init_checkpoint, special)
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)


@dataclasses.dataclass(frozen=True)
class Folders:
    checkpoints: str  # restored from
    save: str  # checkpoints written to (a scratch folder on non-chief workers)
    export: str
    logs: str
    chief: bool


def build_for_training(settings: TrainSettings, mixed: bool):
    """(pretrainer, encoder, learning-rate schedule, optimizer), every variable created;
    call it inside the strategy's scope."""
    model, encoder = build_pretrainer(settings, source_configs(settings))
    model(_dummy_features(settings), training=False)  # creates every variable now
    schedule = learning_rate_schedule(settings)
    return model, encoder, schedule, build_optimizer(settings, schedule, mixed)


def make_train_window(settings: TrainSettings, strategy, model, optimizer, mixed: bool, jit_compile=False):
    """A tf.function(iterator, steps): `steps` training steps in one graph (traced once),
    returning the sums of their stats (`compute_losses`) over replicas.

    jit_compile: each replica's step compiled with XLA (benchmarks/bench_gpu_train.py).
    """
    import tensorflow as tf

    def replica_gradients(features, denominators):
        with tf.GradientTape() as tape:
            outputs = model(_model_inputs(settings, features), training=True)
            stats = compute_losses(settings, features, outputs, denominators)
            loss = stats["loss"]
            if mixed:
                loss = optimizer.get_scaled_loss(loss)
        grads = tape.gradient(loss, model.trainable_variables)
        if mixed:
            grads = optimizer.get_unscaled_gradients(grads)
        return stats, grads

    if jit_compile:
        # XLA compiles the forward and backward pass; the update stays outside, where the
        # strategy sums the gradients over replicas (no cross-replica calls inside XLA).
        replica_gradients = tf.function(replica_gradients, jit_compile=True)

    def replica_train_step(features):
        stats, grads = replica_gradients(features, loss_denominators(settings, features))
        # The ELECTRA generator's unused sentence head gets no gradient.
        pairs = zip(grads, model.trainable_variables, strict=True)
        optimizer.apply_gradients([(g, v) for g, v in pairs if g is not None])
        return stats

    def train_step(iterator):
        per_replica = strategy.run(replica_train_step, args=(next(iterator),))
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}

    @tf.function
    def train_window(iterator, steps):
        totals = {k: tf.constant(0.0) for k in stat_keys(settings)}
        for _ in tf.range(steps):
            stats = train_step(iterator)
            totals = {k: totals[k] + stats[k] for k in totals}
        return totals

    return train_window


def _train(settings, strategy, mixed, folders: Folders, train_files, eval_files, init_checkpoint, special):
    import tensorflow as tf

    started = time.time()
    replicas = strategy.num_replicas_in_sync
    with strategy.scope():
        model, encoder, schedule, optimizer = build_for_training(settings, mixed)
        checkpoint = tf.train.Checkpoint(model=model, optimizer=optimizer)
        manager = tf.train.CheckpointManager(
            checkpoint,
            folders.save,
            max_to_keep=settings.keep_checkpoints,
            step_counter=optimizer.iterations,
        )
        restored = None
        latest = tf.train.latest_checkpoint(folders.checkpoints)
        if latest:
            # Optimizer slots do not exist yet: they are restored when created
            # at the first apply_gradients (deferred restoration), checked below.
            restored = checkpoint.restore(latest)
            restored.assert_existing_objects_matched()
            log.info("restored %s", latest)
        elif init_checkpoint or settings.init_checkpoint:
            warm_start(encoder, init_checkpoint or settings.init_checkpoint, model)
    start_step = int(optimizer.iterations.numpy())
    if start_step:
        print(f"resumed from step {start_step} ({latest})", flush=True)

    config = model_config(settings)
    base = {
        "model_type": settings.model_type,
        "model_size": settings.model_size,
        "strategy": strategy_name(strategy),
        "replicas": replicas,
        "global_batch_size": settings.global_batch_size,
        "mixed_precision": mixed,
        "learning_rate": settings.learning_rate,
        "train_steps": settings.train_steps,
        "resumed_from_step": start_step,
    }
    if start_step >= settings.train_steps:
        print(
            f"already at step {start_step} >= train_steps {settings.train_steps}: exporting only", flush=True
        )
        restored.expect_partial()  # no optimizer step will create (and restore) the slots
        metrics = {
            **(_read_json(os.path.join(folders.checkpoints, METRICS_FILE)) or {}),
            **base,
            "steps": start_step,
        }
        export_encoder(
            encoder,
            config,
            folders.export,
            start_step,
            settings.seq_length,
            settings.vocab_path,
            metrics,
            model,
            settings,
        )
        return metrics

    train_data = inputs.distributed_dataset(
        strategy, train_files, settings, is_training=True, special=special, seed=settings.seed + start_step
    )
    iterator = iter(train_data)

    train_window = make_train_window(settings, strategy, model, optimizer, mixed)

    writer = tf.summary.create_file_writer(os.path.join(folders.logs, "train"))
    history = []
    step = start_step
    timed_examples, timed_seconds = 0, 0.0
    last_saved = start_step
    first_window = True
    from pipeline.io.filesystems import Progress

    progress = Progress("train", "steps")  # the launcher's bar: steps done / total of all phases
    while step < settings.train_steps:
        stop = min(
            settings.train_steps,
            (step // settings.summary_every + 1) * settings.summary_every,
            (step // settings.checkpoint_every + 1) * settings.checkpoint_every,
        )
        n = stop - step
        t0 = time.time()
        totals = train_window(iterator, tf.constant(n))
        seconds = time.time() - t0
        step = int(optimizer.iterations.numpy())
        if folders.chief:
            progress.tick(n)
        if restored is not None:
            restored.assert_consumed()  # every saved value, optimizer slots included, is back
            restored = None
        window = summarize({k: float(v) for k, v in totals.items()}, n)
        rate = n * settings.global_batch_size / seconds
        if not first_window:  # the first window includes tracing
            timed_examples += n * settings.global_batch_size
            timed_seconds += seconds
        first_window = False
        lr = float(schedule(step))
        history.append([step, window["loss"]])
        if step % settings.summary_every == 0 or step == settings.train_steps:
            with writer.as_default(step=step):
                for key, value in window.items():
                    tf.summary.scalar(key, value)
                tf.summary.scalar("learning_rate", lr)
                tf.summary.scalar("examples_per_second", rate)
            accuracy = " ".join(f"{k} {v:.3f}" for k, v in window.items() if k.endswith("_accuracy"))
            print(
                f"step {step}/{settings.train_steps} loss {window['loss']:.4f} {accuracy} "
                f"lr {lr:.3g} {rate:.1f} examples/s",
                flush=True,
            )
        if step % settings.checkpoint_every == 0 or step == settings.train_steps:
            manager.save(checkpoint_number=step)
            last_saved = step
    writer.flush()
    if last_saved != step:
        manager.save(checkpoint_number=step)

    metrics = {
        **base,
        "steps": step,
        "steps_this_run": step - start_step,
        "first_train_loss": history[0][1],
        "last_train_loss": history[-1][1],
        "train_loss_history": history,
        **{f"train_{k}": v for k, v in window.items() if k != "loss"},
        "examples_per_second": (timed_examples / timed_seconds) if timed_seconds else rate,
    }
    metrics.update(evaluate(model, strategy, settings, eval_files, special, folders.logs, step))
    metrics["elapsed_s"] = round(time.time() - started, 1)
    if folders.chief:
        _write_json(os.path.join(folders.checkpoints, METRICS_FILE), metrics)
    export_encoder(
        encoder,
        config,
        folders.export,
        step,
        settings.seq_length,
        settings.vocab_path,
        metrics,
        model,
        settings,
    )
    return metrics


def evaluate(model, strategy, settings: TrainSettings, eval_files, special, log_dir: str, step: int) -> dict:
    """One pass of at most eval_steps global batches; eval_* metrics (also to TensorBoard)."""
    import tensorflow as tf

    if not settings.eval_steps or not eval_files:
        return {}
    data = inputs.distributed_dataset(strategy, eval_files, settings, is_training=False, special=special)

    def replica_eval_step(features):
        outputs = model(_model_inputs(settings, features), training=False)
        return compute_losses(settings, features, outputs)

    @tf.function
    def eval_step(features):
        per_replica = strategy.run(replica_eval_step, args=(features,))
        return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in per_replica.items()}

    totals: dict[str, float] = {}
    steps = 0
    for features in data:
        if steps >= settings.eval_steps:
            break
        for key, value in eval_step(features).items():
            totals[key] = totals.get(key, 0.0) + float(value)
        steps += 1
    if not steps:
        log.warning("no eval batches in %s", eval_files)
        return {"eval_steps": 0}
    result = summarize(totals, steps)
    writer = tf.summary.create_file_writer(os.path.join(log_dir, "eval"))
    with writer.as_default(step=step):
        for key, value in result.items():
            tf.summary.scalar(key, value)
    writer.flush()
    accuracy = " ".join(f"{k} {v:.3f}" for k, v in result.items() if k.endswith("_accuracy"))
    print(f"eval at step {step}: loss {result['loss']:.4f} {accuracy} ({steps} batches)", flush=True)
    return {"eval_steps": steps, **{f"eval_{k}": v for k, v in result.items()}}
