"""CPC code classification (KorPatELECTRA's "CPC acc"): `label<TAB>sentence` lines.

In:  a model folder, the labelled file, the `evaluate:` settings.
Out: test accuracy and macro-F1, a per-label table (precision, recall, F1, support), the
     confusion matrix (rows: gold, columns: predicted) and the majority-class baseline.

[CLS]'s pooled output -> dropout -> dense softmax, as KorPatBERT's classification sample and
`python -m pipeline finetune`; the split is finetune's (a hash of seed and sentence).
Bad lines (no tab, an empty label or sentence) and test labels never seen in training are
counted and skipped.
"""

from __future__ import annotations

from typing import Any

from components.finetune import split_of
from components.tasks.common import (
    NothingUsable,
    Problems,
    first_examples,
    fit_and_predict,
    load_model,
    padded_length,
    settings_report,
)
from pipeline.io import filesystems


def read_labelled(path: str, problems: Problems) -> list[tuple[str, str]]:
    rows = []
    text = filesystems.read_bytes(path).decode("utf-8-sig")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        label, tab, sentence = line.partition("\t")
        if not tab or not label.strip() or not sentence.strip():
            problems.add(path, lineno, "malformed line: expected label<TAB>sentence", line[:60])
            continue
        rows.append((label.strip(), sentence.strip()))
    return rows


def evaluate_classification(model_dir: str, data_path: str, settings) -> dict[str, Any]:
    import numpy as np
    import tf_keras
    from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

    from components.finetune import build_classifier, encode_batch

    problems = Problems()
    rows = read_labelled(data_path, problems)
    train = [(lab, s) for lab, s in rows if split_of(s, settings.seed, 0.0, settings.test_percent) == "train"]
    test = [(lab, s) for lab, s in rows if split_of(s, settings.seed, 0.0, settings.test_percent) == "test"]
    train = first_examples(train, lambda row: row[1], settings)
    labels = sorted({lab for lab, _ in train})
    known = []
    for lab, s in test:
        if lab in labels:
            known.append((lab, s))
        else:
            problems.add(data_path, None, "label not in the training split", lab)
    if len(labels) < 2 or not known:
        raise NothingUsable(
            f"{data_path}: nothing usable: {len(labels)} training labels, {len(known)} test rows"
        )
    label_id = {lab: i for i, lab in enumerate(labels)}
    model = load_model(model_dir, settings.seed)
    sentences = [s for _, s in train] + [s for _, s in known]
    length = padded_length([len(model.tokenizer.pieces(s)) + 2 for s in sentences], settings.max_len)
    x_train = encode_batch(model.tokenizer, [s for _, s in train], length)
    x_test = encode_batch(model.tokenizer, [s for _, s in known], length)
    y_train = np.array([label_id[lab] for lab, _ in train], np.int32)
    y_test = np.array([label_id[lab] for lab, _ in known], np.int32)
    classifier = build_classifier(
        model.encoder, len(labels), float(model.config.get("hidden_dropout_prob", 0.1))
    )
    run = fit_and_predict(
        classifier,
        tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        x_train,
        y_train,
        x_test,
        settings,
    )
    predicted = np.argmax(run["predicted"], axis=-1)
    ids = list(range(len(labels)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_test, predicted, labels=ids, zero_division=0
    )
    majority = np.bincount(y_train).argmax()
    majority_predicted = np.full_like(y_test, majority)
    return {
        "task": "cls",
        "data": data_path,
        "labels": labels,
        "examples": {"train": len(train), "test": len(known)},
        "settings": settings_report(settings),
        "train_loss_per_epoch": run["train_loss_per_epoch"],
        "accuracy": round(float(np.mean(predicted == y_test)), 4),
        "macro_f1": round(
            float(f1_score(y_test, predicted, labels=ids, average="macro", zero_division=0)), 4
        ),
        "per_label": {
            lab: {
                "precision": round(float(precision[i]), 4),
                "recall": round(float(recall[i]), 4),
                "f1": round(float(f1[i]), 4),
                "support": int(support[i]),
            }
            for i, lab in enumerate(labels)
        },
        "confusion_matrix": confusion_matrix(y_test, predicted, labels=ids).tolist(),
        "baseline": {
            "name": "majority class",
            "accuracy": round(float(np.mean(majority_predicted == y_test)), 4),
            "macro_f1": round(
                float(f1_score(y_test, majority_predicted, labels=ids, average="macro", zero_division=0)), 4
            ),
        },
        "throughput": run["throughput"],
        "problems": problems.report(),
    }
