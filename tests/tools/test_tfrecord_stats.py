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
