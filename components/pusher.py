"""`ExportPusher`: TFX's Pusher, plus the `saved_model.pb` files it leaves out.

TFX 1.16's Pusher copies the model folder with a deny pattern for
`saved_model.pb` matched against the full path, then re-adds only a top-level
one (TF Serving's "model complete" marker comes last). Our export keeps its
SavedModel in `saved_model/`, so the pushed copy lacked
`saved_model/saved_model.pb` and could not be loaded. This executor runs the
stock one, then copies every nested `saved_model.pb` into the pushed folder
(each last in its folder, as the stock executor intends).
"""

from __future__ import annotations

import os

from tfx.components.pusher import component as pusher_component
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.types import artifact_utils, standard_component_specs

SAVED_MODEL_PB = "saved_model.pb"


def copy_nested_saved_models(source: str, destination: str) -> list[str]:
    """Copy `<source>/**/saved_model.pb` below the top level to the same place under
    `destination` where missing; returns the destination paths written."""
    written = []
    for dirpath, _, names in fileio.walk(source):
        if SAVED_MODEL_PB not in names or os.path.normpath(dirpath) == os.path.normpath(source):
            continue
        target = os.path.join(destination, os.path.relpath(dirpath, source), SAVED_MODEL_PB)
        if not fileio.exists(target):
            fileio.makedirs(os.path.dirname(target))
            fileio.copy(os.path.join(dirpath, SAVED_MODEL_PB), target)
            written.append(target)
    return written


class ExportPusherExecutor(pusher_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX's name)
        super().Do(input_dict, output_dict, exec_properties)
        pushed = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not pushed.get_int_custom_property("pushed"):
            return
        source = self.GetModelPath(input_dict)
        copy_nested_saved_models(source, pushed.get_string_custom_property("pushed_destination"))
        copy_nested_saved_models(source, pushed.uri)


class ExportPusher(pusher_component.Pusher):
    """Pusher whose filesystem copy keeps nested SavedModels complete."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(ExportPusherExecutor)
