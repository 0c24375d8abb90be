"""What a stage is: its name, upstream stages, rule versions and how it runs.

Stages import this module (never the runner); the runner and the registry
import the stages.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Callable, Mapping, Sequence

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems

from pipeline.config import PipelineConfig, section_dict
from pipeline.layout import MANIFEST, stage_dir


@dataclasses.dataclass(frozen=True)
class StageContext:
    """What a stage's build function gets: where to read and where to write."""

    config: PipelineConfig
    output_dir: str
    upstream_dirs: Mapping[str, str]
    # Building or compiling a job without reaching its data (Dataflow dry runs,
    # Vertex AI compiles): upstream manifests are not read.
    offline: bool = False
    # Upstream stages built into the same Beam job (`runner.jobs: fused`): for
    # each, a PCollection that holds one element once that stage's output is
    # complete. A stage reads such an upstream only after that element (see
    # `after`); the others it reads as finished folders.
    ready: Mapping[str, beam.PCollection] = dataclasses.field(default_factory=dict)
    # Every stage of that job (upstream or further up): their manifests do not exist yet.
    in_this_job: frozenset[str] = frozenset()

    def upstream_section(self, name: str) -> types.SimpleNamespace:
        """The config section an earlier stage (`name`, upstream or further up) ran with,
        from its manifest.

        A stage learns upstream facts (shard counts, text layout) here rather than
        from another stage's section of the current config: the manifest says what
        the files on disk were written with. Without a manifest, or offline (a job
        built before the upstream has run), it is the section the upstream would
        run with now.
        """
        section = None
        path = FileSystems.join(stage_dir(self.config, name), MANIFEST)
        if not self.offline and name not in self.in_this_job and FileSystems.exists(path):
            with FileSystems.open(path) as f:
                section = json.loads(f.read().decode("utf-8")).get("config")
        if section is None:
            section = section_dict(getattr(self.config, name))
        return types.SimpleNamespace(**section)

    def after(self, upstream: str):
        """The upstream's completion element when it runs in the same job, else None:
        pass it to `filesystems.match_files` and its siblings, which then list the
        upstream's files only once they are complete."""
        return self.ready.get(upstream)


@dataclasses.dataclass(frozen=True)
class Stage:
    name: str
    upstream: tuple[str, ...]
    versions: Mapping[str, str]  # rule versions recorded in the manifest
    # Wires the stage's steps into the pipeline and returns its last PCollection
    # (or several): the runner fuses a later stage behind it by waiting for it.
    build: Callable[[beam.Pipeline, StageContext], object] | None
    description: str = ""
    # Counters that always appear in the manifest, 0 when never incremented,
    # so the stage's accounting identity can be checked from the manifest.
    accounting: tuple[str, ...] = ()
    # Files the stage reads besides its upstream outputs (stop lists, user
    # dictionaries): their names, sizes and mtimes join its input fingerprint.
    files: Callable[[PipelineConfig], Sequence[str]] | None = None
    # Runs after the Beam job succeeds; what it returns goes into the manifest
    # under "report" (figures a stage computes about its own output).
    finalize: Callable[[StageContext], dict] | None = None
    # A stage that is not a Beam job (train runs TFX) does its work here and
    # returns its counters; `build` is then None.
    execute: Callable[[StageContext, Sequence[str]], Mapping[str, int]] | None = None
    # Keep the previous output when rerunning (train's ML Metadata, checkpoints
    # and exports are what let a rerun resume); only the manifest is removed.
    keep_output: bool = False
    # Checks of the config that need more than the files to exist (a checkpoint's
    # config against its vocab, say); raises ValueError with one line. Runs before
    # any stage of the command writes.
    check: Callable[[PipelineConfig], None] | None = None
    # Can run in the same Beam job as its upstreams (`runner.jobs: fused`): it reads
    # them only through `filesystems.match_files` and its siblings given
    # `ctx.after(upstream)`, and needs nothing their finalize steps write.
    fusable: bool = False
