"""`python -m pipeline finetune`: the downstream check of a pretrained encoder.

Fine-tunes an export of the train stage (or any folder in its layout:
config.json with KorPatBERT's keys, checkpoint/, vocab.txt) on labelled
sentences, `label<TAB>sentence` per line as in KorPatBERT's lm_test_data.tsv,
the way KorPatBERT's classification sample does: [CLS]'s pooled output ->
dropout -> dense softmax, Adam at 3e-5, sentences tokenised exactly as in
pretraining (Mecab-ko with the pipeline's user dictionary, then WordPiece).

The split into train/dev/test is by a hash of (seed, sentence), so it does not
depend on file order and the same sentence never lands in two splits. The
report gives test accuracy beside the majority-class baseline, per-label
accuracy, and the loss per epoch.

The demo's data/demo/cpc_sentences.tsv (scripts/build_cpc_sentences.py) labels
the demo publications' sentences with their CPC section (A-H). Sentences of
one publication can fall into different splits, as in KorPatBERT's sample:
the figure measures sentence classification, not generalisation to unseen
publications.
"""

from __future__ import annotations

import hashlib
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pipeline.config import PipelineConfig, resolve_path
from pipeline.io import filesystems

SPLITS = ("train", "dev", "test")


def read_labelled(path: str) -> list[tuple[str, str]]:
    """(label, sentence) pairs; raises ValueError naming the file and line of a bad one."""
    rows = []
    text = filesystems.read_bytes(path).decode("utf-8-sig")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        label, tab, sentence = line.partition("\t")
        if not tab or not label.strip() or not sentence.strip():
            raise ValueError(f"{path}:{lineno}: expected `label<TAB>sentence`, got {line[:80]!r}")
        rows.append((label.strip(), sentence.strip()))
    if not rows:
        raise ValueError(f"{path}: no labelled sentences")
    return rows


def split_of(sentence: str, seed: int, dev_percent: float, test_percent: float) -> str:
    """train, dev or test, from a hash of (seed, sentence): stable whatever the file order."""
    digest = hashlib.sha256(f"{seed}\x00{sentence}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * 100.0
    if point < test_percent:
        return "test"
    if point < test_percent + dev_percent:
        return "dev"
    return "train"


def encode_batch(tokenizer, sentences: Sequence[str], max_len: int) -> dict[str, Any]:
    """Model Garden inputs (input_word_ids, input_mask, input_type_ids) as int32 arrays."""
    import numpy as np

    ids = np.zeros((len(sentences), max_len), np.int32)
    mask = np.zeros_like(ids)
    types = np.zeros_like(ids)
    for i, sentence in enumerate(sentences):
        token_ids, segments = tokenizer.encode(sentence, max_len=max_len)
        length = min(len(tokenizer.tokenize(sentence)), max_len)
        ids[i] = token_ids[:max_len]
        types[i] = segments[:max_len]
        mask[i, :length] = 1
    return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": types}


def user_dictionary(config: PipelineConfig, model_dir: str) -> str | None:
    """The user.dic the model's pretraining text was analysed with: the copy the model folder
    carries (an export always does when one was used). Never the current output root's: a
    model from another run was trained on its own dictionary's morphemes."""
    path = filesystems.join(model_dir, "user.dic")
    return path if filesystems.exists(path) and "://" not in path else None


def build_classifier(encoder, num_labels: int, dropout: float):
    import tf_keras

    inputs = {
        name: tf_keras.layers.Input(shape=(None,), dtype="int32", name=name)
        for name in ("input_word_ids", "input_mask", "input_type_ids")
    }
    pooled = encoder(inputs)["pooled_output"]
    pooled = tf_keras.layers.Dropout(dropout)(pooled)
    logits = tf_keras.layers.Dense(num_labels, name="cpc_logits")(pooled)
    return tf_keras.Model(inputs=inputs, outputs=logits)


def finetune(
    config: PipelineConfig,
    export_dir: str,
    data_path: str,
    out_dir: str | None = None,
    init: str | None = None,
) -> dict[str, Any]:
    """Fine-tune and evaluate; returns (and writes, when out_dir is set) the report.

    init: fine-tune the model in this folder instead of an export of this pipeline (a
    Google-layout BERT folder such as KorPatBERT's, or an hf/ folder); its vocab and, when
    present, its user.dic tokenise the sentences."""
    import numpy as np
    import tensorflow as tf
    import tf_keras

    from components.model_formats.checkpoint import find_source
    from components.model_formats.checkpoint import load_encoder as load_model
    from components.tasks.common import trace_without_autograph
    from components.trainer.export import load_encoder
    from pipeline.text.tokenizer import Tokenizer

    # Same command, same seed, same machine: the same scores (TensorFlow's CPU kernels
    # otherwise reduce in a thread-dependent order).
    tf.keras.utils.set_random_seed(config.finetune.seed)
    tf.config.experimental.enable_op_determinism()

    c = config.finetune
    started = time.time()
    rows = read_labelled(data_path)
    labels = sorted({label for label, _ in rows})
    if len(labels) < 2:
        raise ValueError(f"{data_path}: needs at least two labels, found {labels}")
    label_id = {label: i for i, label in enumerate(labels)}
    splits: dict[str, list[tuple[str, str]]] = {s: [] for s in SPLITS}
    for label, sentence in rows:
        splits[split_of(sentence, c.seed, c.dev_percent, c.test_percent)].append((label, sentence))
    for name in ("train", "test"):
        if not splits[name]:
            raise ValueError(f"{data_path}: the {name} split is empty; use more sentences")

    model_dir = init or export_dir
    vocab = filesystems.join(export_dir, "vocab.txt")
    if init:
        vocab = find_source(init).vocab
        if not vocab:
            raise ValueError(f"{init}: no vocab.txt (or *vocab*.txt) beside the model")
    tokenizer = Tokenizer(
        vocab,
        cased=True,
        mode="fast",
        user_dictionary_path=user_dictionary(config, model_dir),
    )
    data = {}
    for name, pairs in splits.items():
        data[name] = (
            encode_batch(tokenizer, [s for _, s in pairs], c.max_len),
            np.array([label_id[label] for label, _ in pairs], np.int32),
        )

    tf.keras.utils.set_random_seed(c.seed)
    encoder, encoder_config = load_model(init) if init else load_encoder(export_dir)
    model = build_classifier(encoder, len(labels), float(encoder_config.get("hidden_dropout_prob", 0.1)))
    model.compile(
        optimizer=tf_keras.optimizers.Adam(learning_rate=c.learning_rate),
        loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    trace_without_autograph(model)  # the same run bit for bit, ~30 s sooner on the demo
    x_train, y_train = data["train"]
    history = model.fit(
        x_train,
        y_train,
        batch_size=c.batch_size,
        epochs=c.epochs,
        shuffle=True,
        validation_data=data["dev"] if len(data["dev"][1]) else None,
        verbose=2,
    )
    x_test, y_test = data["test"]
    predicted = np.argmax(model.predict(x_test, batch_size=c.batch_size, verbose=0), axis=-1)
    majority = Counter(y_train.tolist()).most_common(1)[0][0]
    per_label = {}
    for label, i in label_id.items():
        chosen = y_test == i
        if chosen.any():
            per_label[label] = round(float(np.mean(predicted[chosen] == i)), 4)
    report = {
        "export": model_dir,
        "data": data_path,
        "labels": labels,
        "examples": {name: len(pairs) for name, pairs in splits.items()},
        "settings": {k: getattr(c, k) for k in ("max_len", "epochs", "batch_size", "learning_rate", "seed")},
        "train_loss_per_epoch": [round(float(v), 4) for v in history.history["loss"]],
        "dev_accuracy_per_epoch": [round(float(v), 4) for v in history.history.get("val_accuracy", [])],
        "test_accuracy": round(float(np.mean(predicted == y_test)), 4),
        "majority_baseline": round(float(np.mean(y_test == majority)), 4),
        "test_accuracy_per_label": per_label,
        "encoder": {
            k: encoder_config[k]
            for k in ("model_type", "num_hidden_layers", "hidden_size")
            if k in encoder_config
        },
        "seconds": round(time.time() - started, 1),
    }
    if out_dir:
        filesystems.write_json(filesystems.join(out_dir, "report.json"), report)
    return report


def finetune_command(
    config: PipelineConfig,
    export_dir: str | None,
    data_path: str | None,
    out_dir: str | None,
    init: str | None = None,
) -> int:
    from pipeline.layout import export_for

    try:
        export_dir = export_dir or init or export_for(config, config.finetune.model)
    except RuntimeError as e:  # no export yet: a usage error
        print(f"error: {e}", file=sys.stderr)
        return 2
    data_path = data_path or resolve_path(config, config.finetune.data)
    out_dir = out_dir or filesystems.join(
        resolve_path(config, config.output_root), "finetune", config.finetune.model
    )
    wanted = [(data_path, "data")]
    wanted += [(init, "model folder")] if init else [(filesystems.join(export_dir, "config.json"), "export")]
    for path, what in wanted:
        if not filesystems.exists(path):
            print(f"error: {what} not found: {path}", file=sys.stderr)
            return 2
    try:
        report = finetune(config, export_dir, data_path, out_dir, init=init)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"[finetune] {report['encoder'].get('model_type', '?')} from {export_dir}\n"
        f"  examples       train {report['examples']['train']}, dev {report['examples']['dev']}, "
        f"test {report['examples']['test']} ({len(report['labels'])} labels: {' '.join(report['labels'])})\n"
        f"  train loss     {' -> '.join(str(v) for v in report['train_loss_per_epoch'])}\n"
        f"  test accuracy  {report['test_accuracy']:.4f} (majority baseline {report['majority_baseline']:.4f})\n"
        f"  report         {filesystems.join(out_dir, 'report.json')}",
    )
    return 0
