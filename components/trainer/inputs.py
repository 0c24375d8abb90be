"""tf.data input pipelines over the `tfrecords` stage's GZIP TFRecords.

Records are parsed with `pipeline.pretraining.features.tf_feature_spec` (the one spec the
writer uses too) and renamed to Model Garden's names: input_word_ids,
input_mask, input_type_ids, masked_lm_positions, masked_lm_ids,
masked_lm_weights, next_sentence_labels; all int features become int32.
ELECTRA records carry no masks: `electra_mask` draws them per batch with
tensorflow_text's masking ops (80% [MASK] / 10% random / 10% kept).

BERT records written with `tfrecords.masking: dynamic` carry no masks either,
but `word_ids`: `whole_word_mask` draws Google's masks per batch, whole words,
from a stateless seed (the run's seed and the batch's index), so every epoch
gets new masks and a run is reproducible. tensorflow_text's
`RandomItemSelector` is not used there: it caps the number of *words*
selected, where Google caps the masked *pieces* (max_predictions_per_seq,
skipping a word that would overshoot), and it draws from a stateful
generator, which parallel tf.data maps make irreproducible.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

log = logging.getLogger(__name__)

# Google create_pretraining_data names -> Model Garden names (v2 names map to themselves).
MODEL_GARDEN_NAMES = {"input_ids": "input_word_ids", "segment_ids": "input_type_ids"}
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def special_ids(vocab_path: str) -> dict[str, int]:
    """Ids of [PAD] [UNK] [CLS] [SEP] [MASK] looked up in the vocab file."""
    from pipeline.text.tokenizer import load_vocab

    vocab = load_vocab(vocab_path)
    missing = [t for t in SPECIAL_TOKENS if t not in vocab]
    if missing:
        raise ValueError(f"{vocab_path} lacks {missing}")
    return {t: vocab[t] for t in SPECIAL_TOKENS}


def list_files(patterns: str | Sequence[str]) -> list[str]:
    """Sorted files matching the glob patterns; ValueError when nothing matches."""
    import tensorflow as tf

    if isinstance(patterns, str):
        patterns = [patterns]
    files = sorted({f for p in patterns for f in tf.io.gfile.glob(p)})
    if not files:
        raise ValueError(f"no files match {list(patterns)}")
    return files


def parse_batch(
    serialized, flavour: str, seq_length: int, max_predictions: int, v2_names: bool, masking: str = "static"
):
    """A batch of serialized tf.Examples -> dict of Model Garden named tensors."""
    import tensorflow as tf

    from pipeline.pretraining.features import tf_feature_spec

    spec = tf_feature_spec(flavour, seq_length, max_predictions, v2_names, masking)
    parsed = tf.io.parse_example(serialized, spec)
    features = {}
    for name, value in parsed.items():
        if value.dtype == tf.int64:
            value = tf.cast(value, tf.int32)
        features[MODEL_GARDEN_NAMES.get(name, name)] = value
    if "next_sentence_labels" in features:
        features["next_sentence_labels"] = tf.reshape(features["next_sentence_labels"], [-1])
    return features


def electra_mask(
    features: dict,
    vocab_size: int,
    mask_id: int,
    unselectable_ids: Sequence[int],
    max_predictions: int,
    mask_prob: float = 0.15,
) -> dict:
    """Dynamic MLM masking of a padded batch (pure TF, for tf.data.map).

    Selects ceil(mask_prob * real tokens) positions per row (at most
    max_predictions), never padding nor `unselectable_ids`; 80% become
    [MASK], 10% a random id, 10% stay. Adds masked_lm_positions (sorted),
    masked_lm_ids and masked_lm_weights, padded with 0 to [batch, max_predictions].
    """
    import tensorflow as tf
    import tensorflow_text as text

    ids = tf.cast(features["input_word_ids"], tf.int64)
    mask = tf.cast(features["input_mask"], tf.int64)
    shape = tf.shape(ids)
    ragged = tf.RaggedTensor.from_tensor(ids, lengths=tf.reduce_sum(mask, axis=1))
    selector = text.RandomItemSelector(
        max_selections_per_batch=max_predictions,
        selection_rate=mask_prob,
        unselectable_ids=list(unselectable_ids),
    )
    chooser = text.MaskValuesChooser(vocab_size, mask_id, mask_token_rate=0.8, random_token_rate=0.1)
    masked, positions, labels = text.mask_language_model(ragged, selector, chooser, axis=1)
    masked = masked.to_tensor(default_value=0, shape=shape)
    out = dict(features)
    out["input_word_ids"] = tf.cast(tf.where(mask > 0, masked, ids), tf.int32)
    batch = shape[0]
    out["masked_lm_positions"] = tf.cast(positions.to_tensor(0, shape=[batch, max_predictions]), tf.int32)
    out["masked_lm_ids"] = tf.cast(labels.to_tensor(0, shape=[batch, max_predictions]), tf.int32)
    out["masked_lm_weights"] = tf.sequence_mask(positions.row_lengths(), max_predictions, dtype=tf.float32)
    return out


def whole_word_mask(
    features: dict,
    seed,
    vocab_size: int,
    mask_id: int,
    special_ids: Sequence[int],
    max_predictions: int,
    mask_prob: float = 0.15,
    random_low: int = 0,
) -> dict:
    """Google's create_masked_lm_predictions on a padded batch, whole words (pure TF, stateless).

    `features` holds input_word_ids, input_mask and word_ids ([batch, seq]:
    the word of each position, 0, 1, 2... from the first one). Per row:
    num_to_predict = min(max_predictions, max(1, round(real tokens * mask_prob)));
    words in random order, each taken whole while it fits (a word that would
    overshoot is skipped and the next tried); words holding a `special_ids`
    token are never taken; each taken piece becomes [MASK] (80%), a random id
    in [random_low, vocab_size) (10%) or stays (10%). `seed` is a [2] int
    tensor: the same seed, the same masks. Adds masked_lm_positions (sorted),
    masked_lm_ids and masked_lm_weights, padded with 0 to [batch, max_predictions].
    """
    import tensorflow as tf

    ids = features["input_word_ids"]
    real = tf.cast(features["input_mask"], tf.bool)
    words = tf.cast(features["word_ids"], tf.int32)
    batch, length = tf.shape(ids)[0], tf.shape(ids)[1]
    select_seed, kind_seed, random_seed = tf.unstack(
        tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 3)
    )
    # Word lengths and "holds a special token", by (row, word) segments: a row has at most `length` words.
    segment = tf.where(real, tf.range(batch)[:, None] * length + words, batch * length)
    flat_segment = tf.reshape(segment, [-1])
    segments = batch * length + 1
    word_length = tf.math.unsorted_segment_sum(tf.ones_like(flat_segment), flat_segment, segments)
    is_special = tf.reduce_any(ids[..., None] == tf.constant(list(special_ids), ids.dtype), axis=-1)
    special_word = tf.math.unsorted_segment_max(
        tf.cast(tf.reshape(is_special, [-1]), tf.int32), flat_segment, segments
    )
    word_length = tf.reshape(word_length[:-1], [batch, length])
    candidate = (word_length > 0) & (tf.reshape(special_word[:-1], [batch, length]) <= 0)
    # In float64 and rounded half to even, as Python's round(n * 0.15): 30 tokens give 4.
    n_real = tf.reduce_sum(tf.cast(real, tf.float64), axis=1)
    to_predict = tf.minimum(max_predictions, tf.maximum(1, tf.cast(tf.round(n_real * mask_prob), tf.int32)))
    # Candidates in random order (the others last, never fitting), then Google's greedy take.
    keys = tf.where(candidate, tf.random.stateless_uniform([batch, length], select_seed), 2.0)
    order = tf.argsort(keys, axis=1, stable=True)
    never_fits = max_predictions + 1
    grid = tf.gather(tf.where(candidate, word_length, never_fits), order, batch_dims=1)

    # The prefix that fits, at once (lengths are positive: where the running sum stays within
    # the target); then, in rows with room left, each round takes the first later word that fits,
    # the one Google's loop would take next. Few rounds: most rows end with the prefix.
    taken_sorted = tf.cumsum(grid, axis=1) <= to_predict[:, None]
    room = to_predict - tf.reduce_sum(tf.where(taken_sorted, grid, 0), axis=1)
    examined = tf.reduce_sum(tf.cast(taken_sorted, tf.int32), axis=1)  # that column did not fit
    columns = tf.range(length)[None, :]

    def fitting(room, examined):
        return (columns > examined[:, None]) & (grid <= room[:, None])

    def more(taken, room, examined):
        return tf.reduce_any(fitting(room, examined))

    def take_next(taken, room, examined):
        fits = fitting(room, examined)
        some = tf.reduce_any(fits, axis=1)
        column = tf.argmax(tf.cast(fits, tf.int32), axis=1, output_type=tf.int32)
        chosen = tf.one_hot(column, length, on_value=True, off_value=False) & some[:, None]
        room = room - tf.where(some, tf.gather(grid, column, batch_dims=1), 0)
        return taken | chosen, room, tf.where(some, column, length)

    taken_sorted, _, _ = tf.while_loop(more, take_next, (taken_sorted, room, examined))
    taken_word = tf.gather(taken_sorted, tf.argsort(order, axis=1), batch_dims=1)
    selected = tf.gather(taken_word, words, batch_dims=1) & real
    # 80% [MASK], 10% a random id, 10% kept, drawn per piece as Google does.
    kind = tf.random.stateless_uniform([batch, length], kind_seed)
    random_ids = tf.random.stateless_uniform(
        [batch, length], random_seed, minval=random_low, maxval=vocab_size, dtype=tf.int32
    )
    random_or_kept = tf.where(kind >= 0.9, tf.cast(random_ids, ids.dtype), ids)
    replaced = tf.where(kind < 0.8, tf.cast(mask_id, ids.dtype), random_or_kept)
    positions = tf.ragged.boolean_mask(tf.broadcast_to(tf.range(length), [batch, length]), selected)
    out = {k: v for k, v in features.items() if k != "word_ids"}
    out["input_word_ids"] = tf.where(selected, replaced, ids)
    padded = positions.to_tensor(0, shape=[batch, max_predictions])
    weights = tf.sequence_mask(positions.row_lengths(), max_predictions, dtype=tf.float32)
    out["masked_lm_positions"] = tf.cast(padded, ids.dtype)
    out["masked_lm_ids"] = tf.gather(ids, padded, batch_dims=1) * tf.cast(weights, ids.dtype)
    out["masked_lm_weights"] = weights
    return out


def make_dataset(
    patterns: str | Sequence[str],
    settings,
    batch_size: int,
    is_training: bool,
    special: dict[str, int] | None = None,
    input_context=None,
    seed: int | None = None,
):
    """Batches of `batch_size` features from GZIP TFRecords.

    Training: files shuffled and repeated, records shuffled (settings.shuffle_buffer,
    seeded), batches of a fixed size. Eval: one pass in file order. ELECTRA
    batches get `electra_mask` (which needs `special`, from `special_ids`).
    `input_context` shards the files between input pipelines (multi-worker).
    """
    import tensorflow as tf

    seed = settings.seed if seed is None else seed
    files = list_files(patterns)
    autotune = tf.data.AUTOTUNE
    dataset = tf.data.Dataset.from_tensor_slices(files)
    pipelines = input_context.num_input_pipelines if input_context is not None else 1
    # Each worker reads its own files; with fewer files than workers, its own records.
    shard_files = pipelines > 1 and len(files) >= pipelines
    if shard_files:
        dataset = dataset.shard(pipelines, input_context.input_pipeline_id)
    if is_training:
        dataset = dataset.shuffle(len(files), seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.interleave(
        lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"),
        cycle_length=min(len(files), 8),
        num_parallel_calls=autotune,
        deterministic=not is_training,
    )
    if pipelines > 1 and not shard_files:
        dataset = dataset.shard(pipelines, input_context.input_pipeline_id)
    if is_training:
        dataset = dataset.shuffle(settings.shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size, drop_remainder=True)
    flavour = settings.model_type
    records_predictions = settings.max_predictions if flavour == "bert" else 0
    dynamic = flavour == "bert" and settings.masking == "dynamic"
    dataset = dataset.map(
        lambda s: parse_batch(
            s,
            flavour,
            settings.seq_length,
            records_predictions,
            settings.v2_feature_names,
            "dynamic" if dynamic else "static",
        ),
        num_parallel_calls=autotune,
    )
    if dynamic:
        if special is None:
            raise ValueError("dynamic masking needs the special token ids (inputs.special_ids)")
        # A seed per batch: (run seed, batch index * pipelines + pipeline id), so each epoch
        # and each input pipeline draws new masks, and a rerun draws the same.
        pipeline_id = input_context.input_pipeline_id if input_context is not None else 0
        never = [special[t] for t in ("[PAD]", "[CLS]", "[SEP]", "[MASK]")]
        dataset = dataset.enumerate().map(
            lambda index, f: whole_word_mask(
                f,
                tf.stack([tf.constant(seed, tf.int64), index * pipelines + pipeline_id]),
                settings.vocab_size,
                special["[MASK]"],
                never,
                settings.max_predictions,
                settings.masked_lm_prob,
                max(special.values()) + 1,  # random ids never reserved ones: [MASK] ends both heads
            ),
            num_parallel_calls=autotune,
        )
    if flavour == "electra":
        if special is None:
            raise ValueError("ELECTRA inputs need the special token ids (inputs.special_ids)")
        unselectable = [special["[CLS]"], special["[SEP]"], special["[PAD]"]]
        dataset = dataset.map(
            lambda f: electra_mask(
                f,
                settings.vocab_size,
                special["[MASK]"],
                unselectable,
                settings.max_predictions,
                settings.electra_mask_prob,
            ),
            num_parallel_calls=autotune,
        )
    return dataset.prefetch(autotune)


def distributed_dataset(strategy, patterns, settings, is_training: bool, special=None, seed=None):
    """The global batch (settings.global_batch_size) split evenly across the strategy's replicas."""
    replicas = strategy.num_replicas_in_sync
    if settings.global_batch_size % replicas:
        raise ValueError(
            f"global_batch_size {settings.global_batch_size} is not divisible by {replicas} replicas"
        )

    def dataset_fn(context):
        batch = context.get_per_replica_batch_size(settings.global_batch_size)
        return make_dataset(patterns, settings, batch, is_training, special, context, seed)

    return strategy.distribute_datasets_from_function(dataset_fn)
