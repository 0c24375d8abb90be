"""PatQuAD-style extractive QA (KorPatELECTRA's "QA EM / F1") over SQuAD v1.1 JSON.

In:  a model folder, a SQuAD v1.1 file, settings (max_len, stride).
Out: EM and F1 (SQuAD v1.1's definitions, `squad_v1_ko` normalisation below) beside the
     baseline that answers with the paragraph's first sentence.

Each question is packed `[CLS] question [SEP] window [SEP]` over windows of the context's
pieces that start every `stride` pieces, so a context longer than max_len is read in
overlapping windows; a window that does not hold the whole answer is trained to point at
[CLS]. The best start/end (end >= start, at most MAX_ANSWER_PIECES pieces) over all windows
gives the answer, cut from the context by its pieces' character offsets.

Normalisation `squad_v1_ko`: SQuAD v1.1's normalize_answer (lower-case, drop punctuation,
drop English articles, collapse whitespace) with every Unicode punctuation character dropped,
not only ASCII's. Lower-casing leaves Hangul as it is; particles are not stripped (a rule
that strips 이/가/은/는 also cuts nouns such as 높이 or 길이), so a predicted span that keeps a
particle loses EM and, on that token, F1, as in KorQuAD.

Skipped and counted: questions whose answer text is not at answer_start, questions without
answers, and training questions whose answer fits in no window.
"""

from __future__ import annotations

import json
import re
import string
import unicodedata
from collections import Counter
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

NORMALISATION = "squad_v1_ko"
MAX_QUESTION_PIECES = 64
MAX_ANSWER_PIECES = 30
TOP_K = 20


def normalize_answer(s: str) -> str:
    """SQuAD v1.1's normalize_answer with Unicode punctuation (module docstring)."""
    s = s.lower()
    s = "".join(
        ch for ch in s if ch not in string.punctuation and not unicodedata.category(ch).startswith("P")
    )
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def f1_score(prediction: str, ground_truth: str) -> float:
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = Counter(prediction_tokens) & Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(ground_truth_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction: str, ground_truth: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(ground_truth)


def squad_scores(predictions: dict[str, str], answers: dict[str, list[str]]) -> dict[str, float]:
    """EM and F1 in percent, max over each question's answers, as SQuAD v1.1's evaluate()."""
    em = f1 = 0.0
    for qid, truths in answers.items():
        prediction = predictions.get(qid, "")
        em += max(float(exact_match_score(prediction, t)) for t in truths)
        f1 += max(f1_score(prediction, t) for t in truths)
    n = max(len(answers), 1)
    return {"exact_match": round(100.0 * em / n, 2), "f1": round(100.0 * f1 / n, 2)}


def read_squad(path: str, problems: Problems) -> list[dict]:
    raw = filesystems.read_bytes(path).decode("utf-8-sig")
    try:
        articles = json.loads(raw)["data"]
    except (ValueError, KeyError, TypeError) as e:
        problems.add(path, None, "not SQuAD v1.1 JSON", str(e)[:80])
        return []

    def line_of(qid: str) -> int | None:
        at = raw.find(json.dumps(qid, ensure_ascii=False))
        return raw.count("\n", 0, at) + 1 if at >= 0 else None

    out = []
    for article in articles:
        for paragraph in article.get("paragraphs", []):
            context = paragraph.get("context", "")
            for qa in paragraph.get("qas", []):
                qid = str(qa.get("id", ""))
                answers = [a for a in qa.get("answers", []) if isinstance(a, dict)]
                good = [
                    a
                    for a in answers
                    if isinstance(a.get("answer_start"), int)
                    and a.get("text")
                    and context[a["answer_start"] : a["answer_start"] + len(a["text"])] == a["text"]
                ]
                if not answers or not qa.get("question"):
                    problems.add(path, line_of(qid), "question without text or answers", qid)
                elif len(good) < len(answers):
                    problems.add(
                        path, line_of(qid), "answer text does not match the context at answer_start", qid
                    )
                else:
                    out.append({"id": qid, "question": qa["question"], "context": context, "answers": good})
    return out


def windows(n_pieces: int, room: int, stride: int) -> list[tuple[int, int]]:
    """(start, stop) of each window over a context's pieces: every `stride`, to the end."""
    out, start = [], 0
    while True:
        out.append((start, min(n_pieces, start + room)))
        if start + room >= n_pieces:
            return out
        start += stride


def evaluate_qa(model_dir: str, data_path: str, settings) -> dict[str, Any]:
    import numpy as np
    import tf_keras

    from pipeline.text.sentences import split_sentences

    problems = Problems()
    questions = read_squad(data_path, problems)
    if not questions:
        raise NothingUsable(f"{data_path}: no usable questions")
    model = load_model(model_dir, settings.seed)
    d = model.tokenizer._token_dict
    cls_id, sep_id = d["[CLS]"], d["[SEP]"]
    features = {"train": [], "test": []}  # (question index, window start, ids, segments, start, end)
    context_pieces: dict[str, list] = {}
    usable = {"train": [], "test": []}
    train_split = [
        qi
        for qi, q in enumerate(questions)
        if split_of(q["context"], settings.seed, 0.0, settings.test_percent) == "train"
    ]
    allowed = set(first_examples(train_split, lambda qi: questions[qi]["id"], settings))
    for qi, q in enumerate(questions):
        split = split_of(q["context"], settings.seed, 0.0, settings.test_percent)
        pieces = context_pieces.setdefault(q["context"], model.offsets.pieces(q["context"]))
        # The question never takes more than half of the input, so a window always has room.
        q_ids = [p.id for p in model.offsets.pieces(q["question"])][
            : min(MAX_QUESTION_PIECES, settings.max_len // 2)
        ]
        room = settings.max_len - len(q_ids) - 3
        answer = q["answers"][0]
        a_start, a_end = answer["answer_start"], answer["answer_start"] + len(answer["text"])
        covering = [i for i, p in enumerate(pieces) if p.end > a_start and p.start < a_end]
        held = False
        rows = []
        # A stride longer than the window would skip pieces.
        for w_start, w_stop in windows(len(pieces), room, min(settings.stride, room)):
            offset = len(q_ids) + 2 - w_start
            ids = [cls_id, *q_ids, sep_id, *(p.id for p in pieces[w_start:w_stop]), sep_id]
            segments = [0] * (len(q_ids) + 2) + [1] * (w_stop - w_start + 1)
            start = end = 0
            if covering and w_start <= covering[0] and covering[-1] < w_stop:
                start, end, held = covering[0] + offset, covering[-1] + offset, True
            rows.append((qi, w_start, ids, segments, start, end))
        if split == "train" and qi not in allowed:
            continue
        if split == "train" and not held:
            problems.add(data_path, None, "answer fits in no window", q["id"])
            continue
        features[split] += rows
        usable[split].append(qi)
    if not features["train"] or not usable["test"]:
        raise NothingUsable(f"{data_path}: too few questions for a train and a test split")

    length = padded_length([len(r[2]) for split in features.values() for r in split], settings.max_len)

    def inputs(rows):
        ids = pad([r[2] for r in rows], length)
        return {
            "input_word_ids": ids,
            "input_mask": pad([[1] * len(r[2]) for r in rows], length),
            "input_type_ids": pad([r[3] for r in rows], length),
        }

    layer_inputs, outputs = encoder_outputs(model)
    sequence = outputs["sequence_output"]
    logits = tf_keras.layers.Dense(2, name="span_logits")(sequence)
    # Padding can never be chosen: its logits are pushed far down.
    hidden = (
        1.0
        - tf_keras.layers.Lambda(lambda m: tf_keras.backend.cast(m, "float32"))(layer_inputs["input_mask"])
    ) * -1e4
    start_logits = tf_keras.layers.Add(name="start")([logits[:, :, 0], hidden])
    end_logits = tf_keras.layers.Add(name="end")([logits[:, :, 1], hidden])
    reader = tf_keras.Model(inputs=layer_inputs, outputs={"start": start_logits, "end": end_logits})
    y_train = {
        "start": np.array([r[4] for r in features["train"]], np.int32),
        "end": np.array([r[5] for r in features["train"]], np.int32),
    }
    loss = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    run = fit_and_predict(
        reader,
        {"start": loss, "end": loss},
        inputs(features["train"]),
        y_train,
        inputs(features["test"]),
        settings,
    )
    best: dict[int, tuple[float, str]] = {}
    for row, starts, ends in zip(
        features["test"], run["predicted"]["start"], run["predicted"]["end"], strict=True
    ):
        qi, w_start, ids = row[0], row[1], row[2]
        q = questions[qi]
        pieces = context_pieces[q["context"]]
        first = row[3].index(1)  # the first context piece
        last = len(ids) - 2  # the last context piece (before the final [SEP])
        top_starts = [i for i in np.argsort(-starts[: last + 1])[:TOP_K] if first <= i <= last]
        top_ends = [i for i in np.argsort(-ends[: last + 1])[:TOP_K] if first <= i <= last]
        for s in top_starts:
            for e in top_ends:
                if s <= e < s + MAX_ANSWER_PIECES:
                    score = float(starts[s] + ends[e])
                    if qi not in best or score > best[qi][0]:
                        ps, pe = pieces[w_start + s - first], pieces[w_start + e - first]
                        best[qi] = (score, q["context"][ps.start : pe.end])
    predictions = {questions[qi]["id"]: best.get(qi, (0.0, ""))[1] for qi in usable["test"]}
    truths = {questions[qi]["id"]: [a["text"] for a in questions[qi]["answers"]] for qi in usable["test"]}
    first_sentences = {}
    for qi in usable["test"]:
        sentences = split_sentences(questions[qi]["context"])
        first_sentences[questions[qi]["id"]] = sentences[0] if sentences else questions[qi]["context"]
    return {
        "task": "qa",
        "data": data_path,
        "normalisation": NORMALISATION,
        "examples": {
            "train": len(usable["train"]),
            "test": len(usable["test"]),
            "train_windows": len(features["train"]),
            "test_windows": len(features["test"]),
        },
        "settings": settings_report(settings),
        "train_loss_per_epoch": run["train_loss_per_epoch"],
        **squad_scores(predictions, truths),
        "baseline": {"name": "first sentence of the paragraph", **squad_scores(first_sentences, truths)},
        "predictions_sample": dict(list(predictions.items())[:10]),
        "throughput": run["throughput"],
        "problems": problems.report(),
    }
