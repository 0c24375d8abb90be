"""tfrecords stage with `masking: dynamic`: the records round-trip (the static records' instances
unmasked, once), carry whole-word groups, validate against their schema, and `stats` reads them."""

import dataclasses
import json

import numpy as np

from pipeline.layout import output_specs
from pipeline.pretraining import schema_files as S
from pipeline.pretraining.features import tf_feature_spec
from pipeline.text.tokenizer import vocab_size
from tests.stages.test_tfrecords import CONFIG, run_records

STATIC = dataclasses.replace(CONFIG, outputs=("bert-128",), dupe_factor=1)
DYNAMIC = dataclasses.replace(STATIC, masking="dynamic", dupe_factor=10)  # dupe_factor is not used


def parsed(pattern, masking):
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(pattern))
    spec = tf_feature_spec("bert", 128, 20, masking=masking)
    return [
        {k: v.numpy() for k, v in tf.io.parse_single_example(r, spec).items()}
        for r in tf.data.TFRecordDataset(files, compression_type="GZIP")
    ]


def test_dynamic_records_are_the_static_instances_unmasked_once(tmp_path, capsys):
    from pipeline.cli import main

    run_records(tmp_path, tmp_path / "static", "in_memory", 1, config=STATIC)
    vocabs = run_records(tmp_path, tmp_path / "dynamic", "in_memory", 1, config=DYNAMIC)
    for split in ("train", "eval"):
        static = parsed(str(tmp_path / "static" / "bert-128" / f"Split-{split}" / "*.gz"), "static")
        dynamic = parsed(str(tmp_path / "dynamic" / "bert-128" / f"Split-{split}" / "*.gz"), "dynamic")
        assert len(dynamic) == len(static) > 0
        for s, d in zip(static, dynamic, strict=True):
            # Same segments, same order: the static ids with the masked positions restored.
            ids = s["input_ids"].copy()
            n = int(s["masked_lm_weights"].sum())
            ids[s["masked_lm_positions"][:n]] = s["masked_lm_ids"][:n]
            assert (d["input_ids"] == ids).all()
            for name in ("input_mask", "segment_ids", "next_sentence_labels"):
                assert (d[name] == s[name]).all()
            # A static mask covers whole groups of word_ids: a masked group is masked entirely.
            length = int(d["input_mask"].sum())
            words = d["word_ids"][:length]
            assert words[0] == 0 and (np.diff(words) >= 0).all() and (np.diff(words) <= 1).all()
            assert not d["word_ids"][length:].any()
            masked_words = set(words[s["masked_lm_positions"][:n]])
            assert n == sum(int((words == w).sum()) for w in masked_words)
            # [CLS] and each [SEP] are a group of their own.
            for special in np.flatnonzero(np.isin(d["input_ids"][:length], [5, 6])):
                assert (words == words[special]).sum() == 1

    spec = output_specs(DYNAMIC)[0]
    schema = S.schema_text(spec, vocab_size(vocabs["bert"]), masking="dynamic")
    files = sorted(str(p) for p in (tmp_path / "dynamic" / "bert-128" / "Split-train").iterdir())
    assert S.validate_files(files, schema, gzip=True) == len(
        parsed(str(tmp_path / "dynamic" / "bert-128" / "Split-train" / "*.gz"), "dynamic")
    )

    pattern = str(tmp_path / "dynamic" / "bert-128" / "Split-train" / "*.gz")
    assert main(["stats", pattern, "--vocab", vocabs["bert"], "--no-tfdv"]) == 0
    printed = capsys.readouterr().out
    assert "flavour bert (dynamic masking)" in printed and "example 1: [CLS]" in printed
    stats = json.loads(
        (tmp_path / "dynamic" / "bert-128" / "stats" / "Split-train" / "stats.json").read_text()
    )
    assert stats["masking"] == "dynamic" and "masked_count_distribution" not in stats
    assert stats["words_per_example"] > 0
