"""tfrecords stage: Google-equivalent BERT instances and masking, ELECTRA packing,
features and schemas (pure functions), then the Beam transform: determinism across
runs and worker counts, TFDV validation, and tf-models-official's loader."""

import os
import random
from array import array
from collections import Counter

import numpy as np
import pytest

from pipeline import layout
from pipeline.config import TfrecordsConfig
from pipeline.io import file_shuffle, filesystems
from pipeline.pretraining import schema_files as S
from pipeline.stages import tfrecords as R
from pipeline.text.tokenizer import LAYOUTS
from tests.helpers import read_tree

PARAMS = R.BertParams(
    max_seq_length=32, max_predictions_per_seq=5, cls_id=5, sep_id=6, mask_id=7, random_low=8, random_high=100
)


def enc(ids, starts=None):
    starts = starts or [1] * len(ids)
    return [i * 2 + s for i, s in zip(ids, starts, strict=True)]


def doc(n_sentences, length=6, base=10):
    return [enc(list(range(base + k, base + k + length))) for k in range(n_sentences)]


# --- seeds, buckets ---------------------------------------------------------


def test_seed_for_is_stable_and_separates_keys():
    assert R.seed_for(1, "bert-128", "train", 3) == R.seed_for(1, "bert-128", "train", 3)
    assert R.seed_for(1, "bert-128", "train", 3) != R.seed_for(1, "bert-128", "train", 4)
    assert R.seed_for(1, "x") != R.seed_for(2, "x")
    assert R.seed_for(0, "a") == 15213559272920343689  # fixed across processes and versions


# --- encoding with word starts ----------------------------------------------


def test_encode_sentence_maps_eojeol_starts_through_pieces():
    pieces = {"본": (10,), "발명": (11,), "은": (12,), "세제액": (13, 14), ".": (15,)}.get
    # "본 발명은 세제액." -> morphemes 본 | 발명 은 | 세제액 .
    tokens = R.encode_sentence("본 발명 은 세제액 .", "11010", pieces, whole_word=True)
    assert [t >> 1 for t in tokens] == [10, 11, 12, 13, 14, 15]
    assert [t & 1 for t in tokens] == [1, 1, 0, 1, 0, 0]
    plain = R.encode_sentence("본 발명 은 세제액 .", "11010", pieces, whole_word=False)
    assert [t & 1 for t in plain] == [1] * 6


# --- masking ----------------------------------------------------------------


def _masked(ids, starts, seed):
    special = [k for k, i in enumerate(ids) if i in (PARAMS.cls_id, PARAMS.sep_id)]
    return R.mask_tokens(ids, starts, special, PARAMS, np.random.default_rng(seed))


def test_masking_never_touches_special_tokens_and_sorts_positions():
    ids = [5, *range(20, 30), 6, *range(30, 40), 6]
    for seed in range(300):
        out, positions, labels = _masked(ids, [1] * len(ids), seed)
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        assert 0 not in positions and 11 not in positions and len(ids) - 1 not in positions
        assert out[0] == 5 and out[11] == 6 and out[-1] == 6
        assert labels == [ids[p] for p in positions]
        assert len(positions) == min(5, round(len(ids) * 0.15))


def test_masking_proportions_80_10_10():
    ids = [5, *range(20, 40), 6, *range(40, 60), 6]
    kinds = Counter()
    for seed in range(4000):
        out, positions, _ = _masked(ids, [1] * len(ids), seed)
        for p in positions:
            kinds["mask" if out[p] == 7 else "kept" if out[p] == ids[p] else "random"] += 1
    total = sum(kinds.values())
    assert abs(kinds["mask"] / total - 0.8) < 0.02
    assert abs(kinds["kept"] / total - 0.1) < 0.015
    assert abs(kinds["random"] / total - 0.1) < 0.015


def test_random_replacements_never_draw_reserved_ids():
    ids = [5, *range(20, 60), 6, 30, 6]
    for seed in range(500):
        out, positions, _ = _masked(ids, [1] * len(ids), seed)
        for p in positions:
            assert out[p] == 7 or PARAMS.random_low <= out[p] < PARAMS.random_high


def test_whole_word_masking_masks_whole_groups_only():
    # groups of 3 pieces: 20 21 22 | 23 24 25 | ...; [SEP] breaks groups too
    body = list(range(20, 44))
    ids = [5, *body, 6, 50, 6]
    starts = [1] + [1 if k % 3 == 0 else 0 for k in range(len(body))] + [1, 0, 1]
    params = R.BertParams(**{**PARAMS.__dict__, "max_predictions_per_seq": 6})
    for seed in range(200):
        special = [k for k, i in enumerate(ids) if i in (5, 6)]
        _, positions, _ = R.mask_tokens(ids, starts, special, params, np.random.default_rng(seed))
        groups = {(p - 1) // 3 for p in positions if 1 <= p <= len(body)}
        for g in groups:
            assert {1 + 3 * g, 2 + 3 * g, 3 + 3 * g} <= set(positions)
        # the piece after [SEP] starts its own group although marked 0
        assert positions.count(len(body) + 2) <= 1


# --- BERT instances ---------------------------------------------------------


def test_truncate_seq_pair_trims_the_longer_side():
    a, b = list(range(10)), list(range(3))
    R.truncate_seq_pair(a, b, 8, random.Random(0))
    assert len(a) == 5 and len(b) == 3


def test_truncated_counts_equal_googles_token_by_token_loop():
    for len_a in range(30):
        for len_b in range(30):
            for max_num_tokens in (1, 4, 17, 29):
                a, b = len_a, len_b
                while a + b > max_num_tokens:  # Google's loop
                    if a > b:
                        a -= 1
                    else:
                        b -= 1
                expected = (len_a - a, len_b - b)
                assert R.truncated_counts(len_a, len_b, max_num_tokens) == expected


def test_truncation_drops_front_or_back_with_a_fair_coin():
    fronts = [R.truncation(60, 10, 30, random.Random(seed))[0] for seed in range(2000)]
    # 40 tokens dropped from A: the front share is Binomial(40, 1/2).
    assert all(0 <= f <= 40 for f in fronts)
    assert abs(sum(fronts) / len(fronts) - 20) < 0.3
    assert 0 < min(fronts) < 15 and 25 < max(fronts) < 40


def test_instances_have_google_layout_and_nsp_labels():
    documents = [doc(8, base=10 + 100 * d) for d in range(6)]
    rng = random.Random(1)
    instances = R.bert_bucket_instances(R.split_documents(documents), PARAMS, dupe_factor=5, rng=rng)
    assert instances
    labels = Counter(x.is_random_next for x in instances)
    assert labels[True] and labels[False]
    for x in instances:
        n = len(x.input_ids)
        assert n <= PARAMS.max_seq_length
        assert x.input_ids.count(6) == 2 or 6 in [x.input_ids[p] for p in x.masked_lm_positions]
        first_sep = x.segment_ids.index(1) - 1
        assert x.segment_ids == [0] * (first_sep + 1) + [1] * (n - first_sep - 1)
        assert x.input_ids[-1] == 6 and x.input_ids[0] == 5
        assert len(x.masked_lm_positions) <= PARAMS.max_predictions_per_seq


def test_single_sentence_chunks_are_always_random_next():
    documents = [[enc(list(range(10, 40)))] for _ in range(3)]  # one long sentence per document
    instances = R.bert_bucket_instances(R.split_documents(documents), PARAMS, 3, random.Random(0))
    assert instances and all(x.is_random_next for x in instances)


def test_same_seed_same_instances():
    documents = [doc(5, base=10 + 50 * d) for d in range(4)]
    a = R.bert_bucket_instances(R.split_documents(documents), PARAMS, 2, random.Random(7))
    b = R.bert_bucket_instances(R.split_documents(documents), PARAMS, 2, random.Random(7))
    assert a == b


# --- ELECTRA ----------------------------------------------------------------


def test_electra_packs_up_to_length_with_two_segments():
    documents = [[list(range(10 + k, 30 + k)) for k in range(12)] for _ in range(4)]
    examples = R.electra_bucket_examples(documents, 64, random.Random(0))
    assert examples
    for first, second in examples:
        assert first and len(first) + len(second) + 2 + (1 if second else 0) <= 64
    features = R.electra_features(*examples[0], 64, cls_id=2, sep_id=3)
    assert sorted(features) == ["input_ids", "input_mask", "segment_ids"]
    assert all(len(v) == 64 for v in features.values())
    assert features["input_ids"][0] == 2


# --- features and schemas ---------------------------------------------------


def test_bert_features_exact_names_shapes_and_padding():
    x = R.BertInstance([5, 20, 7, 6, 30, 6], [0, 0, 0, 0, 1, 1], [2], [21], True)
    f = R.bert_features(x, 8, 3)
    assert f == {
        "input_ids": [5, 20, 7, 6, 30, 6, 0, 0],
        "input_mask": [1, 1, 1, 1, 1, 1, 0, 0],
        "segment_ids": [0, 0, 0, 0, 1, 1, 0, 0],
        "masked_lm_positions": [2, 0, 0],
        "masked_lm_ids": [21, 0, 0],
        "masked_lm_weights": [1.0, 0.0, 0.0],
        "next_sentence_labels": [1],
    }
    v2 = R.bert_features(x, 8, 3, v2_names=True)
    assert "input_word_ids" in v2 and "input_type_ids" in v2 and "input_ids" not in v2


def test_committed_schemas_match_the_generator():
    for spec in S.COMMITTED:
        with open(S.committed_path(spec.name), encoding="utf-8") as f:
            assert f.read() == S.schema_text(spec), (
                f"regenerate: python -m pipeline.pretraining.schema_files ({spec.name})"
            )
        schema = S.parse_schema(S.schema_text(spec))
        assert [f.name for f in schema.feature] == list(
            R.tf_feature_spec(spec.flavour, spec.seq_length, spec.max_predictions)
        )


def test_output_specs_use_googles_prediction_counts():
    specs = R.output_specs(TfrecordsConfig(outputs=("bert-128", "bert-512", "electra-512")))
    assert [(s.name, s.max_predictions) for s in specs] == [
        ("bert-128", 20),
        ("bert-512", 76),
        ("electra-512", 0),
    ]


# --- hand-written wire format ------------------------------------------------


def _real_instances(n_docs=12, seed=3, params=PARAMS):
    rng = random.Random(seed)
    documents = [
        [
            enc([rng.randrange(8, 100) for _ in range(rng.randint(1, 12))], None)
            for _ in range(rng.randint(1, 8))
        ]
        for _ in range(n_docs)
    ]
    return R.bert_bucket_instances(R.split_documents(documents), params, 3, random.Random(seed))


def test_varints_and_packed_lists_match_protobuf():
    from pipeline.pretraining import example_writer as F

    for value in (0, 1, 127, 128, 300, 16383, 16384, 32767, 32768, 2**40, -1):
        features = {"x": [value]}
        assert F.example_bytes(features) == R.serialize_example(features), value
    for long in ({"input_ids": list(range(0, 60000, 3))}, {"masked_lm_weights": [0.5] * 9000}):  # > 32 KB
        assert F.example_bytes(long) == R.serialize_example(long)
    assert F.packed_ids([5, 200, 40000]) == F.packed_int64([5, 200, 40000])
    assert F.packed_ids([]) == b"" and F.packed_ids([300]) == F.varint(300)


def test_example_bytes_equal_the_proto_serializer_on_real_instances():
    from pipeline.pretraining import example_writer as F

    instances = _real_instances()
    assert len(instances) > 50
    for v2 in (False, True):
        write = F.BertExampleWriter(32, 5, list(R.feature_spec("bert", 32, 5, v2)))
        for x in instances:
            features = R.bert_features(x, 32, 5, v2)
            expected = R.serialize_example(features)
            assert F.example_bytes(features) == expected
            assert write(x) == expected
    first, second = [10, 11, 200], [12, 13000]
    for v2 in (False, True):
        features = R.electra_features(first, second, 16, 2, 3, v2)
        assert F.example_bytes(features) == R.serialize_example(features)


def test_example_bytes_parse_like_the_proto_path_with_tensorflow():
    import tensorflow as tf

    from pipeline.pretraining import example_writer as F

    spec = R.tf_feature_spec("bert", 32, 5)
    write = F.BertExampleWriter(32, 5, list(spec))
    for x in _real_instances(seed=9)[:40]:
        ours = tf.io.parse_single_example(write(x), spec)
        theirs = tf.io.parse_single_example(R.serialize_example(R.bert_features(x, 32, 5)), spec)
        for name in spec:
            assert ours[name].dtype == theirs[name].dtype
            assert ours[name].numpy().tolist() == theirs[name].numpy().tolist()


@pytest.mark.parametrize("gzip", [False, True])
def test_tfrecord_files_equal_tensorflows_writer(tmp_path, gzip):
    import tensorflow as tf

    from pipeline.pretraining import example_writer as F

    rng = random.Random(0)
    for n in (0, 1, 700):
        records = [bytes(rng.randrange(256) for _ in range(rng.randint(0, 600))) for _ in range(n)]
        ours, theirs = str(tmp_path / f"ours{n}"), str(tmp_path / f"theirs{n}")
        assert F.write_tfrecord_file(ours, records, gzip) == n
        with tf.io.TFRecordWriter(
            theirs, tf.io.TFRecordOptions(compression_type="GZIP" if gzip else "")
        ) as w:
            for r in records:
                w.write(r)
        with open(ours, "rb") as a, open(theirs, "rb") as b:
            assert a.read() == b.read()
        read = tf.data.TFRecordDataset([ours], compression_type="GZIP" if gzip else "")
        assert [r.numpy() for r in read] == records


def test_tfrecord_files_fall_back_to_tensorflow_without_crc32c(tmp_path, monkeypatch):
    from pipeline.pretraining import example_writer as F

    records = [b"abc", b"", bytes(range(256)) * 3]
    F.write_tfrecord_file(str(tmp_path / "fast"), records, True)

    def no_crc32c(data):
        raise ImportError("google_crc32c")

    monkeypatch.setattr(F, "_crc", no_crc32c)
    assert F.write_tfrecord_file(str(tmp_path / "tf"), records, True) == 3
    assert (tmp_path / "fast").read_bytes() == (tmp_path / "tf").read_bytes()


def test_piece_cache_encodes_like_encode_sentence():
    class Pieces(R.PieceCache):
        def __init__(self):
            # the caches only; no tokenizer needed
            self._cache, self._whole, self._plain, self._max_size = {}, {}, {}, 4
            self._whole_bytes, self._plain_bytes = {}, {}
            self._table = {"본": (10,), "발명": (11,), "은": (12,), "세제액": (13, 14), ".": (15,), "": ()}

        def __call__(self, morpheme):
            return self._table[morpheme]

    pieces = Pieces()
    cases = [
        ("본 발명 은 세제액 .", "11010"),
        ("세제액 . 본", "101"),
        ("발명 은", "1"),
        ("", ""),
        ("본  발명", "101"),
    ]
    for _ in range(2):  # cold, then from the caches (max_size 4 forces clears)
        for morphemes, marks in cases:
            for whole_word in (True, False):
                expected = R.encode_sentence(morphemes, marks, pieces, whole_word)
                assert pieces.encode_sentence(morphemes, marks, whole_word) == expected
                assert pieces.encode_bytes(morphemes, marks, whole_word) == array("I", expected).tobytes()


def test_split_tokens_and_truncation_match_the_list_versions():
    tokens = enc([20, 21, 22, 23], [1, 0, 0, 1])
    assert R.split_tokens(tokens) == ([20, 21, 22, 23], bytes([1, 0, 0, 1]))
    for seed in range(50):
        a, b = list(range(40)), list(range(100, 100 + seed % 30))
        fa, ba, fb, bb = R.truncation(len(a), len(b), 25, random.Random(seed))
        R.truncate_seq_pair(a, b, 25, random.Random(seed))
        assert a == list(range(fa, 40 - ba)) and b == list(range(100 + fb, 100 + seed % 30 - bb))
        assert len(a) + len(b) <= 25


def test_instances_match_a_token_by_token_reference():
    """The fast instance path against Google's logic written token by token."""
    documents = [
        [enc(list(range(10 + 7 * k + d, 16 + 7 * k + d)), [1, 0, 1, 1, 0, 0]) for k in range(5)]
        for d in range(5)
    ]
    rng_a, rng_b = random.Random(4), random.Random(4)
    fast = R.create_instances_from_document(documents, 2, PARAMS, rng_a, np.random.default_rng(9))
    assert fast
    # Same draws, made through the public list-based helpers.
    reference = _reference_instances(documents, 2, PARAMS, rng_b, np.random.default_rng(9))
    assert fast == reference


def _reference_instances(documents, document_index, params, rng, gen):
    document = documents[document_index]
    max_num_tokens = params.max_seq_length - 3
    target = max_num_tokens
    if rng.random() < params.short_seq_prob:
        target = rng.randint(2, max_num_tokens)
    out, chunk, length, i = [], [], 0, 0
    while i < len(document):
        chunk.append(document[i])
        length += len(document[i])
        if i == len(document) - 1 or length >= target:
            a_end = rng.randint(1, len(chunk) - 1) if len(chunk) >= 2 else 1
            a = [t for s in chunk[:a_end] for t in s]
            b = []
            if len(chunk) == 1 or rng.random() < 0.5:
                random_next = True
                for _ in range(10):
                    r = rng.randint(0, len(documents) - 1)
                    if r != document_index:
                        break
                start = rng.randint(0, len(documents[r]) - 1)
                for s in documents[r][start:]:
                    b.extend(s)
                    if len(b) >= target - len(a):
                        break
                i -= len(chunk) - a_end
            else:
                random_next = False
                b = [t for s in chunk[a_end:] for t in s]
            R.truncate_seq_pair(a, b, max_num_tokens, rng)
            if a and b:
                out.append((a, b, random_next))
            chunk, length = [], 0
        i += 1
    # Every instance of the document masked in one batch, token by token here.
    sequences, starts, special, offset = [], [], [], 0
    for a, b, _ in out:
        tokens = [params.cls_id * 2 + 1, *a, params.sep_id * 2 + 1, *b, params.sep_id * 2 + 1]
        marks = [t & 1 for t in tokens]
        for k in (0, len(a) + 1, len(tokens) - 1):
            special.append(offset + k)
            marks[k] = 1
            if k + 1 < len(tokens):
                marks[k + 1] = 1
        sequences.append([t >> 1 for t in tokens])
        starts += marks
        offset += len(tokens)
    lengths = np.array([len(s) for s in sequences])
    positions, replacements, counts = R.mask_flat(bytes(starts), lengths, np.array(special), params, gen)
    instances, j = [], 0
    for (a, b, random_next), ids, count in zip(out, sequences, counts, strict=True):
        where, new = positions[j : j + count], replacements[j : j + count]
        j += count
        output, labels = R.apply_masks(ids, where, new)
        segments = [0] * (len(a) + 2) + [1] * (len(b) + 1)
        instances.append(R.BertInstance(output, segments, where, labels, random_next))
    return instances


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
            assert split in R.SPLITS and 0 <= bucket < CONFIG.num_buckets
            for rows in file_shuffle.load_blocks([ref]):
                for key, paragraph, sentence, tokens in rows:
                    doc_id = key.split("\x00")[0]
                    assert R.bucket_of(doc_id, CONFIG.num_buckets) == bucket
                    assert R.split_of(doc_id, CONFIG.eval_percent) == split
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
        for spec in R.output_specs(config):
            _ = p | f"Records_{spec.name}" >> R.BuildPretrainingRecords(
                str(morph_dir / "part-*.parquet"), vocabs[spec.flavour], spec, config, str(out)
            )
    return vocabs


def read_records(pattern, spec, v2=False):
    import tensorflow as tf

    files = sorted(tf.io.gfile.glob(pattern))
    ds = tf.data.TFRecordDataset(files, compression_type="GZIP")
    parse = R.tf_feature_spec(spec.flavour, spec.seq_length, spec.max_predictions, v2)
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

    specs = {s.name: s for s in R.output_specs(CONFIG)}
    for name, spec in specs.items():
        sizes = []
        for i in range(8):
            path = str(tmp_path / "a" / name / "Split-train" / f"part-{i:05d}-of-00008.tfrecord.gz")
            sizes.append(len(read_records(path, spec)))
        assert max(sizes) - min(sizes) <= 1 and sum(sizes) > 8
        schema = S.schema_text(spec, R.vocab_size(vocabs[spec.flavour]))
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
    spec = R.output_specs(CONFIG)[0]
    files = sorted(str(p) for p in (tmp_path / "a" / "bert-128" / "Split-train").iterdir())
    too_small = S.schema_text(spec, vocab_size=6)  # ids >= 6 now out of range
    with pytest.raises(S.SchemaMismatch, match="input_ids"):
        S.validate_files(files, too_small, gzip=True)
    wrong_shape = S.schema_text(R.OutputSpec("bert-64", "bert", 64, 20), R.vocab_size(vocabs["bert"]))
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


# --- stats ------------------------------------------------------------------


def test_summarize_counts_fill_nsp_masks_and_unk():
    from pipeline.tools.tfrecord_stats import summarize

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "본", "발명"]
    x = R.BertInstance([2, 5, 4, 3, 1, 3], [0, 0, 0, 0, 1, 1], [2], [6], True)
    y = R.BertInstance([2, 5, 3, 6, 3], [0, 0, 0, 1, 1], [], [], False)
    stats = summarize([R.bert_features(x, 8, 2), R.bert_features(y, 8, 2)], vocab)
    assert stats["flavour"] == "bert" and stats["seq_length"] == 8
    assert stats["examples"] == 2 and stats["tokens"] == 11
    assert stats["fill"] == 11 / 16 and stats["nsp_random_next_share"] == 0.5
    assert stats["masked_count_distribution"] == {"0": 1, "1": 1}
    assert stats["unk_rate"] == 1 / 11
    assert sum(b["count"] for b in stats["length_histogram"]) == 2
    assert stats["examples_decoded"][0]["text"] == "[CLS] 본 [MASK] [SEP] [UNK] [SEP]"
    assert stats["examples_decoded"][0]["masked"] == [{"position": 2, "label": "발명"}]


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
def test_demo_run_to_tfrecords(demo_copy, tmp_path):
    """The chain up to tfrecords on the demo corpus through the CLI; the manifest reports
    validated counts. (`--to tfrecords`: the stages after it are not this file's.)"""
    import json
    import subprocess
    import sys

    from tests.helpers import REPO

    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--to", "tfrecords", "--config", demo_copy],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = tmp_path / "out" / "tfrecords"
    manifest = json.loads((out / "manifest.json").read_text())
    for name in ("bert-128", "electra-128"):
        counts = manifest["report"][name]
        assert counts["train"] > 0 and counts["eval"] > 0
        assert (out / name / "schema.pbtxt").exists()
        assert len(list((out / name / "Split-train").iterdir())) == 8
    assert not (out / R.SCRATCH).exists()  # the exchange files are gone
    morph = json.loads((tmp_path / "out" / "morph" / "manifest.json").read_text())
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
