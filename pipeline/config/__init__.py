"""`pipeline.yaml`: its schema (`sections`) and its strict loader (`loader`).

The names below are the package's public API, re-exported so callers write
`from pipeline.config import load_config, CleanConfig`.
"""

from pipeline.config.loader import (
    explain,
    load_config,
    output_settings,
    parse_override,
    refuse_placeholders,
    resolve_path,
    section_dict,
    to_yaml,
    validate,
)
from pipeline.config.sections import (
    DATAFLOW_FLAGS,
    INPUT_FORMATS,
    PLACEHOLDERS,
    CleanConfig,
    ConfigError,
    DictionaryConfig,
    FinetuneConfig,
    IngestConfig,
    InputSpec,
    MorphConfig,
    NounsConfig,
    PipelineConfig,
    RunnerConfig,
    TfrecordsConfig,
    TrainConfig,
    TrainPhase,
    VocabConfig,
)

__all__ = [
    "DATAFLOW_FLAGS",
    "INPUT_FORMATS",
    "PLACEHOLDERS",
    "CleanConfig",
    "ConfigError",
    "DictionaryConfig",
    "FinetuneConfig",
    "IngestConfig",
    "InputSpec",
    "MorphConfig",
    "NounsConfig",
    "PipelineConfig",
    "RunnerConfig",
    "TfrecordsConfig",
    "TrainConfig",
    "TrainPhase",
    "VocabConfig",
    "explain",
    "load_config",
    "output_settings",
    "parse_override",
    "refuse_placeholders",
    "resolve_path",
    "section_dict",
    "to_yaml",
    "validate",
]
