"""Dataflow readiness: the `dataflow` profile, its validation, offline job building,
and a run against folder-less object storage."""

import json
import os
import shutil

import pytest
import yaml

from pipeline.cli import main
from pipeline.config import DATAFLOW_FLAGS, ConfigError, load_config
from pipeline.run import runner
from tests.helpers import REPO, demo_golden, write_config
from tests.objectstore import SCHEME, ObjectStoreFileSystem

REPO_CONFIG = os.path.join(REPO, "pipeline.yaml")


def _dataflow_settings(**runner_overrides):
    return {
        "output_root": "gs://korpat-test/out",
        "inputs": [{"glob": "gs://korpat-test/raw/*.jsonl", "format": "jsonl"}],
        "runner": {
            "runner": "DataflowRunner",
            "project": "korpat-test",
            "region": "asia-northeast3",
            "temp_location": "gs://korpat-test/tmp",
            **runner_overrides,
        },
    }


# ------------------------------------------------------------------ profiles


def test_dataflow_profile_merges_over_the_base_config():
    base = load_config(REPO_CONFIG, check_inputs=False)
    config = load_config(REPO_CONFIG, check_inputs=False, profile="dataflow")
    assert config.profile == "dataflow"
    r = config.runner
    assert (r.runner, r.project, r.region) == ("DataflowRunner", "your-gcp-project", "asia-northeast3")
    assert r.temp_location.startswith("gs://") and r.sdk_container_image.endswith("korpat-pipeline:0.1.0")
    assert (r.machine_type, r.max_num_workers, r.disk_size_gb) == ("n2-standard-4", 32, 50)
    # Lists are replaced, mappings merged key by key.
    assert config.output_root.startswith("gs://")
    assert config.inputs and all(s.glob.startswith("gs://") for s in config.inputs)
    assert config.ingest.num_shards == 600
    assert config.ingest.encodings == base.ingest.encodings
    assert config.clean == base.clean
    assert r.direct_running_mode == base.runner.direct_running_mode


def test_overrides_apply_after_the_profile():
    config = load_config(
        REPO_CONFIG, ("runner.project=my-project", "runner.max_num_workers=4"), False, "dataflow"
    )
    assert config.runner.project == "my-project"
    assert config.runner.max_num_workers == 4
    assert config.runner.region == "asia-northeast3"


def test_beam_options_carry_the_dataflow_settings_and_command_line_flags_win():
    config = load_config(REPO_CONFIG, check_inputs=False, profile="dataflow")
    options = runner.beam_options(config, ["--max_num_workers=7"]).get_all_options()
    assert options["runner"] == "DataflowRunner"
    for key in DATAFLOW_FLAGS:
        if key != "max_num_workers":
            assert options[key] == (getattr(config.runner, key) or None), key
    assert options["max_num_workers"] == 7
    assert options["service_account_email"] is None  # empty in the profile: not passed


def test_direct_runner_gets_no_dataflow_flags(tmp_path, tiny_inputs):
    tiny_inputs["runner"] = {"project": "ignored-project", "machine_type": "n2-standard-4"}
    config = load_config(write_config(tmp_path, tiny_inputs))
    options = runner.beam_options(config).get_all_options()
    assert options["project"] is None and options["machine_type"] is None


@pytest.mark.parametrize(
    "runner_overrides, patch, message",
    [
        ({"project": ""}, {}, "runner.project: required for DataflowRunner"),
        ({"region": ""}, {}, "runner.region: required for DataflowRunner"),
        ({"temp_location": ""}, {}, "runner.temp_location: required for DataflowRunner"),
        (
            {"temp_location": "/tmp/beam"},
            {},
            "runner.temp_location: DataflowRunner needs a gs:// path, got '/tmp/beam'",
        ),
        (
            {"staging_location": "staging"},
            {},
            "runner.staging_location: DataflowRunner needs a gs:// path, got 'staging'",
        ),
        (
            {},
            {"output_root": "output"},
            "output_root: DataflowRunner workers cannot write the local path 'output'; use gs://...",
        ),
        (
            {},
            {"inputs": [{"glob": "data/*.xml", "format": "kipo_xml"}]},
            "inputs[0].glob: DataflowRunner workers cannot read the local path 'data/*.xml'; use gs://...",
        ),
        ({"max_num_workers": -1}, {}, "runner.max_num_workers: must be >= 0, got -1"),
    ],
)
def test_dataflow_settings_are_validated(tmp_path, runner_overrides, patch, message):
    path = write_config(tmp_path, {**_dataflow_settings(**runner_overrides), **patch})
    with pytest.raises(ConfigError) as err:
        load_config(path, check_inputs=False)
    assert str(err.value) == message


def test_every_profile_is_checked_even_when_not_selected(tmp_path, tiny_inputs):
    tiny_inputs["profiles"] = {"dataflow": {"runner": {"projcet": "x"}}}
    with pytest.raises(ConfigError) as err:
        load_config(write_config(tmp_path, tiny_inputs))
    assert str(err.value) == "profiles.dataflow.runner.projcet: unknown key (did you mean 'project'?)"


def test_unknown_profile_names_the_known_ones(tmp_path, tiny_inputs):
    tiny_inputs["profiles"] = {"dataflow": {}, "small": {"ingest": {"num_shards": 2}}}
    path = write_config(tmp_path, tiny_inputs)
    assert load_config(path, profile="small").ingest.num_shards == 2
    with pytest.raises(ConfigError, match=r"--profile big: no such profile .* \(profiles: dataflow, small\)"):
        load_config(path, profile="big")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["run", "status"])
def test_placeholders_are_refused_before_anything_reaches_gcs(command, capsys):
    # Listing gs://your-bucket offline would only wait for timeouts.
    assert main([command, "--config", REPO_CONFIG, "--profile", "dataflow"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("config error: runner.project: 'your-gcp-project' contains the example profile's")
    assert err.endswith("pass --set runner.project=...")


def test_config_prints_the_resolved_profile_offline(capsys):
    # --profile before the subcommand counts as much as after it.
    assert main(["--profile", "dataflow", "config", "--config", REPO_CONFIG]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# profile: dataflow\n")
    resolved = yaml.safe_load(out)
    assert resolved["runner"]["runner"] == "DataflowRunner"
    assert resolved["runner"]["sdk_container_image"].endswith("korpat-pipeline:0.1.0")


def test_explain_lists_the_dataflow_settings(capsys):
    assert main(["config", "--explain"]) == 0
    out = capsys.readouterr().out
    for key in DATAFLOW_FLAGS:
        assert f"runner.{key} (" in out
    assert "profiles (mapping of name to settings)" in out


def test_build_job_needs_the_dataflow_runner(tmp_path, tiny_inputs, capsys):
    assert main(["build-job", "--config", write_config(tmp_path, tiny_inputs)]) == 2
    assert "runner.runner: build-job needs DataflowRunner, got 'DirectRunner'" in capsys.readouterr().err


# ------------------------------------------------------------------ offline Dataflow jobs

# Transforms each stage's job must contain (for nouns and dictionary, the
# single-worker steps docs/dataflow.md's "Global steps" names); a stage missing here is
# still built and checked for its image.
EXPECTED_TRANSFORMS = {
    "ingest": {"Ingest/Match", "Ingest/JoinFiles", "Ingest/WriteShards"},
    "clean": {
        "Clean/Match",
        "Clean/CleanAndKey",
        "Clean/DuplicateIds",
        "Clean/DuplicateTexts",
        "Clean/JoinMarkers",
        "Clean/WriteShards",
    },
    "nouns": {"Nouns/Histogram", "Nouns/Score", "Nouns/Compounds", "Nouns/WriteMergedCounts", "Nouns/Write"},
    "dictionary": {"Dictionary/Build", "Dictionary/Check"},
    "vocab": {
        "Vocab/Samples/Read",
        "Vocab/Samples/Sample/Band",
        "Vocab/Samples/WriteTrain",
        "Vocab/Samples/WriteCounts",
        "Vocab/Train",
    },
    "morph": {"Morph/Match", "Morph/Morph"},
    # The exchanges (runner.exchange resolves to beam: the blocks go through GroupByKey).
    "tfrecords": {
        f"Records_{output}/{step}"
        for output in ("bert-128", "electra-128")
        for step in ("Tokenize", "Build", "Write")
    },
}
IMAGE = "asia-northeast3-docker.pkg.dev/korpat-test/korpat/korpat-pipeline:test"


@pytest.fixture
def offline(monkeypatch):
    """No network: records every host name looked up (and refuses it).

    Beam's two look-ups while it validates Dataflow options are skipped:
    offline they only time out (about 25 s for credentials, once per process,
    then 2 to 5 s per bucket check, four per stage) and change nothing in the
    job, since Beam then goes on without credentials and without its
    soft-delete warning, which is what these patches give at once.
    `python -m pipeline build-job` runs without them (docs/dataflow.md gives timings).
    """
    import socket

    from apache_beam.internal.gcp import auth
    from apache_beam.io.gcp import gcsio

    monkeypatch.setattr(auth._Credentials, "_credentials_init", True)
    monkeypatch.setattr(auth._Credentials, "_credentials", None)
    monkeypatch.setattr(gcsio.GcsIO, "is_soft_delete_enabled", lambda self, path: False)
    lookups = []

    def refuse(host, *args, **kwargs):
        lookups.append(host)
        raise OSError(f"offline test: no lookup of {host}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    return lookups


@pytest.mark.timeout(300)
def test_every_stage_builds_as_a_dataflow_job_offline(tmp_path, monkeypatch, capsys, offline):
    """DataflowRunner with --dry_run=True for every stage in the stage table: the
    job holds the stage's transforms and the image; nothing leaves the machine."""
    from apache_beam.runners.dataflow.internal import apiclient

    def no_submission(*args, **kwargs):
        raise AssertionError("build-job tried to reach the Dataflow service")

    monkeypatch.setattr(apiclient.DataflowApplicationClient, "__init__", no_submission)
    out = tmp_path / "jobs"
    code = main(
        [
            "build-job",
            "--config",
            REPO_CONFIG,
            "--profile",
            "dataflow",
            "--set",
            f"runner.sdk_container_image={IMAGE}",
            "--set",
            "nouns.scoring_min_ram=16GB",
            "--set",
            "vocab.training_min_ram=16GB",
            "--set",
            "runner.jobs=per_stage",
            "--out",
            str(out),
        ]
    )
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    # Every Beam stage; train is a TFX pipeline (compile-vertex, tests/stages/test_train.py).
    stages = [name for name, stage in runner.stage_table().items() if stage.build is not None]
    assert "train" not in stages and len(stages) == 7
    assert sorted(os.listdir(out)) == sorted(f"{name}.json" for name in stages)
    for name in stages:
        with open(out / f"{name}.json", encoding="utf-8") as f:
            job = json.load(f)
        transforms = set(job["transforms"])
        assert EXPECTED_TRANSFORMS.get(name, set()) <= transforms, name
        assert any(not t.startswith("ref_") for t in transforms), name
        assert job["container_images"] == [IMAGE]
        # Only the noun scoring's two passes and vocab training ask for a big
        # worker (Dataflow Prime right fitting).
        ram = {"beam:resources:min_ram_bytes:v1": "16000000000"}
        expected_hints = {
            "nouns": {"Nouns/Score": ram, "Nouns/Compounds": ram},
            "vocab": {"Vocab/Train": ram},
        }
        assert job["resource_hints"] == expected_hints.get(name, {}), name
        pool = job["job"]["environment"]["workerPools"][0]
        if name in expected_hints:  # two environments (one with the hint), both in the image
            images = {env["containerImage"] for env in pool["sdkHarnessContainerImages"]}
            assert images == {IMAGE} and len(pool["sdkHarnessContainerImages"]) == 2
        else:
            assert pool["workerHarnessContainerImage"] == IMAGE
        assert (pool["machineType"], pool["diskSizeGb"]) == ("n2-standard-4", 50)
        assert pool["autoscalingSettings"]["maxNumWorkers"] == 32
        options = job["job"]["environment"]["sdkPipelineOptions"]["options"]
        assert options["dry_run"] == "True" and options["project"] == "your-gcp-project"
        # Dataflow Shuffle carries the exchanges: stated once, whether from the profile or build-job.
        assert options["experiments"].count("shuffle_mode=service") == 1, name
        assert job["exchange"] == "beam"
        assert "id" not in job["job"] and "currentState" not in job["job"]  # never created
        assert f"[{name}] Dataflow job" in err
    assert offline == []
    # Each job holds its own stage only.
    assert not any(t.startswith("Ingest") for t in json.loads((out / "clean.json").read_text())["transforms"])


@pytest.mark.timeout(300)
def test_the_dataflow_profile_builds_the_data_stages_as_one_job(tmp_path, monkeypatch, capsys, offline):
    """`runner.jobs: auto` is fused on DataflowRunner: ingest up to tfrecords in one
    job (workers start once); each stage reads its in-job upstream only after that
    stage's completion element."""
    from apache_beam.runners.dataflow.internal import apiclient

    def no_submission(*args, **kwargs):
        raise AssertionError("build-job tried to reach the Dataflow service")

    monkeypatch.setattr(apiclient.DataflowApplicationClient, "__init__", no_submission)
    out = tmp_path / "jobs"
    args = ["build-job", "--config", REPO_CONFIG, "--profile", "dataflow"]
    code = main([*args, "--set", f"runner.sdk_container_image={IMAGE}", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err[-3000:]
    fused = "ingest+clean+nouns+dictionary+morph+vocab+tfrecords"
    assert sorted(os.listdir(out)) == [f"{fused}.json"]
    job = json.loads((out / f"{fused}.json").read_text(encoding="utf-8"))
    transforms = set(job["transforms"])
    for name in fused.split("+"):
        assert EXPECTED_TRANSFORMS.get(name, set()) <= transforms, name
        assert f"{name.capitalize()}Complete" in transforms
    # The reads of in-job upstreams list their files after the upstream's completion.
    assert {"Clean/MatchGlob", "Nouns/MatchGlob", "Dictionary/ReadGlob", "Dictionary/Start"} <= transforms
    assert {"MorphAfterCount", "Morph/MatchGlob", "Vocab/Samples/ReadGlob", "RecordsAfterCount"} <= transforms
    assert {"Records_bert-128/MatchGlob", "Records_electra-128/MatchGlob"} <= transforms
    assert job["job"]["environment"]["workerPools"][0]["workerHarnessContainerImage"] == IMAGE
    assert f"[{fused}] Dataflow job" in err
    assert offline == []


def test_build_job_states_the_service_shuffle_unless_a_shuffle_mode_is_chosen():
    from pipeline.run.dataflow_jobs import shuffle_args

    assert shuffle_args([]) == ["--experiments=shuffle_mode=service"]
    assert shuffle_args(["--experiments=use_runner_v2", "--network=vpc"]) == [
        "--experiments=shuffle_mode=service"
    ]
    assert shuffle_args(["--experiments=shuffle_mode=appliance"]) == []
    assert shuffle_args(["--experiment=shuffle_mode=service"]) == []


# ------------------------------------------------------------------ object storage


@pytest.fixture
def objstore(tmp_path, monkeypatch):
    """Overrides of the repo config that put the demo inputs and output_root on
    `objstore://` (GCS-like, no folders), run in this process only."""
    monkeypatch.setattr(ObjectStoreFileSystem, "root", str(tmp_path / "objstore"))
    corpus = os.path.join(REPO, "data", "demo", "corpus")
    shutil.copytree(corpus, tmp_path / "objstore" / "bucket" / "raw")
    base = load_config(REPO_CONFIG, check_inputs=False)
    inputs = [
        {"glob": f"{SCHEME}://bucket/raw/" + os.path.relpath(s.glob, "data/demo/corpus"), "format": s.format}
        for s in base.inputs
    ]
    return (
        f"inputs={json.dumps(inputs)}",
        f"output_root={SCHEME}://bucket/out",
        # One process: the test's file system class is registered in this one only.
        "runner.direct_running_mode=in_memory",
        "runner.direct_num_workers=1",
    )


def _objects(prefix):
    from apache_beam.io.filesystems import FileSystems

    return sorted(m.path for m in FileSystems.match([prefix + "**"])[0].metadata_list)


def _cli_args(overrides):
    return [arg for override in overrides for arg in ("--set", override)]


@pytest.mark.slow
def test_pipeline_runs_on_object_storage_and_reruns_leave_no_stale_files(objstore, capsys):
    """Stages reach data only through FileSystems, and a rerun replaces a stage's
    files even where folders do not exist (gs://)."""
    code = main(["run", "--to", "tfrecords", "--config", REPO_CONFIG, *_cli_args(objstore)])
    assert code == 0, capsys.readouterr().err[-3000:]
    config = load_config(REPO_CONFIG, objstore)
    states = {s.name: s.state for s in runner.stage_status(config)}
    assert states.pop("train") == "missing"  # TFX keeps ML Metadata on a local disk
    assert set(states.values()) == {"done"}
    golden = demo_golden()
    for stage in ("ingest", "clean", "nouns", "dictionary", "morph", "vocab", "tfrecords"):
        counters = runner.read_manifest(config, stage)["counters"]
        assert {k: v for k, v in counters.items() if not k.startswith("progress_")} == golden[stage], stage
    assert len(_objects(f"{SCHEME}://bucket/out/ingest/paragraphs/")) == config.ingest.num_shards == 8

    # Fewer shards: the old shard files must go, or clean would read them.
    fewer = (*objstore, "ingest.num_shards=3")
    code = main(["run", "--to", "tfrecords", "--config", REPO_CONFIG, "--force", *_cli_args(fewer)])
    assert code == 0, capsys.readouterr().err[-3000:]
    assert len(_objects(f"{SCHEME}://bucket/out/ingest/paragraphs/")) == 3
    assert len(_objects(f"{SCHEME}://bucket/out/clean/text/")) == 3
    assert not [p for p in _objects(f"{SCHEME}://bucket/out/") if "/_tmp/" in p]

    # An output without a manifest is an interrupted run, with or without folders.
    from apache_beam.io.filesystems import FileSystems

    FileSystems.delete([f"{SCHEME}://bucket/out/clean/manifest.json"])
    states = {s.name: s.state for s in runner.stage_status(load_config(REPO_CONFIG, fewer))}
    assert states["ingest"] == "done" and states["clean"] == "incomplete"
