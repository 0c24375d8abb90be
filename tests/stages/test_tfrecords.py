"""tfrecords stage: tokenising into bucket blocks, dealing examples to shards, then the Beam
transform: determinism across runs and worker counts, TFDV validation, tf-models-official's
loader, the stats command on its output, and (slow) the demo run through the CLI."""

import os
import random
from collections import Counter

import pytest

from pipeline import layout
from pipeline.config import TfrecordsConfig
from pipeline.io import file_shuffle, filesystems
from pipeline.layout import SPLITS, OutputSpec, output_specs
from pipeline.pretraining import schema_files as S
from pipeline.pretraining.bucketing import bucket_of, split_of
from pipeline.pretraining.features import tf_feature_spec
from pipeline.stages import tfrecords as R
from pipeline.text.tokenizer import LAYOUTS, vocab_size
from tests.helpers import read_tree


def test_output_specs_use_googles_prediction_counts():
    specs = output_specs(TfrecordsConfig(outputs=("bert-128", "bert-512", "electra-512")))
    assert [(s.name, s.max_predictions) for s in specs] == [
        ("bert-128", 20),
        ("bert-512", 76),
        ("electra-512", 0),
    ]


def test_tokenize_writes_each_sentence_once_in_its_buckets_block(tmp_path, monkeypatch):
    write_morph_shards(tmp_path / "morph", n_docs=30, n_shards=1)
    vocabs = write_vocabs(tmp_path)
    fn = R.TokenizeSentences(vocabs["bert"], CONFIG, True, str(tmp_path / "scratch"))
    fn.setup()
    path = str(tmp_path / "morph" / "part-00000-of-00001.parquet")
    expected = sorted(
        (r["doc_id"], r["paragraph_index"], r["sentence_index"]) for r in filesystems.iter_parquet_rows(path)
    )
    for spill in (R.SPILL_SENTENCES, 7):  # one scratch file, then one per 7 sentences
        monkeypatch.setattr(R, "SPILL_SENTENCES", spill)
        refs = list(fn.process(path))
        files = {ref.path for _, ref in refs}
        assert len(files) == (1 if spill > len(expected) else -(-len(expected) // spill))
        seen = []
        for (split, bucket), ref in refs:
            assert split in SPLITS and 0 <= bucket < CONFIG.num_buckets
            for rows in file_shuffle.load_blocks([ref]):
                for key, paragraph, sentence, tokens in rows:
                    doc_id = key.split("\x00")[0]
                    assert bucket_of(doc_id, CONFIG.num_buckets) == bucket
                    assert split_of(doc_id, CONFIG.eval_percent) == split
                    assert tokens and isinstance(tokens, bytes)
                    seen.append((doc_id, paragraph, sentence))
        assert sorted(seen) == expected and len(expected) > 30


def test_shards_get_round_robin_examples_sorted_by_key(tmp_path):
    """Example k of a split (bucket by bucket, in bucket order) goes to shard k % shards,
    whatever order the buckets' pieces arrive in; each shard is sorted by sort key."""
    rng = random.Random(7)
    shards, counts = 4, {("train", b): c for b, c in enumerate([5, 0, 3, 7, 1])}
    counts[("eval", 0)] = 2  # another split's bucket moves no train example
    built = []
    for (split, bucket), count in counts.items():
        made = [(rng.getrandbits(64), f"{split}{bucket}e{j}".encode()) for j in range(count)]
        blocks = {
            p: file_shuffle.frame_records(
                sorted((made[j][0], j, made[j][1]) for j in range(p, count, shards))
            )
            for p in range(min(shards, count))
        }
        built.append(
            (
                (split, bucket),
                count,
                file_shuffle.write_blocks(str(tmp_path / f"{split}{bucket}.bin"), blocks),
            )
        )
    offsets = R.bucket_offsets(dict(counts))
    dealt = {}
    for b in reversed(built):
        for shard_key, piece in R.deal_pieces(b, offsets, {"train": shards, "eval": shards}):
            dealt.setdefault(shard_key, []).append(piece)
    train = [f"train{b}e{j}".encode() for b in range(5) for j in range(counts[("train", b)])]
    union = []
    for shard in range(shards):
        examples = list(R.shard_examples(dealt[("train", shard)]))
        assert [e[:3] for e in examples] == sorted(e[:3] for e in examples)
        assert sorted(e[3] for e in examples) == sorted(train[shard::shards])
        union += [e[3] for e in examples]
    assert sorted(union) == sorted(train)
    assert sorted(e[3] for e in R.shard_examples(dealt[("eval", 0)])) == [b"eval0e0"]


# --- Beam -------------------------------------------------------------------

WORDS = [
    "본",
    "발명",
    "은",
    "세제",
    "##액",
    "에",
    "관한",
    "것",
    "이",
    "다",
    ".",
    "반도체",
    "장치",
    "를",
    "포함",
    "하",
    "는",
]


SENTENCES = [
    ("본 발명 은 세제액 에 관한 것 이 다 .", "1101011100"),
    ("반도체 장치 를 포함 하 는 세제 .", "11011010"),
    ("본 장치 는 세제 를 포함 하 다 .", "110110100"),
]


def write_morph_shards(folder, n_docs=40, n_shards=2):
    from pipeline.io import filesystems

    os.makedirs(folder, exist_ok=True)
    writers = [
        filesystems.ParquetShardWriter(
            filesystems.shard_path(str(folder), "part", i, n_shards, ".parquet"), layout.morph_schema()
        )
        for i in range(n_shards)
    ]
    for d in range(n_docs):
        rows = []
        for p in range(1 + d % 3):
            for s in range(2 + (d + p) % 4):
                m, w = SENTENCES[(d + p + s) % 3]
                rows.append(
                    {
                        "doc_id": f"KR{d:04d}",
                        "cpc_section": "A",
                        "paragraph_index": p,
                        "section": "description",
                        "sentence_index": s,
                        "morphemes": m,
                        "word_starts": w,
                    }
                )
        writers[d % n_shards].add(rows)
    for w in writers:
        w.close()


def write_vocabs(folder, layout_bert="korpat"):
    bert = folder / "bert_vocab.txt"
    bert.write_text("\n".join([*LAYOUTS[layout_bert], *WORDS]) + "\n", encoding="utf-8")
    electra = folder / "electra_vocab.txt"
    electra.write_text("\n".join([*LAYOUTS["bert"], *WORDS]) + "\n", encoding="utf-8")
    return {"bert": str(bert), "electra": str(electra)}


CONFIG = TfrecordsConfig(
    outputs=("bert-128", "electra-128"),
    num_buckets=4,
    num_shards=8,
    eval_num_shards=8,
    eval_percent=10.0,
    dupe_factor=2,
)


def run_records(tmp_path, out, mode, workers, config=CONFIG):
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    morph_dir = tmp_path / "morph"
    if not morph_dir.exists():
        write_morph_shards(morph_dir)
    vocabs = write_vocabs(tmp_path)
    options = PipelineOptions(
        ["--runner=DirectRunner", f"--direct_running_mode={mode}", f"--direct_num_workers={workers}"]
    )
    with beam.Pipeline(options=options) as p:
        for spec in output_specs(config):
            _ = p | f"Records_{spec.name}" >> R.BuildPretrainingRecords(
                str(morph_dir / "part-*.parquet"), vocabs[spec.flavour], spec, config, str(out)
            )
    return vocabs


def read_records(pattern, spec, v2=False):
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(pattern))
    ds = tf.data.TFRecordDataset(files, compression_type="GZIP")
    parse = tf_feature_spec(spec.flavour, spec.seq_length, spec.max_predictions, v2)
    return [tf.io.parse_single_example(r, parse) for r in ds]


def records_tree(folder) -> dict:
    return {k: v for k, v in read_tree(folder).items() if not k.startswith(R.SCRATCH)}


def test_beam_records_are_deterministic_balanced_and_valid(tmp_path, monkeypatch):
    vocabs = run_records(tmp_path, tmp_path / "a", "in_memory", 1)
    run_records(tmp_path, tmp_path / "b", "multi_processing", 2)
    a, b = records_tree(tmp_path / "a"), records_tree(tmp_path / "b")
    assert a and a == b
    # Tokenising tasks that spill every 7 sentences: many more scratch files, same records.
    monkeypatch.setattr(R, "SPILL_SENTENCES", 7)
    run_records(tmp_path, tmp_path / "c", "in_memory", 1)
    assert len(list((tmp_path / "c" / R.SCRATCH).glob("*/tokens-*"))) > 4 * len(
        list((tmp_path / "a" / R.SCRATCH).glob("*/tokens-*"))
    )
    assert records_tree(tmp_path / "c") == a
    assert len([k for k in a if k.startswith("bert-128/Split-train/")]) == 8
    assert len([k for k in a if k.startswith("electra-128/Split-eval/")]) == 8

    specs = {s.name: s for s in output_specs(CONFIG)}
    for name, spec in specs.items():
        sizes = []
        for i in range(8):
            path = str(tmp_path / "a" / name / "Split-train" / f"part-{i:05d}-of-00008.tfrecord.gz")
            sizes.append(len(read_records(path, spec)))
        assert max(sizes) - min(sizes) <= 1 and sum(sizes) > 8
        schema = S.schema_text(spec, vocab_size(vocabs[spec.flavour]))
        files = sorted(str(p) for p in (tmp_path / "a" / name / "Split-train").iterdir())
        assert S.validate_files(files, schema, gzip=True) == sum(sizes)

    bert = read_records(str(tmp_path / "a" / "bert-128" / "Split-train" / "*.gz"), specs["bert-128"])
    labels = Counter(int(x["next_sentence_labels"][0]) for x in bert)
    assert labels[0] and labels[1]
    for x in bert:
        n = int(x["input_mask"].numpy().sum())
        ids = x["input_ids"].numpy()
        assert ids[0] == 5 and ids[n - 1] == 6 and not ids[n:].any()


def test_validation_fails_loudly_on_a_schema_mismatch(tmp_path):
    vocabs = run_records(tmp_path, tmp_path / "a", "in_memory", 1, config=CONFIG)
    spec = output_specs(CONFIG)[0]
    files = sorted(str(p) for p in (tmp_path / "a" / "bert-128" / "Split-train").iterdir())
    too_small = S.schema_text(spec, vocab_size=6)  # ids >= 6 now out of range
    with pytest.raises(S.SchemaMismatch, match="input_ids"):
        S.validate_files(files, too_small, gzip=True)
    wrong_shape = S.schema_text(OutputSpec("bert-64", "bert", 64, 20), vocab_size(vocabs["bert"]))
    with pytest.raises(S.SchemaMismatch):
        S.validate_files(files, wrong_shape, gzip=True)


def test_records_load_in_model_garden_pretrain_dataloader(tmp_path):
    from official.nlp.data.pretrain_dataloader import BertPretrainDataConfig, BertPretrainDataLoader

    run_records(tmp_path, tmp_path / "a", "in_memory", 1)
    config = BertPretrainDataConfig(
        input_path=str(tmp_path / "a" / "bert-128" / "Split-train" / "*.tfrecord.gz"),
        file_type="tfrecord_compressed",
        seq_length=128,
        max_predictions_per_seq=20,
        global_batch_size=4,
        is_training=False,
    )
    batch = next(iter(BertPretrainDataLoader(config).load()))
    assert batch["input_word_ids"].shape == (4, 128)
    assert batch["masked_lm_positions"].shape == (4, 20)
    assert batch["next_sentence_labels"].shape == (4, 1)


def test_stats_command_on_stage_output(tmp_path, capsys):
    import json

    from pipeline.cli import main

    vocabs = run_records(tmp_path, tmp_path / "a", "in_memory", 1)
    pattern = str(tmp_path / "a" / "electra-128" / "Split-train" / "*.gz")
    assert main(["stats", pattern, "--vocab", vocabs["electra"], "--no-tfdv"]) == 0
    printed = capsys.readouterr().out
    assert "flavour electra" in printed and "example 1: [CLS]" in printed
    stats = json.loads((tmp_path / "a" / "electra-128" / "stats" / "Split-train" / "stats.json").read_text())
    assert stats["examples"] > 0 and 0 < stats["fill"] <= 1
    assert (tmp_path / "a" / "electra-128" / "stats" / "Split-train" / "stats.html").exists()


@pytest.mark.slow
def test_demo_run_to_tfrecords(demo_tfrecords):
    """The chain up to tfrecords on the demo corpus through the CLI (the session's demo
    run); the manifest reports the validated counts, exactly the committed ones."""
    import json
    import pathlib

    from tests.helpers import demo_golden

    out = pathlib.Path(demo_tfrecords) / "tfrecords"
    manifest = json.loads((out / "manifest.json").read_text())
    report = dict(manifest["report"])
    nsp = report.pop("nsp")
    assert report == demo_golden()["tfrecords_examples"]
    assert 0.45 <= nsp["bert-128"]["random_next_share"] <= 0.55 and "warning" not in nsp["bert-128"]
    for name in ("bert-128", "electra-128"):
        assert (out / name / "schema.pbtxt").exists()
        assert len(list((out / name / "Split-train").iterdir())) == 8
    assert not (out / R.SCRATCH).exists()  # the exchange files are gone
    morph = json.loads((pathlib.Path(demo_tfrecords) / "morph" / "manifest.json").read_text())
    # every morph sentence read once per vocabulary (bert, electra), none empty
    assert manifest["counters"]["sentences_in"] == 2 * morph["counters"]["sentences"]
    assert manifest["counters"]["sentences_empty"] == 0


def test_cyclic_gc_paused_restores_the_former_state():
    import gc

    assert gc.isenabled()
    with R.cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with R.cyclic_gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_nsp_report_sums_the_buckets_and_warns_outside_the_range(tmp_path, caplog):
    out = str(tmp_path)
    for split, bucket, counts in [
        ("train", 0, {"random_next": 40, "actual_next": 50, "forced_random": 3}),
        ("train", 1, {"random_next": 10, "actual_next": 0, "forced_random": 10}),
        ("eval", 0, {"random_next": 5, "actual_next": 5, "forced_random": 0}),
    ]:
        filesystems.write_json(R.nsp_counts_file(out, "bert-128", split, bucket), counts)
    report = R.nsp_report(out, "bert-128", "balanced")
    assert report == {
        "rule": "google_bert_instances_v3",
        "random_next": 55,
        "actual_next": 55,
        "forced_random": 13,
        "random_next_share": 0.5,
        "random_next_share_by_split": {"train": 0.5, "eval": 0.5},
    }
    filesystems.write_json(
        R.nsp_counts_file(out, "bert-128", "eval", 1),
        {"random_next": 30, "actual_next": 0, "forced_random": 30},
    )
    with caplog.at_level("WARNING"):
        report = R.nsp_report(out, "bert-128", "google")
    assert report["rule"] == "google_bert_instances_v2"
    assert report["random_next_share"] == round(85 / 140, 4)
    assert "43 of 140 pairs came from one-sentence chunks" in report["warning"]
    assert report["warning"] in caplog.text
