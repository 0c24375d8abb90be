"""The schema of `pipeline.yaml`: one frozen dataclass per section.

One section per stage, each a frozen dataclass whose fields carry help text
(`python -m pipeline config --explain` prints it); `loader` reads and checks
the file against it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

INPUT_FORMATS = ("kipo_xml", "jsonl", "parquet", "text")


class ConfigError(ValueError):
    """A configuration problem, with the dotted key or path it concerns."""


def _field(default: Any, help: str, *, machine: bool = False, **extra: Any) -> Any:
    """A setting with its help text. machine=True: it says where or how fast a stage
    runs, never what it writes, so it stays out of fingerprints (moving to a bigger
    machine never makes an output stale)."""
    if isinstance(default, (list, dict)):
        raise TypeError("use tuples for sequence defaults so configs stay hashable")
    return dataclasses.field(default=default, metadata={"help": help, "machine": machine, **extra})


@dataclasses.dataclass(frozen=True)
class InputSpec:
    glob: str = _field("", "File glob (local path or gs://...); .gz files are decompressed.")
    format: Literal["kipo_xml", "jsonl", "parquet", "text"] = _field(
        "kipo_xml", "Input format: kipo_xml, jsonl, parquet or text (【section】 headers)."
    )


@dataclasses.dataclass(frozen=True)
class RunnerConfig:
    runner: str = _field("DirectRunner", "Beam runner: DirectRunner or DataflowRunner.")
    direct_running_mode: Literal["in_memory", "multi_threading", "multi_processing"] = _field(
        "multi_processing", "DirectRunner mode; multi_processing uses one process per worker."
    )
    direct_num_workers: int = _field(0, "DirectRunner workers; 0 means one per CPU core.")
    scratch_dir: str = _field(
        "",
        "Local folder for a stage's temporary files (copies of user.dic and vocabularies, "
        "compiler work folders); each stage run gets its own folder inside, removed when the "
        "stage ends, on success and on failure. Empty: the system's temporary folder.",
    )
    options: tuple[str, ...] = _field(
        (), "Extra Beam pipeline flags, e.g. ['--network=my-vpc', '--no_use_public_ips']."
    )
    exchange: Literal["auto", "files", "beam"] = _field(
        "auto",
        "How clean and tfrecords move data between tasks (dedup keys and markers; sentences and "
        "examples): files = through scratch files in the output folder, Beam groups only "
        "references to them (bounds the DirectRunner's memory, whose GroupByKey lives in its own "
        "process); beam = through Beam's GroupByKey (on Dataflow, the Dataflow Shuffle service); "
        "auto = files on DirectRunner, beam on DataflowRunner. The outputs are byte-identical "
        "either way.",
    )
    jobs: Literal["auto", "per_stage", "fused"] = _field(
        "auto",
        "How `run` groups stages into Beam jobs: per_stage = one job per stage, each stage's "
        "output swapped in as soon as its job ends; fused = consecutive stages from ingest up to "
        "tfrecords in one job (each still writes its own folder and manifest, after the job "
        "succeeds), so Dataflow starts its workers once instead of seven times, but a failure "
        "late in the job keeps none of the job's stages; auto = per_stage on DirectRunner, fused "
        "on DataflowRunner. The outputs are byte-identical either way.",
    )
    # DataflowRunner settings: each becomes the Beam flag of the same name when
    # set (see DATAFLOW_FLAGS). Credentials never belong here: Beam uses
    # Application Default Credentials (gcloud auth application-default login,
    # or the service account of the machine that submits the job).
    project: str = _field("", "Google Cloud project id (DataflowRunner; required).")
    region: str = _field("", "Dataflow region, e.g. asia-northeast3 (DataflowRunner; required).")
    temp_location: str = _field("", "gs:// folder for Beam's temporary files (DataflowRunner; required).")
    staging_location: str = _field("", "gs:// folder for the staged job; empty: temp_location.")
    sdk_container_image: str = _field(
        "",
        "Worker image built from ./Dockerfile (REGION-docker.pkg.dev/PROJECT/REPO/korpat-pipeline:TAG); "
        "empty: Beam's stock image, which lacks this package and its pins (see docs/dataflow.md).",
    )
    machine_type: str = _field("", "Dataflow worker machine type, e.g. n2-standard-4; empty: default.")
    max_num_workers: int = _field(0, "Dataflow autoscaling ceiling; 0: Dataflow's default.", minimum=0)
    disk_size_gb: int = _field(0, "Dataflow worker disk in GB; 0: Dataflow's default.", minimum=0)
    service_account_email: str = _field(
        "", "Identity the Dataflow workers run as (an e-mail, not a key); empty: the project's default."
    )

    @property
    def resolved_exchange(self) -> str:
        """`exchange` with `auto` resolved for this runner: "files" or "beam"."""
        if self.exchange != "auto":
            return self.exchange
        return "beam" if self.runner == "DataflowRunner" else "files"

    @property
    def resolved_jobs(self) -> str:
        """`jobs` with `auto` resolved for this runner: "per_stage" or "fused"."""
        if self.jobs != "auto":
            return self.jobs
        return "fused" if self.runner == "DataflowRunner" else "per_stage"


# RunnerConfig fields passed to Beam as `--NAME=value` (same names as Beam's
# flags) when the runner is DataflowRunner and the field is set.
DATAFLOW_FLAGS = (
    "project",
    "region",
    "temp_location",
    "staging_location",
    "sdk_container_image",
    "machine_type",
    "max_num_workers",
    "disk_size_gb",
    "service_account_email",
)
# The committed Dataflow profile's placeholders: run, stage and status refuse them.
PLACEHOLDERS = ("your-gcp-project", "gs://your-bucket")


@dataclasses.dataclass(frozen=True)
class IngestConfig:
    encodings: tuple[str, ...] = _field(
        ("utf-8", "cp949"),
        "Encodings tried in order when a file has no BOM or XML declaration (cp949 is a superset of EUC-KR).",
    )
    num_shards: int = _field(
        8,
        "Output shards (ingest and clean write one file per shard; each input file goes to one "
        "shard). Use at least 2x the number of workers, and about input MB / 200 for large corpora.",
        minimum=1,
    )
    max_file_mb: int = _field(
        256,
        "XML and text files are read whole: larger ones are rejected (file_too_large) to bound memory.",
        minimum=1,
    )
    split_mb: int = _field(
        4, "Uncompressed JSONL files are read in byte ranges of this size, in parallel.", minimum=1
    )
    max_reject_share: float = _field(
        0.05,
        "The stage fails (exit 1) when more than this share of input units (files, JSONL lines, "
        "Parquet rows) is rejected: a bad unit costs itself, a systematic fault stops the run.",
        minimum=0.0,
        maximum=1.0,
    )
    follow_symlinks_outside: bool = _field(
        False, "Read symlinks in the input folders whose target lies outside every input folder."
    )


@dataclasses.dataclass(frozen=True)
class NearDuplicatesConfig:
    """Near-duplicate publications, a step of clean (pipeline/text/near_duplicates.py,
    rule `minhash_lsh_v2`): applications and their grants, divisionals, re-filings."""

    enabled: bool = _field(True, "Remove near-duplicate publications (keep the smallest id of each cluster).")
    shingle_size: int = _field(
        5, "Words per shingle (word n-grams of \\w+ runs, lowercased; within a paragraph).", minimum=1
    )
    num_perm: int = _field(
        128,
        "MinHash functions per signature: the Jaccard estimate's error is ~sqrt(J(1-J)/num_perm).",
        minimum=8,
    )
    bands: int = _field(
        20,
        "LSH bands of num_perm // bands rows; a pair sharing one band's rows is a candidate. "
        "20 x 6 of 128: a pair at Jaccard 0.8 is a candidate with p 0.998, at 0.5 with p 0.27.",
        minimum=1,
    )
    threshold: float = _field(
        0.7,
        "Estimated Jaccard that confirms a candidate pair (whole texts), and a paragraph pair for "
        "containment. 0.7 keeps recall 1.0 on generated pairs at true Jaccard >= 0.8 (docs/stages.md).",
        minimum=0.0,
        maximum=1.0,
    )
    containment_threshold: float = _field(
        0.3,
        "Share of a publication's characters in paragraphs near-duplicated in one other publication "
        "that confirms the pair (divisionals repeat their parent's background and drawings: 0.40 on the demo).",
        minimum=0.0,
        maximum=1.0,
    )
    min_paragraph_shingles: int = _field(
        8, "Paragraphs with fewer shingles get no band keys of their own (titles, short claims).", minimum=1
    )
    paragraph_bands: int = _field(
        2,
        "Band keys per keyed paragraph (its first bands): paragraph keys are most of the grouped keys, "
        "and a family repeats paragraphs near-exactly (2 x 6 rows: p 0.76 at Jaccard 0.8, 1.0 at 1.0). "
        "4.07M publications: 0.34 billion keys instead of 2.6 (docs/dataflow.md).",
        minimum=1,
    )
    max_bucket_size: int = _field(
        100,
        "A band bucket shared by more publications is shared text (stock paragraphs, templates), not a "
        "family: a paragraph bucket then gives no candidate pairs, a whole-text bucket pairs each "
        "member with its smallest only (counted as near_duplicate_large_buckets).",
        minimum=2,
    )
    seed: int = _field(1, "Seed of the MinHash functions; signatures compare only under one seed.")


@dataclasses.dataclass(frozen=True)
class CleanConfig:
    unicode_form: Literal["NFC", "NFKC"] = _field(
        "NFC",
        "Unicode normalisation. NFC keeps ², ①, ㎛ and Hangul compatibility jamo intact; "
        "NFKC rewrites them (see docs/stages.md, clean).",
    )
    fold_fullwidth: bool = _field(
        True, "Map full-width ASCII (ＡＢＣ１２３（）) and the ideographic space to ASCII."
    )
    min_sentence_chars: int = _field(8, "Sentences shorter than this are dropped.", minimum=0)
    max_sentence_chars: int = _field(
        2000,
        "Sentences longer than this are dropped (SentencePiece skips sentences over 4192 bytes).",
        minimum=1,
    )
    min_hangul_ratio: float = _field(
        0.3,
        "Minimum share of Hangul syllables among non-space characters of a sentence.",
        minimum=0.0,
        maximum=1.0,
    )
    max_char_run: int = _field(
        10, "A run of one character longer than this marks a sentence as junk.", minimum=2
    )
    dedup_documents: bool = _field(True, "Drop documents whose cleaned text repeats another's.")
    dedup_paragraphs: bool = _field(
        True, "Drop paragraphs repeated across documents (patent families repeat text)."
    )
    min_dedup_paragraph_chars: int = _field(
        40, "Paragraphs shorter than this are never treated as duplicates.", minimum=0
    )
    blank_line_between: Literal["paragraphs", "documents"] = _field(
        "paragraphs",
        "Google BERT layout: a blank line after every paragraph (KorPatBERT) or only between documents.",
    )
    snippet_chars: int = _field(160, "Characters of text kept in reject records.", minimum=0)
    max_error_share: float = _field(
        0.01,
        "The stage fails (exit 1) when cleaning raised an error on more than this share of "
        "documents (each such document is rejected as clean_error; filter drops do not count).",
        minimum=0.0,
        maximum=1.0,
    )
    near_duplicates: NearDuplicatesConfig = _field(
        NearDuplicatesConfig(),
        "Near-duplicate publications (MinHash LSH over word shingles), after the exact dedup.",
    )


@dataclasses.dataclass(frozen=True)
class NounsConfig:
    enabled: bool = _field(
        True,
        "false skips extraction and writes an empty noun list (when you bring your own "
        "dictionary CSV, see dictionary.user_csvs).",
    )
    min_eojeol_count: int = _field(
        2, "Eojeols seen fewer times than this are pruned before soynlp scores them.", minimum=1
    )
    max_eojeols: int = _field(
        5_000_000,
        "At most this many distinct eojeols reach soynlp's scoring (~2.6 KB each); when more "
        "survive min_eojeol_count the threshold is raised until they fit, and the manifest says so.",
        minimum=1,
    )
    scoring_partitions: int = _field(
        64,
        "soynlp scores the eojeols in this many parallel tasks, each holding the eojeols that begin "
        "with its characters (a stable hash of the first character); the nouns found do not depend "
        "on it. The largest partition bounds the step's time and memory.",
        minimum=1,
        machine=True,
    )
    scoring_min_ram: str = _field(
        "",
        "Beam resource hint for the two soynlp scoring steps, e.g. '4GB' (about 2.6 KB per eojeol "
        "of the largest partition plus headroom). Dataflow honours it per step with Dataflow Prime "
        "(--dataflow_service_options=enable_prime); otherwise choose runner.machine_type for it.",
        machine=True,
    )
    max_left_length: int = _field(
        10, "soynlp max_left_length: longest noun candidate (L part of an eojeol).", minimum=2
    )
    max_right_length: int = _field(
        9,
        "soynlp max_right_length: longest particle/ending (R part). Eojeols longer than "
        "max_left_length + max_right_length are not counted, as in soynlp.",
        minimum=1,
    )
    ensure_normalized: bool = _field(
        False, "Apply soynlp's normalize_sent_for_lrgraph to each sentence before counting."
    )
    extract_compound: bool = _field(True, "Let soynlp also extract compound nouns (합성+세제+액).")
    min_noun_score: float = _field(
        0.3, "soynlp min_noun_score: candidates scoring below this are not nouns.", minimum=0.0, maximum=1.0
    )
    min_noun_frequency: int = _field(2, "Nouns seen fewer times than this are dropped.", minimum=1)
    min_noun_length: int = _field(2, "Shorter nouns are dropped (2 drops single syllables).", minimum=1)
    max_noun_length: int = _field(20, "Longer nouns are dropped.", minimum=1)
    min_hangul_ratio: float = _field(
        0.5,
        "Nouns whose share of Hangul syllables is below this are dropped (0 keeps Latin and Hanja terms).",
        minimum=0.0,
        maximum=1.0,
    )
    allow_digits: bool = _field(
        False, "Keep nouns containing digits (제1항, 500시간 are dropped by default)."
    )
    stop_list: str = _field(
        "dictionaries/stopwords.txt",
        "Nouns never to keep: one per line, '-suffix' drops every noun ending so, '#' comments.",
    )
    units_list: str = _field(
        "dictionaries/units.txt", "Units of measure, dropped alone or after a number (mm, 중량%, 10kg)."
    )


@dataclasses.dataclass(frozen=True)
class DictionaryConfig:
    pos: Literal["NNP", "NNG"] = _field("NNP", "POS tag of every added noun (KorPatBERT used NNP).")
    compound_part_pos: Literal["NNG", "NNP"] = _field(
        "NNG", "POS tag of the parts in a compound's expression (합성/NNG/*+세제/NNG/*)."
    )
    cost: int | None = _field(
        None,
        "Word cost of every added noun; empty (null): by its length (length_costs). Lower costs keep "
        "nouns whole more often (docs/stages.md: dictionary).",
        minimum=-32768,
        maximum=32767,
    )
    length_costs: tuple[int, ...] = _field(
        (1000, 500, 0),
        "Word cost of an added noun by its length when cost is null: nouns of 2 characters or fewer, 3, "
        "4 or more (the last for the rest). The demo: 98% of dictionary nouns whole (target 0.95). "
        "Empty with a null cost: mecab-dict-index assigns it (2953 for NNP; 77% whole).",
    )
    include_extracted_nouns: bool = _field(True, "Add the nouns stage's output.")
    skip_known_nouns: bool = _field(
        True,
        "Do not add extracted nouns that the stock dictionary already reads as one noun, or as a "
        "noun plus derivational suffixes (안정+성, 최소+화); curated lists and user CSVs are always added.",
    )
    term_lists: tuple[str, ...] = _field(
        ("dictionaries/seed_terms.txt",),
        "Curated term lists: one term per line, optionally 'term<TAB>part+part' for a compound.",
    )
    user_csvs: tuple[str, ...] = _field(
        (),
        "Complete mecab-ko-dic user dictionary CSVs (12 columns, e.g. KorPatBERT's "
        "pat_all_mecab_dic.csv): validated, then merged as they are.",
    )
    skip_malformed_rows: bool = _field(
        False,
        "Skip (count, write to rejects.jsonl) malformed user_csvs rows and term-list lines instead of failing.",
    )
    eval_sentences: int = _field(
        20000,
        "Corpus sentences (a fixed hash sample) parsed with and without the user dictionary for the check.",
        minimum=1,
    )
    target_single_token_share: float = _field(
        0.95,
        "Share of dictionary nouns that should come out as one token; the manifest reports whether it is met.",
        minimum=0.0,
        maximum=1.0,
    )
    examples: int = _field(10, "Before/after examples kept in the manifest.", minimum=0)


@dataclasses.dataclass(frozen=True)
class MorphConfig:
    use_user_dictionary: bool = _field(
        True, "Load the dictionary stage's user.dic into Mecab-ko (KorPatBERT did)."
    )
    batch_sentences: int = _field(
        5000,
        "Sentences per call of MeCab's C++ parser; larger batches amortise the call.",
        minimum=1,
        machine=True,
    )


@dataclasses.dataclass(frozen=True)
class VocabConfig:
    bert_vocab_size: int = _field(
        21400,
        "SentencePiece pieces for the BERT flavour (KorPatBERT: 21,400); lowered to what the sample "
        "supports when it is too large (the manifest records requested and actual).",
        minimum=16,
    )
    electra_vocab_size: int = _field(
        35000, "WordPiece entries for the ELECTRA flavour (KorPatELECTRA: 35,000).", minimum=16
    )
    model_type: Literal["bpe", "unigram"] = _field(
        "bpe", "SentencePiece model: bpe (KorPatBERT's vocab looks like BPE) or unigram."
    )
    sample_sentences: int = _field(
        5_000_000,
        "Training sentences, a uniform seeded sample drawn in Beam; SentencePiece holds them all in "
        "memory (1-10M is plenty).",
        minimum=1,
    )
    eval_sentences: int = _field(
        20000, "Held-out sentences (disjoint from the training sample) for the report.", minimum=0
    )
    seed: int = _field(0, "Seed of the sample; same inputs and seed give the same vocab files.")
    character_coverage: float = _field(
        0.9995,
        "Share of character occurrences both vocabularies must cover (0.9995 is the CJK setting); "
        "rarer characters become [UNK]. Also sizes the WordPiece alphabet.",
        minimum=0.9,
        maximum=1.0,
    )
    max_sentence_bytes: int = _field(
        4192,
        "SentencePiece's max_sentence_length: longer training sentences are cut between words "
        "(counted as long_sentences_split) instead of being skipped silently.",
        minimum=64,
    )
    spm_num_threads: int = _field(
        16,
        "SentencePiece trainer threads. Reruns are byte-identical for a given count, but the "
        "result depends on it, so it is fixed here rather than taken from the machine.",
        minimum=1,
    )
    training_min_ram: str = _field(
        "",
        "Beam resource hint for the central training step, e.g. '16GB' (it holds the whole "
        "sample: 9.5 GB measured at 5M sentences). Dataflow honours it per step with Dataflow Prime "
        "(--dataflow_service_options=enable_prime); otherwise choose runner.machine_type for it.",
        machine=True,
    )
    wordpiece_lower_thresh: int = _field(
        10, "WordPiece learner: lowest count threshold its binary search tries.", minimum=1
    )
    wordpiece_upper_thresh: int = _field(
        10_000_000, "WordPiece learner: highest count threshold its binary search tries.", minimum=1
    )
    wordpiece_num_iterations: int = _field(4, "WordPiece learner iterations.", minimum=1)
    wordpiece_max_input_words: int = _field(
        5_000_000, "WordPiece learner: only the most frequent distinct words are used.", minimum=1
    )
    wordpiece_max_token_length: int = _field(
        50, "WordPiece learner: longer words are not counted.", minimum=1
    )
    wordpiece_slack_ratio: float = _field(
        0.05,
        "WordPiece learner: accepted shortfall below electra_vocab_size (its search stops within it).",
        minimum=0.0,
        maximum=0.5,
    )
    wordpiece_processes: int = _field(
        0,
        "Processes for the WordPiece learner's threshold search: with 3 (or 7) each round learns "
        "the next 2 (or 3) levels' thresholds at once; 1 or 2 search one threshold at a time. The "
        "vocabulary is the same either way. Each process holds the word counts and the learner "
        "(~1 GB at 700,000 distinct words). 0: 3, or fewer on a machine with fewer CPUs.",
        minimum=0,
        machine=True,
    )


@dataclasses.dataclass(frozen=True)
class TfrecordsConfig:
    outputs: tuple[str, ...] = _field(
        ("bert-128", "electra-128"),
        "What to write, FLAVOUR-LENGTH each: bert-128, bert-512 (phase 2), electra-128, electra-512.",
    )
    document: Literal["publication", "paragraph"] = _field(
        "publication",
        "What a 'document' is for NSP and packing: a whole publication, or one paragraph "
        "(KorPatBERT's blank-line layout). Publication gives balanced NSP on patents (docs/stages.md: tfrecords).",
    )
    whole_word_mask: bool = _field(
        True, "BERT: mask whole eojeols (morph's word starts) rather than single WordPiece pieces."
    )
    masked_lm_prob: float = _field(0.15, "BERT: share of tokens masked.", minimum=0.0, maximum=1.0)
    max_predictions_per_seq: int = _field(
        0, "BERT: masked positions per sequence; 0: Google's 20 at 128, 76 at 512.", minimum=0
    )
    short_seq_prob: float = _field(
        0.1, "BERT: share of documents given a shorter random target length.", minimum=0.0, maximum=1.0
    )
    nsp_rule: Literal["balanced", "google"] = _field(
        "balanced",
        "BERT NSP labels: balanced (google_bert_instances_v3: a real next segment whenever the "
        "document has one, the label-1 share kept near 0.5, also on short abstracts) or google "
        "(google_bert_instances_v2, Google's draws: ~2/3 random next on 2-sentence documents).",
    )
    masking: Literal["static", "dynamic"] = _field(
        "static",
        "BERT: static (Google's records: masked here, dupe_factor copies with different masks; what "
        "Google-format consumers read) or dynamic (each instance written once, unmasked, with word_ids; "
        "the trainer masks whole words anew each epoch, as RoBERTa; ~1/dupe_factor of the build).",
    )
    dupe_factor: int = _field(
        10,
        "BERT, static masking: times each document is turned into instances, with different masks "
        "(dynamic masking writes each once).",
        minimum=1,
    )
    v2_feature_names: bool = _field(
        False, "Model Garden v2 names (input_word_ids, input_type_ids) instead of Google's."
    )
    num_buckets: int = _field(
        64,
        "Documents are grouped into this many buckets by publication hash; instances and random "
        "next sentences come from one bucket at a time (bounded memory).",
        minimum=1,
    )
    seed: int = _field(12345, "Global seed; per-bucket seeds derive from it.")
    eval_percent: float = _field(
        1.0, "Share of publications (percent) written to Split-eval.", minimum=0.0, maximum=100.0
    )
    num_shards: int = _field(64, "Train shard files per output (a multiple of 8 suits TPU hosts).", minimum=1)
    eval_num_shards: int = _field(8, "Eval shard files per output.", minimum=1)
    gzip: bool = _field(True, "GZIP the TFRecord files (.tfrecord.gz, as TFX's Examples expects).")
    validate_shards: int = _field(
        0,
        "Shards per split that TFDV validates after the job (runs locally); 0: all. "
        "On a large corpus a sample (e.g. 8) keeps the check short.",
        minimum=0,
    )
    bert_vocab: str = _field("", "BERT vocab.txt; empty: the vocab stage's vocab/bert/vocab.txt.")
    electra_vocab: str = _field("", "ELECTRA vocab.txt; empty: the vocab stage's vocab/electra/vocab.txt.")


@dataclasses.dataclass(frozen=True)
class TrainPhase:
    output: str = _field("bert-128", "A tfrecords output to train on (bert-L or electra-L).")
    steps: int = _field(60, "Training steps of this phase (global batches).", minimum=1)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    init_checkpoint: str = _field(
        "",
        "Start the first phase of each model type from an existing model instead of random "
        "weights: a Google-layout BERT folder (any *.ckpt* prefix + bert_config.json or a "
        "*_config.json such as KorPatBERT's + vocab.txt), a Hugging Face folder (an export's hf/) "
        "or an export of this pipeline. Its config sets the model size; encoder and pretraining "
        "heads are restored, optimizer and step start fresh. tfrecords.bert_vocab must then name "
        "the checkpoint's vocab.",
    )
    phases: tuple[TrainPhase, ...] = _field(
        (TrainPhase("bert-128", 60), TrainPhase("electra-128", 60)),
        "What to pretrain, in order. Phases of one model type chain: each starts from the "
        "previous one's weights (KorPatBERT: bert-128 for 90% of steps, then bert-512).",
    )
    model_size: Literal["tiny", "small", "base"] = _field(
        "tiny",
        "Encoder preset: tiny (demo and tests), small, or base = KorPatBERT's BERT-base "
        "(12 layers, hidden 768, 12 heads, intermediate 3072, 512 positions, gelu, dropout 0.1).",
    )
    global_batch_size: int = _field(
        16, "Examples per step over all replicas (each replica gets an equal part).", minimum=1
    )
    learning_rate: float = _field(
        0.0,
        "Peak AdamW learning rate (after warm-up); 0: the model size's default "
        "(tiny 2e-3, small 5e-4, base 1e-4, KorPatBERT's).",
        minimum=0.0,
    )
    warmup_steps: int = _field(10, "Linear warm-up steps; then linear decay to 0.", minimum=0)
    weight_decay: float = _field(0.01, "AdamW weight decay.", minimum=0.0)
    eval_steps: int = _field(10, "Batches of Split-eval evaluated after training.", minimum=0)
    checkpoint_every: int = _field(
        20, "Save a checkpoint every N steps; a killed run resumes from the last one.", minimum=1
    )
    summary_every: int = _field(10, "TensorBoard summaries and a progress line every N steps.", minimum=1)
    keep_checkpoints: int = _field(3, "Checkpoints kept per phase.", minimum=1)
    mixed_precision: Literal["auto", "on", "off"] = _field(
        "auto", "mixed_float16: auto = on when training on GPUs."
    )
    cpu_replicas: int = _field(
        2,
        "Without a GPU, split the CPU into this many logical devices so MirroredStrategy runs "
        "with that many replicas (how the multi-GPU path is exercised on CPU); 1: no split.",
        minimum=1,
        machine=True,
    )
    seed: int = _field(0, "Seed of initialisation, input shuffling and ELECTRA's dynamic masks.")
    enable_cache: bool = _field(
        True, "TFX caching: nodes whose inputs and settings are unchanged are not re-executed."
    )
    fail_on_anomalies: bool = _field(
        True, "Stop before training when ExampleValidator finds anomalies against the schema."
    )
    schema_dir: str = _field(
        "",
        "Folder of <output>/schema.pbtxt that ImportSchemaGen imports; empty: the project's "
        "tfrecords_schema/ (with v2_feature_names, the copy beside the records).",
    )
    # Managed training (Vertex AI Pipelines): used by `python -m pipeline compile-vertex`.
    vertex_image: str = _field(
        "",
        "Container image (Python 3.11, this package, TFX 1.16) for Vertex AI pipeline steps.",
        machine=True,
    )
    vertex_machine_type: str = _field("a2-highgpu-8g", "Vertex AI training machine type.", machine=True)
    vertex_accelerator_type: str = _field("NVIDIA_TESLA_A100", "Vertex AI accelerator type.", machine=True)
    vertex_accelerator_count: int = _field(
        8, "GPUs per training machine (MirroredStrategy).", minimum=0, machine=True
    )
    vertex_replica_count: int = _field(
        1,
        "Training machines; more than 1 uses MultiWorkerMirroredStrategy.",
        minimum=1,
        machine=True,
    )


@dataclasses.dataclass(frozen=True)
class FinetuneConfig:
    data: str = _field(
        "data/demo/cpc_sentences.tsv",
        "Labelled sentences, one `label<TAB>sentence` per line (KorPatBERT's lm_test_data.tsv layout).",
    )
    model: Literal["bert", "electra"] = _field(
        "bert", "Which pretrained encoder to fine-tune: the train stage's newest bert or electra export."
    )
    max_len: int = _field(128, "Tokens per example, [CLS] and [SEP] included.", minimum=8)
    epochs: int = _field(3, "Passes over the training split.", minimum=1)
    batch_size: int = _field(32, "Examples per step.", minimum=1)
    learning_rate: float = _field(3e-5, "Adam learning rate (KorPatBERT's fine-tuning value).", minimum=0.0)
    dev_percent: float = _field(10.0, "Share of sentences held out for dev.", minimum=0.0, maximum=50.0)
    test_percent: float = _field(10.0, "Share of sentences held out for test.", minimum=1.0, maximum=50.0)
    seed: int = _field(0, "Seed of the split, initialisation and shuffling.")


@dataclasses.dataclass(frozen=True)
class EvaluateConfig:
    """`python -m pipeline evaluate`: KorPatELECTRA's three downstream tasks. The defaults are
    KorPatBERT's fine-tuning settings for a base-size encoder (lr 3e-5, batch 8, 256 tokens)."""

    model: Literal["bert", "electra"] = _field(
        "bert", "Which pretrained encoder to evaluate when no --model is given: the newest export."
    )
    cls_data: str = _field(
        "data/demo/cpc_sentences.tsv", "CPC classification data: `label<TAB>sentence` lines."
    )
    ner_data: str = _field(
        "data/demo/ner.jsonl",
        "NER data: CoNLL-style `token<TAB>tag` lines (BIO) or JSONL with character spans.",
    )
    qa_data: str = _field("data/demo/qa.json", "QA data: SQuAD v1.1 JSON.")
    learning_rate: float = _field(3e-5, "Adam learning rate (KorPatBERT's fine-tuning value).", minimum=0.0)
    epochs: int = _field(3, "Passes over the training split.", minimum=1)
    batch_size: int = _field(8, "Examples (QA: windows) per step.", minimum=1)
    max_len: int = _field(256, "Tokens per example, [CLS] and [SEP] included.", minimum=16)
    stride: int = _field(
        128, "QA: pieces between the starts of two windows over a long paragraph.", minimum=1
    )
    test_percent: float = _field(
        20.0,
        "Share held out for test (by a hash of seed and sentence / paragraph).",
        minimum=1.0,
        maximum=50.0,
    )
    max_train_examples: int = _field(
        0,
        "At most this many training examples per task (sentences, questions), picked by a hash "
        "of seed and text; 0: all.",
        minimum=0,
    )
    seed: int = _field(0, "Seed of the split, initialisation and shuffling.")


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    output_root: str = _field("output", "Root folder (or gs:// prefix) for every stage's output.")
    inputs: tuple[InputSpec, ...] = _field((), "Input globs with their formats.")
    runner: RunnerConfig = _field(RunnerConfig(), "Beam runner settings.")
    ingest: IngestConfig = _field(IngestConfig(), "Stage ingest.")
    clean: CleanConfig = _field(CleanConfig(), "Stage clean.")
    nouns: NounsConfig = _field(NounsConfig(), "Stage nouns.")
    dictionary: DictionaryConfig = _field(DictionaryConfig(), "Stage dictionary.")
    morph: MorphConfig = _field(MorphConfig(), "Stage morph.")
    vocab: VocabConfig = _field(VocabConfig(), "Stage vocab.")
    tfrecords: TfrecordsConfig = _field(TfrecordsConfig(), "Stage tfrecords.")
    train: TrainConfig = _field(TrainConfig(), "Stage train (TFX pretraining).")
    finetune: FinetuneConfig = _field(FinetuneConfig(), "`python -m pipeline finetune` (CPC check).")
    evaluate: EvaluateConfig = _field(
        EvaluateConfig(), "`python -m pipeline evaluate`: NER, CPC classification and QA."
    )
    # Where the file was loaded from; relative paths are resolved against it.
    base_dir: str = dataclasses.field(default=".", metadata={"internal": True})
    # The `profiles:` entry merged over the file (--profile), "" for none.
    profile: str = dataclasses.field(default="", metadata={"internal": True})
