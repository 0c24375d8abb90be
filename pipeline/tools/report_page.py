"""The run report's page: `render(figures) -> HTML`, one section per part of the run.

In: the dict `pipeline.tools.report.collect` returns (JSON-able; a section is
None when its stage has not run). Out: one self-contained HTML document (inline
SVG charts from `html_page`, no external reference). Pure: no files.
"""

from __future__ import annotations

from pipeline import layout
from pipeline.tools import html_page as page
from pipeline.tools.tfrecord_stats import figures_html

CPC_SECTIONS = tuple("ABCDEFGH")
# Training scalars shown as curves (components/trainer/train.py writes them).
CURVES = (
    ("loss", "Loss", False),
    ("mlm_accuracy", "MLM accuracy", True),
    ("nsp_accuracy", "NSP accuracy", True),
    ("discriminator_accuracy", "Discriminator accuracy", True),
)


def _not_run(stage: str) -> str:
    return page.missing(f"not run yet: stage {stage} has no manifest under this output root")


def _stages_html(data: dict) -> str:
    rows = []
    for stage, info in data["stages"].items():
        if info is None:
            rows.append([stage, "not run yet", page.MISSING, page.MISSING, page.MISSING, ""])
            continue
        versions = ", ".join(f"{k} {v}" for k, v in sorted((info.get("versions") or {}).items()))
        runner = info.get("runner") or page.MISSING
        if info.get("job"):  # fused: the seconds are the whole job's
            runner += f", one job with {len(info['job']['stages']) - 1} other stages"
        rows.append(
            [
                stage,
                "done",
                (info.get("finished_at") or page.MISSING).replace("T", " ").rstrip("Z"),
                page.fmt_float(info.get("seconds"), 1),
                runner,
                versions,
            ]
        )
    return page.note(f"output root: {data['output_root']}") + page.table(
        ["stage", "state", "finished (UTC)", "seconds", "runner", "rule versions"],
        rows,
        [False, False, False, True, False, False],
    )


def _corpus_html(data: dict) -> str:
    corpus, published = data["corpus"], data["korpatbert"]
    if corpus is None:
        return _not_run(layout.CLEAN)
    by_cpc = corpus["documents_by_cpc"]
    sections = list(CPC_SECTIONS) + sorted(set(by_cpc) - set(CPC_SECTIONS))
    total_run = corpus["documents"]
    pub_cpc = published["documents_by_cpc"]
    rows = [["문서 수 (documents) by CPC section", "", ""]]
    classes = [""]
    for s in sections:
        rows.append([f"CPC {s}", by_cpc.get(s, 0), page.fmt_int(pub_cpc.get(s))])
        classes.append("sub")
    rows += [
        ["문서 수 (documents), total", page.fmt_int(total_run), page.fmt_int(published["documents"])],
        ["문장 수 (sentences)", page.fmt_int(corpus["sentences"]), page.fmt_int(published["sentences"])],
        ["형태소 수 (morphemes)", page.fmt_int(corpus["morphemes"]), page.fmt_int(published["morphemes"])],
        [
            "용량 (corpus size)",
            f"{page.fmt_bytes(corpus['size_bytes'])} ({page.fmt_int(corpus['size_bytes'])} bytes)",
            page.fmt_bytes(published["size_bytes"]),
        ],
    ]
    classes += ["total", "", "", ""]
    table = page.table(["", "this run", "KorPatBERT (published)"], rows, [False, True, True], classes)
    counted = sum(by_cpc.values())
    notes = page.note(
        "Documents: clean's output (after deduplication), by the CPC section ingest read; "
        "sentences: clean's sentences_written; morphemes: morph's counter; size: clean's text/ files "
        f"(Google BERT's layout). KorPatBERT column: {data.get('korpatbert_source', 'KorPatBERT')}; — where no figure is quoted."
    )
    if total_run is not None and counted != total_run:
        notes += page.missing(
            f"the sentence table holds {counted:,} documents, the manifest says {total_run:,}"
        )
    chart = page.bar_chart(
        sections,
        {"this run": [by_cpc.get(s, 0) for s in sections]},
        title="Documents by CPC section (this run)",
        y_label="documents",
    )
    if any(s in pub_cpc for s in sections) and counted:
        quoted = [s for s in sections if s in pub_cpc]
        pub_total = sum(pub_cpc.values())
        chart += page.bar_chart(
            quoted,
            {
                "this run": [
                    by_cpc.get(s, 0) / max(1, sum(by_cpc.get(q, 0) for q in quoted)) for s in quoted
                ],
                "KorPatBERT": [pub_cpc[s] / pub_total for s in quoted],
            },
            title=f"Share of {' + '.join(quoted)} (the sections quoted)",
            percent=True,
            width=420,
        )
    return page.grid(table + notes, chart)


def _drops_html(data: dict) -> str:
    found = data["drops"]
    if found is None:
        return page.missing("not run yet: no stage has a manifest under this output root")
    rows, bars = [], []
    for stage, counters in found.items():
        for i, c in enumerate(counters):
            is_reason = any(c["counter"].startswith(o["counter"] + "_") for o in counters if o["total"])
            rows.append([stage if i == 0 else "", ("↳ " if is_reason else "") + c["counter"], c["count"]])
            if c["count"] and not c["total"]:
                bars.append((f"{stage}: {c['counter']}", c["count"]))
    classes = None
    table = page.table(["stage", "counter (reason)", "count"], rows, [False, False, True], classes)
    chart = (
        page.hbar_chart(
            [b[0] for b in bars],
            [b[1] for b in bars],
            title="Drops by stage and reason (non-zero)",
            width=620,
            label_width=330,
        )
        if bars
        else page.note("nothing was dropped")
    )
    missing = [s for s in data["stages"] if data["stages"][s] is None]
    extra = page.note(f"not run yet: {', '.join(missing)}") if missing else ""
    return page.grid(table, chart) + extra


def _nouns_html(data: dict) -> str:
    nouns = data["nouns"]
    if nouns is None:
        return _not_run(layout.NOUNS)
    summary = page.table(
        ["", "count"],
        [
            ["eojeols read", page.fmt_int(nouns["eojeols_in"])],
            ["distinct eojeols", page.fmt_int(nouns["distinct_eojeols"])],
            ["nouns written", page.fmt_int(nouns["nouns_written"])],
            ["compounds written", page.fmt_int(nouns["compounds_written"])],
        ],
        [False, True],
    )
    compounds = (
        page.table(
            ["복합명사 (compound)", "parts", "frequency"],
            [[r["noun"], " + ".join(r["parts"]), r["frequency"]] for r in nouns["top_compounds"]],
            [False, False, True],
        )
        if nouns["top_compounds"]
        else page.note("no compounds")
    )
    chart = page.hbar_chart(
        [r["noun"] for r in nouns["top_nouns"]],
        [r["frequency"] for r in nouns["top_nouns"]],
        title=f"Top {len(nouns['top_nouns'])} nouns (not compounds) by frequency",
        width=420,
        label_width=110,
    )
    return page.grid(summary + "<h3>Top compounds</h3>" + compounds, chart)


def _dictionary_html(data: dict) -> str:
    d = data["dictionary"]
    if d is None:
        return _not_run(layout.DICTIONARY)
    c = d["check"]
    target = c.get("target_single_token_share")
    meets = c.get("meets_target")
    figures = page.table(
        ["", "value"],
        [
            ["entries", page.fmt_int(d["entries"])],
            *[[f"entries from {k}", page.fmt_int(v)] for k, v in sorted(d["entries_by_source"].items())],
            ["sentences checked", page.fmt_int(c.get("sentences"))],
            ["nouns found in the sample", page.fmt_int(c.get("nouns_found_in_sample"))],
            ["single-token share before the dictionary", page.fmt_pct(c.get("single_token_share_before"))],
            ["single-token share with the dictionary", page.fmt_pct(c.get("single_token_share"))],
            ["single-token share of occurrences", page.fmt_pct(c.get("occurrence_single_token_share"))],
            ["target", page.fmt_pct(target)],
            ["meets target", page.MISSING if meets is None else ("yes" if meets else "no")],
        ],
        [False, True],
    )
    chart = page.bar_chart(
        ["before", "with dictionary", "occurrences"],
        {
            "single-token share": [
                c.get("single_token_share_before") or 0,
                c.get("single_token_share") or 0,
                c.get("occurrence_single_token_share") or 0,
            ]
        },
        title=f"Nouns kept as one morpheme (target {page.fmt_pct(target)})",
        percent=True,
        width=380,
    )

    def examples(key: str) -> str:
        rows = [[e["noun"], e["before"], e["after"], e["occurrences"]] for e in c.get(key, [])]
        return page.table(["noun", "before", "after", "occurrences"], rows, [False, False, False, True])

    return page.grid(figures, chart) + page.grid(
        "<h3>Fixed by the dictionary</h3>" + examples("examples_fixed"),
        "<h3>Still split</h3>" + examples("examples_still_split"),
    )


def _vocab_html(data: dict) -> str:
    v = data["vocab"]
    if v is None:
        return _not_run(layout.VOCAB)
    flavours = v["flavours"]
    names = list(flavours)

    def row(label, key, fmt):
        return [label, *(fmt(flavours[n].get(key)) for n in names)]

    rows = [
        ["vocab size requested", *(page.fmt_int(v["requested"].get(n)) for n in names)],
        row("vocab size", "vocab_size", page.fmt_int),
        row("UNK rate", "unk_rate", lambda x: page.fmt_pct(x, 3)),
        row("tokens per sentence", "tokens_per_sentence", lambda x: page.fmt_float(x, 1)),
        row("tokens per word", "tokens_per_word", lambda x: page.fmt_float(x, 2)),
        row("vocab used on the eval sample", "vocab_used_share", page.fmt_pct),
        row("dictionary nouns kept as one token", "dictionary_nouns_single_token_share", page.fmt_pct),
        row("eval sentences", "sentences", page.fmt_int),
        row("vocab.txt layout", "layout", lambda x: x or page.MISSING),
    ]
    table = page.table(["", *names], rows, [False, *[True] * len(names)])
    chart = page.bar_chart(
        ["tokens per sentence"],
        {n: [flavours[n].get("tokens_per_sentence") or 0] for n in names},
        title="Tokens per sentence (eval sample)",
        width=300,
    )
    return page.grid(
        table
        + page.note(
            f"measured on the vocab stage's held-out sentences; trained on {page.fmt_int(v['train_sentences'])}"
        ),
        chart,
    )


def _tfrecords_html(data: dict) -> str:
    t = data["tfrecords"]
    if t is None:
        return _not_run(layout.TFRECORDS)
    parts = [
        page.note(
            f"Figures over the first {t['examples_per_split']:,} examples of each split; counts written are exact."
        )
    ]
    for name, output in t["outputs"].items():
        written = {k: output["written"][k] for k in sorted(output["written"], key=_split_order)}
        parts.append(f"<h3>{page.esc(name)}</h3>")
        parts.append(
            page.table(
                ["", *written],
                [["examples written", *written.values()]],
                [False, *[True] * len(written)],
            )
        )
        if output["sampled"]:
            parts.append(figures_html(output["sampled"]))
    return "".join(parts)


def _split_order(name: str) -> tuple[int, str]:
    return ({"train": 0, "eval": 1}.get(name, 2), name)


def _training_html(data: dict) -> str:
    curves = data["training"]
    if curves is None:
        return _not_run(layout.TRAIN)
    if not curves:
        return page.missing("no TensorBoard event files under train/ yet")
    # one colour per run and writer across all charts
    labels = sorted(
        curves, key=lambda label: (label.rsplit(" ", 1)[0], _split_order(label.rsplit(" ", 1)[-1]))
    )
    colors = {label: page.COLORS[i % len(page.COLORS)] for i, label in enumerate(labels)}
    charts = []
    for tag, title, percent in CURVES:
        series = {label: [tuple(p) for p in curves[label][tag]] for label in labels if curves[label].get(tag)}
        if series:
            charts.append(page.line_chart(series, title=title, percent=percent, colors=colors))
    last = []
    for label, tags in curves.items():
        for tag, points in tags.items():
            if points:
                last.append([label, tag, points[-1][0], page.fmt_float(points[-1][1], 4)])
    table = page.table(["run", "scalar", "last step", "last value"], last, [False, False, True, True])
    return page.grid(*charts) + table


def _finetune_html(data: dict) -> str:
    results = data["finetune"]
    if results is None:
        return page.missing("not run yet: no finetune/*/report.json under this output root")
    rows = []
    for model, r in results.items():
        acc, base = r.get("test_accuracy"), r.get("majority_baseline")
        examples = r.get("examples") or {}
        rows.append(
            [
                model,
                page.fmt_pct(acc),
                page.fmt_pct(base),
                page.MISSING if acc is None or base is None else f"{100 * (acc - base):+.1f} pt",
                " / ".join(f"{examples.get(k, 0):,}" for k in ("train", "dev", "test")),
                " ".join(r.get("labels") or []),
            ]
        )
    table = page.table(
        ["model", "test accuracy", "majority baseline", "difference", "train / dev / test", "labels"],
        rows,
        [False, True, True, True, True, False],
    )
    chart = page.bar_chart(
        list(results),
        {
            "test accuracy": [r.get("test_accuracy") or 0 for r in results.values()],
            "majority baseline": [r.get("majority_baseline") or 0 for r in results.values()],
        },
        title="CPC-section classification: test accuracy against the baseline",
        percent=True,
        width=420,
    )
    return page.grid(table, chart)


def _evaluate_html(data: dict) -> str:
    results = data.get("evaluate")
    if results is None:
        return page.missing("not run yet: no evaluate/results.json under this output root")

    def cell(row: dict, score: str, baseline: str, digits: int = 4, scale: float = 1.0) -> str:
        if row.get(score) is None:
            return page.MISSING
        return f"{page.fmt_float(row[score] * scale, digits)} (baseline {page.fmt_float(row[baseline] * scale, digits)})"

    rows = [
        [
            r["model"],
            page.fmt_int(r.get("vocab_size")),
            cell(r, "ner_f1", "ner_baseline", 2, 100.0),
            cell(r, "cpc_accuracy", "cpc_baseline", 2, 100.0),
            page.MISSING
            if r.get("qa_exact_match") is None
            else f"{r['qa_exact_match']:.2f} / {r['qa_f1']:.2f} "
            f"(baseline {r['qa_baseline_exact_match']:.2f} / {r['qa_baseline_f1']:.2f})",
        ]
        for r in results["rows"]
    ]
    return page.table(
        ["model", "vocab size", "NER F1", "CPC acc", "QA EM / F1"], rows, [False, True, True, True, True]
    ) + page.note("KorPatELECTRA's layout, in percent; baselines: all O, majority class, first sentence.")


def render(data: dict) -> str:
    sections = [
        ("stages", "Stages", _stages_html(data)),
        ("corpus", "Corpus (KorPatBERT's table)", _corpus_html(data)),
        ("drops", "Drops by stage and reason", _drops_html(data)),
        ("nouns", "Nouns and compounds", _nouns_html(data)),
        ("dictionary", "User dictionary", _dictionary_html(data)),
        ("vocab", "Vocabularies", _vocab_html(data)),
        ("tfrecords", "TFRecords (train and eval)", _tfrecords_html(data)),
        ("training", "Pretraining curves", _training_html(data)),
        ("finetune", "Fine-tuning", _finetune_html(data)),
        ("evaluate", "Downstream evaluation (KorPatELECTRA's table)", _evaluate_html(data)),
    ]
    return page.page("Run report", f"output root {data['output_root']}", sections)
