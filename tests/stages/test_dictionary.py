"""Stage dictionary: its inputs, the CompileUserDictionary transform and the demo run."""

import dataclasses
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline.config import ConfigError, DictionaryConfig, NounsConfig, PipelineConfig, RunnerConfig
from pipeline.stages import dictionary
from pipeline.text import noun_extraction, noun_filters, user_dictionary
from tests.helpers import demo_golden, run_cli


def test_user_csvs_must_be_on_gcs_for_dataflow(tmp_path):
    local = tmp_path / "pat.csv"
    local.write_text("세제,,,,NNP,*,F,세제,*,*,*,*\n", encoding="utf-8")
    config = PipelineConfig(dictionary=DictionaryConfig(user_csvs=(str(local),)))
    assert dictionary.user_csv_paths(config) == (str(local),)
    on_dataflow = dataclasses.replace(config, runner=RunnerConfig(runner="DataflowRunner"))
    with pytest.raises(ConfigError, match="Dataflow workers cannot read it"):
        dictionary.user_csv_paths(on_dataflow)


def test_compile_user_dictionary_transform(tmp_path):
    """Extracted nouns + a term list + a user CSV -> user.csv, user.dic and the check."""
    nouns_parquet = tmp_path / "nouns.parquet"
    rows = [
        {"noun": "제어부", "frequency": 9, "score": 1.0, "compound": False, "parts": []},
        {"noun": "세제", "frequency": 7, "score": 1.0, "compound": False, "parts": []},  # stock knows it
        {"noun": "합성세제액", "frequency": 5, "score": 1.0, "compound": True, "parts": ["합성세제", "액"]},
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=noun_extraction.noun_schema()), str(nouns_parquet))
    user_csv = tmp_path / "mine.csv"
    user_csv.write_text("열중착,,,,NNP,*,T,열중착,*,*,*,*\n", encoding="utf-8")
    text = tmp_path / "text"
    text.mkdir()
    (text / "part-00000-of-00001.txt").write_text(
        "상기 합성세제액을 열중착하되 제어부가 제어한다.\n본 발명은 세제에 관한 것이다.\n\n", encoding="utf-8"
    )
    terms = (("seeds.txt", "합성세제액\t합성+세제+액\n# comment\n"),)
    inputs = dictionary.DictionaryInputs(str(nouns_parquet), terms, (str(user_csv),))
    out = tmp_path / "dictionary"
    with TestPipeline() as p:
        _ = p | dictionary.CompileUserDictionary(str(text / "*.txt"), DictionaryConfig(), inputs, str(out))

    assert (out / "user.csv").read_text(encoding="utf-8") == (
        "열중착,,,,NNP,*,T,열중착,*,*,*,*\n"
        "제어부,,,500,NNP,*,F,제어부,*,*,*,*\n"  # costs by length (dictionary.length_costs)
        "합성세제액,,,0,NNP,*,T,합성세제액,Compound,*,*,합성/NNG/*+세제/NNG/*+액/NNG/*\n"
    )
    assert (out / "user.dic").stat().st_size > 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["entries_by_source"] == {"user_csv": 1, "term_list": 1, "extracted": 1}
    check = report["check"]
    assert check["sentences"] == 2 and check["nouns_found_in_sample"] == 3
    assert check["single_token_share"] == 1.0 and check["single_token_share_before"] == 0.0
    fixed = {e["noun"]: e["before"] for e in check["examples_fixed"]}
    assert fixed == {"합성세제액": "합성/세/제액", "열중착": "열중/착하", "제어부": "제/어부"}
    # Where an entry overrode a stock analysis that was not a split noun (all right here).
    overrides = check["stock_overrides"]
    assert (overrides["occurrences"], overrides["cases"], overrides["nouns"]) == (3, 3, 3)
    assert [(e["noun"], e["stock"], e["user"]) for e in overrides["examples"]] == [
        ("열중착", "열중/NNG+착하/NNG", "열중착/NNP+하/VV"),
        ("제어부", "제/MM+어부/NNG", "제어부/NNP"),
        ("합성세제액", "합성/NNG+세/MM+제액/NNG", "합성세제액/NNP"),
    ]
    assert overrides["hand_checked"] == user_dictionary.HAND_CHECKED_OVERRIDES


# ------------------------------------------------------------------ end to end
def _cli(config, *args):
    return run_cli(config, *args)


def _files(folder, names):
    out = {}
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            out[name] = f.read()
    return out


@pytest.mark.slow
def test_demo_run_extracts_nouns_and_keeps_them_whole(demo_copy, tmp_path):
    import mecab

    root = tmp_path / "out"
    result = _cli(demo_copy, "run", "--to", "morph")
    assert result.returncode == 0, result.stderr[-3000:]
    with open(root / "nouns" / "manifest.json", encoding="utf-8") as f:
        nouns_manifest = json.load(f)
    with open(root / "dictionary" / "manifest.json", encoding="utf-8") as f:
        dict_manifest = json.load(f)
    nc, dc = nouns_manifest["counters"], dict_manifest["counters"]
    assert nc["nouns_from_soynlp"] == nc["nouns_written"] + nc["nouns_dropped"]
    assert nc["nouns_dropped"] == sum(nc[f"nouns_dropped_{r}"] for r in noun_filters.REASONS)
    golden = demo_golden()
    assert {k: v for k, v in nc.items() if not k.startswith("progress_")} == golden["nouns"]
    assert nouns_manifest["report"]["eojeols_kept"] == nc["distinct_eojeols_kept"]
    assert dc["extracted_nouns_in"] == nc["nouns_written"]
    assert dc["extracted_nouns_in"] == (
        dc["entries_from_extracted"] + dc["extracted_skipped_known"] + dc["duplicates_dropped_extracted"]
    )

    # The distributed counting gives exactly what soynlp finds on the clean sentences on its own.
    text_dir = root / "clean" / "text"
    sentences = [
        line.strip()
        for name in sorted(os.listdir(text_dir))
        for line in (text_dir / name).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    config = NounsConfig(**{k: v for k, v in nouns_manifest["config"].items()})
    reference = noun_extraction.extract_nouns_single_process(sentences, config)
    rows = pq.read_table(str(root / "nouns" / "nouns.parquet")).to_pylist()
    with open(root / "nouns" / "rejects.jsonl", encoding="utf-8") as f:
        rows += [json.loads(line) for line in f]
    assert {r["noun"]: (r["frequency"], r["score"], tuple(r["parts"])) for r in rows} == {
        n.noun: (n.frequency, n.score, n.parts) for n in reference.values()
    }

    # A noun soynlp found (not a seed term), which the stock dictionary splits, is one token now.
    noun = "이산화탄소"
    assert noun in {r["noun"] for r in rows[: nc["nouns_written"]]}
    with open(root / "dictionary" / "user.csv", encoding="utf-8") as f:
        assert f"{noun},,,0,NNP,*,F,{noun},*,*,*,*\n" in f.read()
    sentence = next(s for s in sentences if noun in s)
    stock = mecab.MeCab()
    user = mecab.MeCab(user_dictionary_path=str(root / "dictionary" / "user.dic"))
    assert noun not in stock.morphs(sentence) and noun in user.morphs(sentence)
    check = dict_manifest["report"]["check"]
    assert check["single_token_share"] > check["single_token_share_before"]
    assert check["meets_target"] and check["single_token_share"] == 0.9811  # default length costs
    assert check["stock_overrides"]["occurrences"] == 482 and check["stock_overrides"]["cases"] == 75
    assert check["nouns_fixed"] > 50 and check["examples_fixed"]

    # Reruns give byte-identical outputs, whatever the runner mode and worker count.
    nouns_files = ["nouns.parquet", "nouns.tsv", "rejects.jsonl", "eojeol_counts.txt"]
    dict_files = ["user.csv", "user.dic", "rejects.jsonl"]
    before = _files(root / "nouns", nouns_files), _files(root / "dictionary", dict_files)
    again = _cli(
        demo_copy,
        "run",
        "--stages",
        "nouns,dictionary",
        "--force",
        "--",
        "--direct_running_mode=in_memory",
        "--direct_num_workers=1",
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert (_files(root / "nouns", nouns_files), _files(root / "dictionary", dict_files)) == before
