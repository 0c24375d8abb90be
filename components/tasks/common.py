"""What the three downstream tasks share: the model folder's encoder and tokenizer, the seeded
training loop, the split, and the record of bad input lines.

Any model folder loads: an export of this pipeline, a Google-layout BERT folder (KorPatBERT's)
or an hf/ folder (`components.model_formats.checkpoint.load_encoder`); its text is tokenised
as its pretraining text was (its vocab and the user dictionary it carries, Mecab-ko then
WordPiece), with character offsets (`pipeline.text.token_offsets`).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pipeline.io import filesystems

# How many bad inputs a report lists one by one (all are counted).
LISTED_PROBLEMS = 20


class NothingUsable(ValueError):
    """The data left nothing to train or evaluate on (the command exits 2)."""


@dataclass
class Problems:
    """Bad inputs, each counted by reason and located by file and line; none stops the task."""

    counts: Counter = field(default_factory=Counter)
    listed: list[str] = field(default_factory=list)

    def add(self, path: str, line: int | None, reason: str, detail: str = "") -> None:
        self.counts[reason] += 1
        if len(self.listed) < LISTED_PROBLEMS:
            where = f"{path}:{line}" if line is not None else path
            self.listed.append(f"{where}: {reason}" + (f" ({detail})" if detail else ""))

    def report(self) -> dict[str, Any]:
        return {"skipped": dict(sorted(self.counts.items())), "first": self.listed}


@dataclass
class LoadedModel:
    encoder: Any
    config: dict[str, Any]
    tokenizer: Any  # pipeline.text.tokenizer.Tokenizer
    offsets: Any  # pipeline.text.token_offsets.OffsetTokenizer
    folder: str

    @property
    def vocab_size(self) -> int:
        return int(self.config.get("vocab_size") or len(self.tokenizer._token_dict))


def model_tokenizer_files(model_dir: str) -> tuple[str, str | None]:
    """(vocab, user dictionary or None) a model folder's text is tokenised with."""
    from components.model_formats.checkpoint import find_source
    from pipeline.text.tokenizer import model_tokenizer

    try:
        found = model_tokenizer(model_dir)
        return found["vocab"], found["user_dictionary"]
    except ValueError:  # a Google-layout folder: its *vocab*.txt, a user.dic when it has one
        vocab = find_source(model_dir).vocab
        if not vocab:
            raise ValueError(f"{model_dir}: no vocab.txt (or *vocab*.txt) beside the model") from None
        user_dic = filesystems.join(model_dir, "user.dic")
        return vocab, user_dic if filesystems.exists(user_dic) else None


def load_model(model_dir: str, seed: int) -> LoadedModel:
    """The encoder (weights restored) and the tokenizer of any model folder, seeded."""
    import tensorflow as tf

    from components.model_formats.checkpoint import load_encoder
    from pipeline.text.token_offsets import OffsetTokenizer
    from pipeline.text.tokenizer import Tokenizer

    # Same command, same seed, same machine: the same scores (TensorFlow's CPU kernels
    # otherwise reduce in a thread-dependent order).
    tf.config.experimental.enable_op_determinism()
    vocab, user_dic = model_tokenizer_files(model_dir)
    tokenizer = Tokenizer(vocab, cased=True, mode="fast", user_dictionary_path=user_dic)
    tf.keras.utils.set_random_seed(seed)
    # Without AutoGraph: converting the encoder's layers while they are built takes 20-30 s on
    # two cores and changes nothing (their Python branches depend on the config only); the
    # outputs are the same, bit for bit.
    encoder, config = tf.autograph.experimental.do_not_convert(load_encoder)(model_dir)
    return LoadedModel(encoder, config, tokenizer, OffsetTokenizer(tokenizer), model_dir)


def encoder_inputs():
    import tf_keras

    return {
        name: tf_keras.layers.Input(shape=(None,), dtype="int32", name=name)
        for name in ("input_word_ids", "input_mask", "input_type_ids")
    }


def encoder_outputs(model: LoadedModel):
    """(Keras inputs, the encoder's outputs on them), built without AutoGraph (see load_model)."""
    import tensorflow as tf

    inputs = encoder_inputs()
    return inputs, tf.autograph.experimental.do_not_convert(model.encoder)(inputs)


def first_examples(items: list, text_of, settings) -> list:
    """At most settings.max_train_examples items (0: all), picked by a hash of (seed, text):
    the same ones whatever the file order."""
    if not settings.max_train_examples or len(items) <= settings.max_train_examples:
        return items
    import hashlib

    def key(item) -> bytes:
        return hashlib.sha256(f"{settings.seed}\x00{text_of(item)}".encode()).digest()

    chosen = set(map(id, sorted(items, key=key)[: settings.max_train_examples]))
    return [item for item in items if id(item) in chosen]


def fit_and_predict(model, losses, x_train, y_train, x_test, settings, sample_weight=None) -> dict[str, Any]:
    """Adam at settings.learning_rate, settings.epochs over shuffled batches, then predict the
    test inputs; returns the predictions, the loss per epoch and throughput figures.

    Every batch has one shape (see `padded_length`), so Keras traces its train step once, and
    without AutoGraph (`trace_without_autograph`): on a small encoder tracing can cost more than
    the epochs themselves."""
    import tensorflow as tf
    import tf_keras

    tf.keras.utils.set_random_seed(settings.seed)
    model.compile(optimizer=tf_keras.optimizers.Adam(learning_rate=settings.learning_rate), loss=losses)
    trace_without_autograph(model)
    n_train = len(next(iter(x_train.values())))
    started = time.perf_counter()
    history = model.fit(
        x_train,
        y_train,
        sample_weight=sample_weight,
        batch_size=settings.batch_size,
        epochs=settings.epochs,
        shuffle=True,
        verbose=0,
    )
    train_seconds = time.perf_counter() - started
    n_test = len(next(iter(x_test.values())))
    started = time.perf_counter()
    predicted = model.predict(x_test, batch_size=settings.batch_size, verbose=0)
    predict_seconds = time.perf_counter() - started
    return {
        "predicted": predicted,
        "train_loss_per_epoch": [round(float(v), 4) for v in history.history["loss"]],
        "throughput": {
            "train_examples_per_second": round(n_train * settings.epochs / max(train_seconds, 1e-9), 1),
            "predict_examples_per_second": round(n_test / max(predict_seconds, 1e-9), 1),
            "train_seconds": round(train_seconds, 2),
            "predict_seconds": round(predict_seconds, 2),
        },
    }


def trace_without_autograph(model) -> None:
    """Make a compiled Keras model's train, test and predict steps tf.functions without AutoGraph.

    Keras traces them with AutoGraph, which converts every layer of the encoder again (as
    building it would, see load_model): ~25 s of a demo task's fit on two cores, more than its
    epochs. The layers' Python branches depend on the config only, so the graphs are the same:
    the same losses and scores, bit for bit. fit, evaluate and predict reuse these functions
    until the next compile."""
    import tensorflow as tf

    for attribute, make in (
        ("train_function", model.make_train_function),
        ("test_function", model.make_test_function),
        ("predict_function", model.make_predict_function),
    ):
        traced = make()
        setattr(model, attribute, tf.function(traced.python_function, autograph=False, reduce_retracing=True))


def padded_length(lengths, max_len: int) -> int:
    """The inputs' length: the longest example rounded up to 16, at most max_len (most patent
    sentences are far shorter than max_len)."""
    return min(max_len, -(-max(lengths) // 16) * 16)


def pad(rows: list[list[int]], length: int, value: int = 0):
    import numpy as np

    out = np.full((len(rows), length), value, np.int32)
    for i, row in enumerate(rows):
        out[i, : len(row)] = row[:length]
    return out


def settings_report(settings) -> dict[str, Any]:
    return {
        k: getattr(settings, k)
        for k in (
            "learning_rate",
            "epochs",
            "batch_size",
            "max_len",
            "stride",
            "seed",
            "test_percent",
            "max_train_examples",
        )
    }
