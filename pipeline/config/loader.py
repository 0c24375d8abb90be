"""Load `pipeline.yaml` into the frozen dataclasses of `sections`, strictly.

Validation is strict: an unknown key, a value of the wrong type or choice, or an
input glob that matches nothing raises `ConfigError` naming the key, and the CLI
turns that into one message and exit code 2 before anything is written.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

import yaml

from pipeline.config.sections import (
    DATAFLOW_FLAGS,
    PLACEHOLDERS,
    ConfigError,
    PipelineConfig,
)


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
        # NaN compares false with every bound (a filter silently turns off) and is not JSON.
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
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
    try:
        value = yaml.load(raw, Loader=_NoAliasLoader) if raw.strip() else ""
    except (ConfigError, yaml.YAMLError) as e:
        raise ConfigError(f"--set {text!r}: {e}") from None
    return key.strip(), value


def load_config(
    path: str, overrides: tuple[str, ...] = (), check_inputs: bool = True, profile: str | None = None
):
    """Read, apply a profile and overrides, and validate a pipeline.yaml; returns a PipelineConfig.

    `check_inputs=False` skips everything that lists or reaches the inputs
    (for `config` and `build-job`, which must work offline).
    """
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    profiles = data.pop("profiles", None) or {}
    if not isinstance(profiles, dict):
        raise ConfigError(f"profiles: expected a mapping of profile names, got {type(profiles).__name__}")
    for name, body in profiles.items():
        # Every profile is checked, used or not, so a typo shows up at once.
        _coerce(body, PipelineConfig, f"profiles.{name}", {})
    if profile:
        if profile not in profiles:
            known = ", ".join(map(str, profiles)) or "none"
            raise ConfigError(f"--profile {profile}: no such profile in {path} (profiles: {known})")
        data = merge_settings(data, profiles[profile])
    for override in overrides:
        set_dotted(data, *parse_override(override))
    config = _build(PipelineConfig, data, "")
    config = dataclasses.replace(
        config, base_dir=os.path.dirname(os.path.abspath(path)), profile=profile or ""
    )
    validate(config, check_inputs=check_inputs)
    return config


# A pipeline.yaml is a few KB; a bigger file is a mistake (or an attack on the loader).
MAX_CONFIG_BYTES = 1 << 20


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases: a 1 KB file of nested aliases ("billion laughs")
    expands to gigabytes, and a config needs none (use `profiles:` to share settings)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.events.AliasEvent):
            event = self.peek_event()
            raise ConfigError(
                f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not allowed "
                "in a pipeline config; repeat the value or use profiles"
            )
        return super().compose_node(parent, index)


def read_yaml(path: str) -> dict[str, Any]:
    """The config file as a mapping; every problem with the file is a ConfigError naming it."""
    if not os.path.exists(path):
        raise ConfigError(f"{path}: config file not found")
    if not os.path.isfile(path):
        raise ConfigError(f"{path}: not a regular file")
    size = os.path.getsize(path)
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {size:,} bytes; a pipeline config is at most {MAX_CONFIG_BYTES:,}")
    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.load(f, Loader=_NoAliasLoader) or {}
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def merge_settings(base: Mapping[str, Any], profile: Mapping[str, Any]) -> dict[str, Any]:
    """A profile over the base settings: mappings merge key by key, anything else (lists too) replaces."""
    merged = dict(base)
    for key, value in profile.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_settings(merged[key], value)
        else:
            merged[key] = value
    return merged


def resolve_path(config: PipelineConfig, path: str) -> str:
    """Relative local paths are relative to the config file; URLs (gs://) pass through.
    A bundled default (`dictionaries/stopwords.txt`) that is not next to the config
    file comes from the package, so a config outside the checkout still finds it."""
    from pipeline import package_data

    if "://" in path or os.path.isabs(path):
        return path
    resolved = os.path.normpath(os.path.join(config.base_dir, path))
    if not os.path.exists(resolved):
        return package_data.find(path) or resolved
    return resolved


def validate(config: PipelineConfig, check_inputs: bool = True) -> None:
    from apache_beam.io.filesystems import FileSystems

    if not config.inputs:
        raise ConfigError("inputs: at least one input glob is required")
    _validate_runner(config)
    if check_inputs:
        # Before any gs:// listing: with a placeholder bucket it would only
        # wait for timeouts.
        refuse_placeholders(config)
    root = resolve_path(config, config.output_root)
    _validate_output_root(config.output_root, root)
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
        # Inputs inside the output root (`out/ingest/*.jsonl`) would be read by a
        # stage that replaces that folder, or deleted by one.
        if _is_inside_any(_glob_base(pattern), root):
            raise ConfigError(
                f"inputs[{i}].glob: {pattern} lies inside output_root {root}, "
                "whose folders the stages replace; keep inputs elsewhere"
            )
        # gs:// globs are listed here too, so only when the command is about
        # to read the data anyway (run, stage, status); one match is enough.
        if check_inputs:
            matches = FileSystems.match([pattern], limits=[1])[0].metadata_list
            if not matches:
                raise ConfigError(f"inputs[{i}].glob: no files match {pattern}")
    if config.clean.min_sentence_chars >= config.clean.max_sentence_chars:
        raise ConfigError("clean.min_sentence_chars: must be below clean.max_sentence_chars")
    if config.nouns.min_noun_length > config.nouns.max_noun_length:
        raise ConfigError("nouns.min_noun_length: must not exceed nouns.max_noun_length")
    for name in config.tfrecords.outputs:
        if not re.fullmatch(r"(bert|electra)-(128|256|384|512)", name):
            raise ConfigError(
                f"tfrecords.outputs: {name!r} is not bert-L or electra-L (L in 128/256/384/512)"
            )
    for i, phase in enumerate(config.train.phases):
        if phase.output not in config.tfrecords.outputs:
            raise ConfigError(
                f"train.phases[{i}].output: {phase.output!r} is not among tfrecords.outputs "
                f"{list(config.tfrecords.outputs)}"
            )


def _validate_runner(config: PipelineConfig) -> None:
    r = config.runner
    if r.runner != "DataflowRunner":
        return
    for key in ("project", "region", "temp_location"):
        if not getattr(r, key):
            raise ConfigError(f"runner.{key}: required for DataflowRunner")
    for key in ("temp_location", "staging_location"):
        value = getattr(r, key)
        if value and not value.startswith("gs://"):
            raise ConfigError(f"runner.{key}: DataflowRunner needs a gs:// path, got {value!r}")
    # Dataflow workers see neither this machine's disk nor its working folder.
    if "://" not in config.output_root:
        raise ConfigError(
            f"output_root: DataflowRunner workers cannot write the local path {config.output_root!r}; "
            "use gs://..."
        )
    for i, spec in enumerate(config.inputs):
        if spec.glob and "://" not in spec.glob:
            raise ConfigError(
                f"inputs[{i}].glob: DataflowRunner workers cannot read the local path {spec.glob!r}; "
                "use gs://..."
            )


def refuse_placeholders(config: PipelineConfig) -> None:
    """Refuse the committed profile's placeholder project and bucket (see PLACEHOLDERS)."""
    values = {f"runner.{key}": str(getattr(config.runner, key)) for key in DATAFLOW_FLAGS}
    values["output_root"] = config.output_root
    values.update({f"inputs[{i}].glob": spec.glob for i, spec in enumerate(config.inputs)})
    for key, value in values.items():
        for placeholder in PLACEHOLDERS:
            if placeholder in value:
                raise ConfigError(
                    f"{key}: {value!r} contains the example profile's placeholder {placeholder!r}; "
                    f"put your own in pipeline.yaml or pass --set {key}=..."
                )


# Pseudo file systems: an output there is always a mistake.
_SYSTEM_FOLDERS = ("/proc", "/sys", "/dev")


def _validate_output_root(configured: str, root: str) -> None:
    """The output root names a folder the pipeline may own: no glob characters
    (stages build file patterns from it, and Beam has no escape for them), not a
    file, not in a pseudo file system. Whether it is writable is checked by the
    commands that write."""
    wild = sorted({c for c in configured if c in "*?["})
    if wild:
        raise ConfigError(
            f"output_root: {configured!r} holds the glob character(s) {' '.join(wild)}; "
            "stages build file patterns from it: use another name"
        )
    if "://" in root:
        return
    absolute = os.path.abspath(root)
    for system in _SYSTEM_FOLDERS:
        if _is_inside(absolute, system):
            raise ConfigError(f"output_root: {root} is under {system}, not a place for outputs")
    path = absolute
    while path and not os.path.exists(path):
        path = os.path.dirname(path) if os.path.dirname(path) != path else ""
    if path and not os.path.isdir(path):
        what = "is a file" if path == absolute else f"lies under the file {path}"
        raise ConfigError(f"output_root: {root} {what}, not a folder")


def _is_inside_any(path: str, folder: str) -> bool:
    """_is_inside for local paths and URLs (gs://bucket/a is inside gs://bucket)."""
    if "://" in path or "://" in folder:
        return path == folder or path.startswith(folder.rstrip("/") + "/")
    return _is_inside(path, folder)


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
    """A stage section as plain JSON-able data (for manifests)."""
    return _jsonable(dataclasses.asdict(section))


def output_settings(section: Any) -> dict[str, Any]:
    """The settings of a section that change what its stage writes (for fingerprints):
    every field but the machine settings (`_field(..., machine=True)`)."""
    data = section_dict(section)
    for field in dataclasses.fields(section):
        if field.metadata.get("machine"):
            del data[field.name]
    return data


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
        machine = " [machine setting: not fingerprinted]" if f.metadata.get("machine") else ""
        lines.append(f"{key} ({_type_name(tp)}, default {default!r}): {f.metadata.get('help', '')}{machine}")
    if not prefix:
        lines.append(
            "profiles (mapping of name to settings): named settings merged over the file with "
            "--profile NAME (mappings key by key, lists replaced), e.g. profiles.dataflow."
        )
    return lines


def to_yaml(config: PipelineConfig) -> str:
    data = section_dict(config)
    data.pop("base_dir", None)
    data.pop("profile", None)
    header = f"# profile: {config.profile}\n" if config.profile else ""
    return header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
