"""Small literal inputs shared by the pretraining tests: encoded tokens (id * 2 + start),
documents of them, and masking parameters with a tiny id space."""

from pipeline.pretraining.bert_instances import BertParams

PARAMS = BertParams(
    max_seq_length=32, max_predictions_per_seq=5, cls_id=5, sep_id=6, mask_id=7, random_low=8, random_high=100
)


def enc(ids, starts=None):
    starts = starts or [1] * len(ids)
    return [i * 2 + s for i, s in zip(ids, starts, strict=True)]


def doc(n_sentences, length=6, base=10):
    return [enc(list(range(base + k, base + k + length))) for k in range(n_sentences)]
