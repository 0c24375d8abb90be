"""Load and validate `pipeline.yaml` into frozen dataclasses.

One section per stage, each a frozen dataclass whose fields carry help text
(`python -m pipeline config --explain` prints it). Validation is strict: an
unknown key, a value of the wrong type or choice, or an input glob that
matches nothing raises `ConfigError` naming the key, and the CLI turns that
into one message and exit code 2 before anything is written.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

import yaml

INPUT_FORMATS = ("kipo_xml", "jsonl", "parquet", "text")


class ConfigError(ValueError):
    """A configuration problem, with the dotted key or path it concerns."""


def _field(default: Any, help: str, **extra: Any) -> Any:
    if isinstance(default, (list, dict)):
        raise TypeError("use tuples for sequence defaults so configs stay hashable")
    return dataclasses.field(default=default, metadata={"help": help, **extra})


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
    options: tuple[str, ...] = _field(
        (), "Extra Beam pipeline flags, e.g. ['--project=my-proj', '--region=asia-northeast3']."
    )


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


@dataclasses.dataclass(frozen=True)
class CleanConfig:
    unicode_form: Literal["NFC", "NFKC"] = _field(
        "NFC",
        "Unicode normalisation. NFC keeps ², ①, ㎛ and Hangul compatibility jamo intact; "
        "NFKC rewrites them (see README).",
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


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    output_root: str = _field("output", "Root folder (or gs:// prefix) for every stage's output.")
    inputs: tuple[InputSpec, ...] = _field((), "Input globs with their formats.")
    runner: RunnerConfig = _field(RunnerConfig(), "Beam runner settings.")
    ingest: IngestConfig = _field(IngestConfig(), "Stage ingest.")
    clean: CleanConfig = _field(CleanConfig(), "Stage clean.")
    # Where the file was loaded from; relative paths are resolved against it.
    base_dir: str = dataclasses.field(default=".", metadata={"internal": True})


# --------------------------------------------------------------------------- loading


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str, meta: Mapping[str, Any]) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _coerce(value, args[0], key, meta)
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ConfigError(f"{key}: expected {_type_name(tp)}, got {value!r}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {type(value).__name__} {value!r}")
        item_type = typing.get_args(tp)[0]
        return tuple(_coerce(v, item_type, f"{key}[{i}]", {}) for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {type(value).__name__}")
        return _build(tp, value, key)
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        value = float(value)
    elif tp is str and not isinstance(value, str):
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if "minimum" in meta and value < meta["minimum"]:
        raise ConfigError(f"{key}: must be >= {meta['minimum']}, got {value!r}")
    if "maximum" in meta and value > meta["maximum"]:
        raise ConfigError(f"{key}: must be <= {meta['maximum']}, got {value!r}")
    return value


def _build(cls: type, data: Mapping[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("internal")}
    kwargs = {}
    for key, value in data.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if key not in fields:
            close = difflib.get_close_matches(str(key), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{dotted}: unknown key{hint}")
        kwargs[key] = _coerce(value, hints[key], dotted, fields[key].metadata)
    return cls(**kwargs)


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Apply one `--set a.b.c=value` override to a raw config mapping."""
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {dotted}: {part} is not a section")
        node = child
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw) if raw.strip() else ""


def load_config(path: str, overrides: tuple[str, ...] = (), check_inputs: bool = True):
    """Read, override and validate a pipeline.yaml; returns a PipelineConfig."""
    if not os.path.exists(path):
        raise ConfigError(f"{path}: config file not found")
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    for override in overrides:
        set_dotted(data, *parse_override(override))
    config = _build(PipelineConfig, data, "")
    config = dataclasses.replace(config, base_dir=os.path.dirname(os.path.abspath(path)))
    validate(config, check_inputs=check_inputs)
    return config


def resolve_path(config: PipelineConfig, path: str) -> str:
    """Relative local paths are relative to the config file; URLs (gs://) pass through."""
    if "://" in path or os.path.isabs(path):
        return path
    return os.path.normpath(os.path.join(config.base_dir, path))


def validate(config: PipelineConfig, check_inputs: bool = True) -> None:
    from apache_beam.io.filesystems import FileSystems

    if not config.inputs:
        raise ConfigError("inputs: at least one input glob is required")
    root = resolve_path(config, config.output_root)
    for i, spec in enumerate(config.inputs):
        if not spec.glob:
            raise ConfigError(f"inputs[{i}].glob: missing")
        pattern = resolve_path(config, spec.glob)
        # A root inside an input glob would make the pipeline read its own output.
        if "://" not in pattern and _may_match_below(pattern, root):
            raise ConfigError(
                f"output_root: {root} lies inside inputs[{i}].glob {pattern}; "
                "the pipeline would read its own output"
            )
        if check_inputs:
            matches = FileSystems.match([pattern])[0].metadata_list
            if not matches:
                raise ConfigError(f"inputs[{i}].glob: no files match {pattern}")
    if config.clean.min_sentence_chars >= config.clean.max_sentence_chars:
        raise ConfigError("clean.min_sentence_chars: must be below clean.max_sentence_chars")


def _glob_base(pattern: str) -> str:
    parts = []
    for part in pattern.split(os.sep):
        if any(c in part for c in "*?["):
            break
        parts.append(part)
    return os.sep.join(parts) or os.sep


def _may_match_below(pattern: str, root: str) -> bool:
    """Could `pattern` match files that stages write under `root`?

    Stages write into `root/<stage>/...`, so a pattern whose directory part is
    literal (`/data/*.jsonl`) never reaches them; `**` or a wildcard in the
    directory part (`/data/*/x.xml`) can, when root lies under its base.
    """
    directory = os.path.dirname(pattern)
    wild_directory = "**" in pattern or any(c in directory for c in "*?[")
    return wild_directory and _is_inside(root, _glob_base(pattern))


def _is_inside(path: str, folder: str) -> bool:
    path, folder = os.path.abspath(path), os.path.abspath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def section_dict(section: Any) -> dict[str, Any]:
    """A stage section as plain JSON-able data (for fingerprints and manifests)."""
    return _jsonable(dataclasses.asdict(section))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def explain(cls: type = PipelineConfig, prefix: str = "") -> list[str]:
    """One line per setting: dotted key, type, default and help."""
    lines = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        key = f"{prefix}{f.name}"
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            lines.append(f"{key}: {f.metadata.get('help', '')}")
            lines.extend(explain(tp, key + "."))
            continue
        default = f.default if f.default is not dataclasses.MISSING else None
        lines.append(f"{key} ({_type_name(tp)}, default {default!r}): {f.metadata.get('help', '')}")
    return lines


def to_yaml(config: PipelineConfig) -> str:
    data = section_dict(config)
    data.pop("base_dir", None)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
