"""Patent NER (KorPatELECTRA's "NER F1"): entity-level precision, recall and F1 by seqeval.

In:  a model folder; a CoNLL-style file (`token<TAB>tag` per line, BIO tags, a blank line
     between sentences; the tokens are joined by single spaces into the sentence) or JSONL
     (`{"text": ..., "entities": [[start, end, tag], ...]}`, character offsets); settings.
Out: precision/recall/F1 overall and per tag, beside the "all O" baseline.

The gold spans are labelled onto the model's own pieces (Mecab-ko with the model's user
dictionary, then WordPiece) through their character offsets: a piece starting an entity is
B-, a later piece inside it I-. Predicted piece tags become character spans again (B- or a
change of tag opens one, I- of the same tag extends it), and gold and predicted spans are
scored as character-level BIO sequences (spaces left out) with seqeval's default
(conlleval) scheme: an entity counts only when its tag and both its boundaries match the
original characters. A gold entity whose edge falls inside a piece is counted
(`entities_not_on_piece_edges`): no prediction can match it exactly.
"""

from __future__ import annotations

import json
import re
from typing import Any

from components.finetune import split_of
from components.tasks.common import (
    NothingUsable,
    Problems,
    encoder_outputs,
    first_examples,
    fit_and_predict,
    load_model,
    pad,
    padded_length,
    settings_report,
)
from pipeline.io import filesystems

TAG = re.compile(r"^(O|[BI]-[A-Za-z_]+)$")


def read_conll(path: str, problems: Problems) -> list[dict]:
    """Sentences of a CoNLL-style file as {"text", "entities", "line"}; a sentence with a bad
    line (no tab, a tag that is not BIO) is skipped whole."""
    text = filesystems.read_bytes(path).decode("utf-8-sig")
    out: list[dict] = []
    tokens: list[tuple[str, str]] = []
    first_line, bad = 0, False

    def close() -> None:
        if tokens and not bad:
            sentence, entities, pos = [], [], 0
            for token, tag in tokens:
                start = pos
                sentence.append(token)
                pos += len(token) + 1
                if tag.startswith("B-") or (tag.startswith("I-") and (not entities or entities[-1][3])):
                    entities.append([start, start + len(token), tag[2:], False])
                elif tag.startswith("I-") and entities[-1][2] == tag[2:]:
                    entities[-1][1] = start + len(token)
                if tag == "O" and entities:
                    entities[-1][3] = True  # closed
            out.append(
                {"text": " ".join(sentence), "entities": [e[:3] for e in entities], "line": first_line}
            )

    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            close()
            tokens, bad = [], False
            continue
        if not tokens and not bad:
            first_line = lineno
        token, tab, tag = line.partition("\t")
        tag = tag.strip()
        if not tab or not token.strip():
            problems.add(path, lineno, "malformed line: expected token<TAB>tag", line[:60])
            bad = True
        elif not TAG.match(tag):
            problems.add(path, lineno, "unknown tag: not O, B-X or I-X", tag[:30])
            bad = True
        else:
            tokens.append((token.strip(), tag))
    close()
    return out


def read_jsonl(path: str, problems: Problems) -> list[dict]:
    out = []
    text = filesystems.read_bytes(path).decode("utf-8-sig")
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            sentence, entities = row["text"], row.get("entities", [])
            ok = isinstance(sentence, str) and all(
                0 <= int(s) < int(e) <= len(sentence) and TAG.match(f"B-{t}") for s, e, t in entities
            )
        except (ValueError, KeyError, TypeError):
            problems.add(path, lineno, "malformed line: expected {text, entities: [[start, end, tag]]}")
            continue
        if not ok:
            problems.add(path, lineno, "entity span outside the text or a bad tag")
            continue
        out.append(
            {"text": sentence, "entities": [[int(s), int(e), t] for s, e, t in entities], "line": lineno}
        )
    return out


def read_ner(path: str, problems: Problems) -> list[dict]:
    return read_jsonl(path, problems) if path.endswith((".jsonl", ".json")) else read_conll(path, problems)


def piece_tags(pieces, entities) -> tuple[list[str], int]:
    """BIO tag per piece from character spans; and how many entities have an edge inside a piece."""
    tags = ["O"] * len(pieces)
    off_edge = 0
    for start, end, tag in entities:
        inside = [i for i, p in enumerate(pieces) if p.start >= start and p.end <= end]
        if not inside or pieces[inside[0]].start != start or pieces[inside[-1]].end != end:
            off_edge += 1
        for k, i in enumerate(inside):
            tags[i] = ("B-" if k == 0 else "I-") + tag
    return tags, off_edge


def spans_from_tags(pieces, tags) -> list[tuple[int, int, str]]:
    """Character spans from predicted piece tags (B- or a new tag opens, I- of the same extends)."""
    spans: list[list] = []
    previous = "O"
    for piece, tag in zip(pieces, tags, strict=False):
        if tag == "O":
            previous = "O"
            continue
        kind = tag[2:]
        if tag.startswith("I-") and previous == kind and spans:
            spans[-1][1] = piece.end
        else:
            spans.append([piece.start, piece.end, kind])
        previous = kind
    return [tuple(s) for s in spans]


def char_bio(text: str, spans) -> list[str]:
    """BIO per non-space character of the text: what seqeval scores."""
    tags = ["O"] * len(text)
    for start, end, tag in spans:
        for i in range(start, end):
            tags[i] = ("B-" if i == start else "I-") + tag
    return [t for ch, t in zip(text, tags, strict=True) if not ch.isspace()]


def evaluate_ner(model_dir: str, data_path: str, settings) -> dict[str, Any]:
    import numpy as np
    import tf_keras
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    problems = Problems()
    rows = read_ner(data_path, problems)
    if not rows:
        raise NothingUsable(f"{data_path}: no usable sentences")
    model = load_model(model_dir, settings.seed)
    kinds = sorted({t for r in rows for _, _, t in r["entities"]})
    tag_names = ["O"] + [f"{p}-{k}" for k in kinds for p in "BI"]
    tag_id = {t: i for i, t in enumerate(tag_names)}
    cls_id, sep_id = model.tokenizer._token_dict["[CLS]"], model.tokenizer._token_dict["[SEP]"]
    room = settings.max_len - 2
    encoded = {"train": [], "test": []}
    off_edge = truncated = 0
    for row in rows:
        pieces = model.offsets.pieces(row["text"])
        if len(pieces) > room:
            truncated += 1
            pieces = pieces[:room]
        tags, missed = piece_tags(pieces, row["entities"])
        off_edge += missed
        split = split_of(row["text"], settings.seed, 0.0, settings.test_percent)
        encoded[split].append((row, pieces, [tag_id[t] for t in tags]))
    encoded["train"] = first_examples(encoded["train"], lambda item: item[0]["text"], settings)
    if not encoded["train"] or not encoded["test"]:
        raise NothingUsable(f"{data_path}: too few sentences for a train and a test split")

    length = padded_length([len(p) + 2 for split in encoded.values() for _, p, _ in split], settings.max_len)

    def inputs(items):
        ids = pad([[cls_id, *(p.id for p in pieces), sep_id] for _, pieces, _ in items], length)
        mask = pad([[1] * (len(pieces) + 2) for _, pieces, _ in items], length)
        return {"input_word_ids": ids, "input_mask": mask, "input_type_ids": np.zeros_like(ids)}

    x_train, x_test = inputs(encoded["train"]), inputs(encoded["test"])
    y_train = pad([[0, *tags, 0] for _, _, tags in encoded["train"]], length)
    # The loss counts the sentence's pieces only, not [CLS], [SEP] or padding.
    weights = pad([[0, *([1] * len(p)), 0] for _, p, _ in encoded["train"]], settings.max_len).astype(
        "float32"
    )

    layer_inputs, outputs = encoder_outputs(model)
    sequence = outputs["sequence_output"]
    sequence = tf_keras.layers.Dropout(float(model.config.get("hidden_dropout_prob", 0.1)))(sequence)
    logits = tf_keras.layers.Dense(len(tag_names), name="ner_logits")(sequence)
    tagger = tf_keras.Model(inputs=layer_inputs, outputs=logits)
    run = fit_and_predict(
        tagger,
        tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        x_train,
        y_train,
        x_test,
        settings,
        sample_weight=weights,
    )
    predicted = np.argmax(run["predicted"], axis=-1)
    gold, guessed, all_o = [], [], []
    for (row, pieces, _), ids in zip(encoded["test"], predicted, strict=True):
        tags = [tag_names[i] for i in ids[1 : len(pieces) + 1]]
        gold.append(char_bio(row["text"], row["entities"]))
        guessed.append(char_bio(row["text"], spans_from_tags(pieces, tags)))
        all_o.append(["O"] * len(gold[-1]))
    per_tag = classification_report(gold, guessed, output_dict=True, zero_division=0)
    return {
        "task": "ner",
        "data": data_path,
        "tags": kinds,
        "examples": {"train": len(encoded["train"]), "test": len(encoded["test"])},
        "settings": settings_report(settings),
        "train_loss_per_epoch": run["train_loss_per_epoch"],
        "precision": round(float(precision_score(gold, guessed, zero_division=0)), 4),
        "recall": round(float(recall_score(gold, guessed, zero_division=0)), 4),
        "f1": round(float(f1_score(gold, guessed, zero_division=0)), 4),
        "per_tag": {
            k: {m: round(float(v[m]), 4) if m != "support" else int(v[m]) for m in v}
            for k, v in per_tag.items()
            if k in kinds
        },
        "baseline": {"name": "all O", "f1": round(float(f1_score(gold, all_o, zero_division=0)), 4)},
        "entities_not_on_piece_edges": off_edge,
        "sentences_truncated": truncated,
        "throughput": run["throughput"],
        "problems": problems.report(),
    }
