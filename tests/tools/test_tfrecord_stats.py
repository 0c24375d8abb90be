"""The stats tool's summary of decoded examples."""

from pipeline.pretraining.bert_instances import BertInstance
from pipeline.pretraining.features import bert_features


def test_summarize_counts_fill_nsp_masks_and_unk():
    from pipeline.tools.tfrecord_stats import summarize

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "본", "발명"]
    x = BertInstance([2, 5, 4, 3, 1, 3], [0, 0, 0, 0, 1, 1], [2], [6], True)
    y = BertInstance([2, 5, 3, 6, 3], [0, 0, 0, 1, 1], [], [], False)
    stats = summarize([bert_features(x, 8, 2), bert_features(y, 8, 2)], vocab)
    assert stats["flavour"] == "bert" and stats["seq_length"] == 8
    assert stats["examples"] == 2 and stats["tokens"] == 11
    assert stats["fill"] == 11 / 16 and stats["nsp_random_next_share"] == 0.5
    assert stats["masked_count_distribution"] == {"0": 1, "1": 1}
    assert stats["unk_rate"] == 1 / 11
    assert sum(b["count"] for b in stats["length_histogram"]) == 2
    assert stats["examples_decoded"][0]["text"] == "[CLS] 본 [MASK] [SEP] [UNK] [SEP]"
    assert stats["examples_decoded"][0]["masked"] == [{"position": 2, "label": "발명"}]


def _write_split_records(folder) -> str:
    """folder/bert-16/Split-{train,eval}/part-00000-of-00001.tfrecord.gz (2 + 1 examples);
    returns the vocab path."""
    from pipeline.pretraining.example_writer import example_bytes, write_tfrecord_file

    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "본", "발명"]) + "\n")
    splits = {
        "train": [
            BertInstance([2, 5, 4, 3, 1, 3], [0, 0, 0, 0, 1, 1], [2], [6], True),
            BertInstance([2, 5, 3, 6, 3], [0, 0, 0, 1, 1], [], [], False),
        ],
        "eval": [BertInstance([2, 6, 3, 5, 3], [0, 0, 0, 1, 1], [], [], False)],
    }
    for split, instances in splits.items():
        out = folder / "bert-16" / f"Split-{split}"
        out.mkdir(parents=True)
        records = [example_bytes(bert_features(x, 16, 2)) for x in instances]
        write_tfrecord_file(str(out / "part-00000-of-00001.tfrecord.gz"), records, gzip=True)
    return str(vocab)


def test_read_records_reads_the_framing(tmp_path):
    from pipeline.pretraining.example_writer import write_tfrecord_file
    from pipeline.tools.tfrecord_stats import read_records

    for gzip, name in ((False, "a.tfrecord"), (True, "a.tfrecord.gz")):
        write_tfrecord_file(str(tmp_path / name), [b"one", b"", b"three" * 100], gzip=gzip)
        assert list(read_records(str(tmp_path / name))) == [b"one", b"", b"three" * 100]


def test_stats_command_puts_train_and_eval_side_by_side(tmp_path, capsys):
    import json

    from pipeline.tools.tfrecord_stats import stats_command

    vocab = _write_split_records(tmp_path)
    out = tmp_path / "stats"
    assert stats_command(str(tmp_path / "bert-16"), vocab, str(out), None, with_tfdv=False) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("flavour bert, sequence length 16\nexamples 3  tokens 16\n")
    stats = json.loads((out / "stats.json").read_text())
    assert stats["examples"] == 3
    assert {k: v["examples"] for k, v in stats["splits"].items()} == {"train": 2, "eval": 1}
    page = (out / "stats.html").read_text(encoding="utf-8")
    assert '<html lang="ko">' in page and "<pre>" not in page and "<svg" in page
    assert '<th class="num">train</th><th class="num">eval</th>' in page
    assert "2→발명" in page  # masked positions as position→label, not a Python dict
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_html_report_shows_tfdv_features_as_a_table():
    from tensorflow_metadata.proto.v0 import statistics_pb2

    from pipeline.tools.tfrecord_stats import html_report, summarize, tfdv_feature_rows

    stats_list = statistics_pb2.DatasetFeatureStatisticsList()
    feature = stats_list.datasets.add().features.add()
    feature.path.step.append("input_ids")
    feature.type = statistics_pb2.FeatureNameStatistics.INT
    feature.num_stats.mean = 3.5
    feature.num_stats.max = 6
    feature.num_stats.common_stats.num_non_missing = 2
    feature.num_stats.common_stats.min_num_values = 8
    feature.num_stats.common_stats.max_num_values = 8
    feature.num_stats.common_stats.avg_num_values = 8
    rows = tfdv_feature_rows(stats_list)
    assert rows == [
        {
            "name": "input_ids",
            "type": "INT",
            "num_non_missing": 2,
            "min_num_values": 8,
            "avg_num_values": 8.0,
            "max_num_values": 8,
            "mean": 3.5,
            "min": 0.0,
            "max": 6.0,
            "num_zeros": 0,
        }
    ]
    x = BertInstance([2, 5, 3], [0, 0, 0], [], [], False)
    page = html_report(summarize([bert_features(x, 8, 2)]), rows, "computed by TFDV")
    assert "TFDV statistics" in page and '<td class="">input_ids</td>' in page
    assert "facets" not in page.lower() and "https://" not in page
