"""A TFX component that stops the pipeline when ExampleValidator found anomalies.

ExampleValidator only records anomalies; a Trainer downstream would train on
records that break their schema all the same. The gate reads each split's
`SchemaDiff.pb` and raises, naming every anomaly, so nothing trains on them.
"""

import os

from tfx import v1 as tfx
from tfx.types import artifact_utils

SCHEMA_DIFF = "SchemaDiff.pb"
# No `from __future__ import annotations` here: TFX reads the real annotation objects.


def anomaly_lines(anomalies_uri: str, split_names: list[str]) -> list[str]:
    """'split: feature: description' for every anomaly recorded under anomalies_uri."""
    from tensorflow_data_validation.utils import anomalies_util

    lines = []
    for split in split_names:
        path = os.path.join(anomalies_uri, f"Split-{split}", SCHEMA_DIFF)
        anomalies = anomalies_util.load_anomalies_binary(path)
        for feature, info in sorted(anomalies.anomaly_info.items()):
            lines.append(f"{split}: {feature}: {info.description or info.short_description}")
        if anomalies.HasField("dataset_anomaly_info"):
            lines.append(f"{split}: (dataset): {anomalies.dataset_anomaly_info.description}")
    return lines


@tfx.dsl.components.component
def AnomaliesGate(
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    fail: tfx.dsl.components.Parameter[bool] = True,
) -> None:
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    lines = anomaly_lines(anomalies.uri, splits)
    if lines and fail:
        raise RuntimeError(
            "ExampleValidator found anomalies against the imported schema; not training "
            "(set train.fail_on_anomalies: false to train anyway):\n  " + "\n  ".join(lines)
        )
    for line in lines:  # fail=False: train anyway, but say what was found
        print(f"[train] anomaly: {line}")
