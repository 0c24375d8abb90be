"""Stage dictionary: CSV rows, validation, merging, compiling and the single-token check."""

import dataclasses
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline.config import ConfigError, DictionaryConfig, PipelineConfig, RunnerConfig
from pipeline.stages import dictionary, nouns
from pipeline.stages.dictionary import Entry, NounCheck
from pipeline.text import mecab_dictionary
from tests.helpers import REPO, run_cli

# ------------------------------------------------------------------ rows


@pytest.mark.parametrize(
    "surface, flag",
    [
        ("합성세제액", "T"),  # 액: ㄱ
        ("합성세제", "F"),  # 제: no 받침
        ("열중착", "T"),
        ("PET필름", "T"),  # ends in Hangul: 름
        ("LED", "F"),  # 디
        ("PCM", "T"),  # 엠
        ("GaN", "T"),  # 엔
        ("CO2", "F"),  # 이
        ("3", "T"),  # 삼
        ("10", "T"),  # 십
        ("12", "F"),  # 십이
        ("10000", "T"),  # 만
        ("1000000000000", "F"),  # 일조
        ("1.5", "F"),  # 일 점 오
        ("1.50", "T"),  # 일 점 오 영
        ("B-B'", "F"),  # the prime is skipped: 비
        ("(주)", "F"),
        ("勾配", "F"),  # Hanja: no reading available, F
        ("ㄱ자형", "T"),
    ],
)
def test_final_consonant(surface, flag):
    assert mecab_dictionary.final_consonant(surface) == flag


def test_compound_expression():
    assert mecab_dictionary.compound_expression(("합성", "세제")) == "합성/NNG/*+세제/NNG/*"
    assert mecab_dictionary.compound_expression(("양극", "활물질"), "NNP") == "양극/NNP/*+활물질/NNP/*"


def test_csv_row_single_and_compound():
    assert mecab_dictionary.csv_row("열중착") == (
        "열중착",
        "",
        "",
        "",
        "NNP",
        "*",
        "T",
        "열중착",
        "*",
        "*",
        "*",
        "*",
    )
    assert mecab_dictionary.format_csv_line(mecab_dictionary.csv_row("합성세제", parts=("합성", "세제"))) == (
        "합성세제,,,,NNP,*,F,합성세제,Compound,*,*,합성/NNG/*+세제/NNG/*\n"
    )
    assert mecab_dictionary.csv_row("세제", "NNG", cost=1000)[3:5] == ("1000", "NNG")


VALID = "합성세제액,,,,NNP,*,T,합성세제액,Compound,*,*,합성/NNG/*+세제/NNG/*+액/NNG/*"


@pytest.mark.parametrize(
    "line, reason",
    [
        (VALID, None),
        ("가격결정,1786,3546,2953,NNP,*,T,가격결정,*,*,*,*", None),
        ("먹었다,,,,VV+EP,*,F,먹었다,Inflect,VV,EP,먹/VV/*+었/EP/*", None),
        ('",",,,,SC,*,*,",",*,*,*,*', None),  # MeCab reads quoted fields too
        ("세제,,,,NNP,*,F,세제,*,*,*,*,*", "13 columns, expected 12"),
        ("세제,,,,NNP,*,F,세제,*,*,*", "11 columns, expected 12"),
        (",,,,NNP,*,F,세제,*,*,*,*", "surface is empty"),
        ("세 제,,,,NNP,*,F,세제,*,*,*,*", "contains whitespace"),
        ("세제,,,abc,NNP,*,F,세제,*,*,*,*", "cost must be empty or an integer"),
        ("세제,,,,nnp,*,F,세제,*,*,*,*", "pos must be a tag"),
        ("세제,,,,NNP,*,Y,세제,*,*,*,*", "final-consonant flag must be T, F or *"),
        ("세제,,,,NNP,*,*,세제,*,*,*,*", "use T or F"),
        ("세제,,,,NNP,*,F,세제,Compound,*,*,*", "needs an expression"),
        ("세제,,,,NNP,*,F,세제,Mixed,*,*,*", "type must be one of"),
        ("세제,,,,NNP,*,F,세제,Compound,*,*,세제", "expression must be part/POS/semantic"),
    ],
)
def test_csv_row_error(line, reason):
    error = mecab_dictionary.csv_row_error(mecab_dictionary.split_csv_line(line))
    if reason is None:
        assert error is None
    else:
        assert reason in error


@pytest.mark.parametrize(
    "line, parsed",
    [
        ("합성세제액\t합성+세제+액", ("합성세제액", ("합성", "세제", "액"))),
        ("열중착", ("열중착", ())),
        ("  # a comment", None),
        ("", None),
        ("합성세제\t합성+세재", "do not spell the term"),
        ("합성 세제", "whitespace"),
        ("a\tb\tc", "more than two"),
    ],
)
def test_parse_term_line(line, parsed):
    result = mecab_dictionary.parse_term_line(line)
    if isinstance(parsed, str):
        assert parsed in result
    else:
        assert result == parsed


def test_bundled_seed_terms_parse_and_are_split_by_the_stock_dictionary():
    import mecab

    with open(os.path.join(REPO, "dictionaries", "seed_terms.txt"), encoding="utf-8") as f:
        terms = [mecab_dictionary.parse_term_line(line) for line in f]
    terms = [t for t in terms if t is not None]
    assert len(terms) >= 100 and all(isinstance(t, tuple) for t in terms)
    stock = mecab.MeCab()
    assert [term for term, _ in terms if len(stock.parse(term)) == 1] == []


# ------------------------------------------------------------------ merging


def _entry(surface, source):
    return Entry(surface, f"{surface},{source}\n", source)


def test_merge_entries_precedence_and_order():
    user = [_entry("세제", "user_csv"), _entry("가방", "user_csv")]
    terms = [_entry("세제", "term_list"), _entry("합성세제", "term_list")]
    extracted = [_entry("합성세제", "extracted"), _entry("전지", "extracted"), _entry("세제", "extracted")]
    entries, duplicates = dictionary.merge_entries([user, terms, extracted])
    assert [(e.surface, e.source) for e in entries] == [
        ("가방", "user_csv"),
        ("세제", "user_csv"),
        ("전지", "extracted"),
        ("합성세제", "term_list"),
    ]
    assert duplicates == {"user_csv": 0, "term_list": 1, "extracted": 2}


def test_user_csv_malformed_row_names_file_line_and_reason(tmp_path):
    path = tmp_path / "pat.csv"
    path.write_text(VALID + "\n\n세제,,,,NNP,*,F,세제,*,*,*,*,*\n", encoding="utf-8")
    with pytest.raises(dictionary.MalformedRow, match=r"pat\.csv:3: 13 columns, expected 12"):
        list(dictionary.user_csv_entries(str(path), [], skip_malformed=False))
    problems = []
    entries = list(dictionary.user_csv_entries(str(path), problems, skip_malformed=True))
    assert [e.surface for e in entries] == ["합성세제액"] and entries[0].line == VALID + "\n"
    assert [(p["line"], p["reason"][:10]) for p in problems] == [(3, "13 columns")]


def test_user_csv_must_be_utf8(tmp_path):
    path = tmp_path / "cp949.csv"
    path.write_bytes("세제,,,,NNP,*,F,세제,*,*,*,*\n".encode("cp949"))
    with pytest.raises(dictionary.MalformedRow, match=r"cp949\.csv:1: not UTF-8"):
        list(dictionary.user_csv_entries(str(path), [], skip_malformed=False))


def test_user_csvs_must_be_on_gcs_for_dataflow(tmp_path):
    local = tmp_path / "pat.csv"
    local.write_text("세제,,,,NNP,*,F,세제,*,*,*,*\n", encoding="utf-8")
    config = PipelineConfig(dictionary=DictionaryConfig(user_csvs=(str(local),)))
    assert dictionary.user_csv_paths(config) == (str(local),)
    on_dataflow = dataclasses.replace(config, runner=RunnerConfig(runner="DataflowRunner"))
    with pytest.raises(ConfigError, match="Dataflow workers cannot read it"):
        dictionary.user_csv_paths(on_dataflow)


def test_is_known_analysis():
    assert dictionary.is_known_analysis("세제", [("세제", "NNG")])
    assert dictionary.is_known_analysis("안정성", [("안정", "NNG"), ("성", "XSN")])
    assert not dictionary.is_known_analysis("합성세제액", [("합성", "NNG"), ("세", "MM"), ("제액", "NNG")])
    assert not dictionary.is_known_analysis("제어부", [("제", "XPN"), ("어부", "NNG")])


# ------------------------------------------------------------------ compiling and checking


def test_compile_user_dictionary_keeps_terms_whole(tmp_path):
    import mecab

    csv_path, dic_path = tmp_path / "user.csv", tmp_path / "user.dic"
    rows = [
        mecab_dictionary.csv_row("합성세제액", parts=("합성", "세제", "액")),
        mecab_dictionary.csv_row("열중착"),
    ]
    csv_path.write_text("".join(map(mecab_dictionary.format_csv_line, rows)), encoding="utf-8")
    stock = mecab.MeCab()
    assert stock.morphs("합성세제액을 열중착하되") == ["합성", "세", "제액", "을", "열중", "착하", "되"]
    result = dictionary.compile_user_dictionary(str(csv_path), str(dic_path))
    assert result["compile_seconds"] >= 0 and result["compile_peak_rss_mb"] >= 0
    user = mecab.MeCab(user_dictionary_path=str(dic_path))
    assert user.morphs("합성세제액을 열중착하되")[:2] == ["합성세제액", "을"]
    assert "열중착" in user.morphs("열중착하되")


def test_compile_refuses_empty_and_reports_compiler_errors(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(RuntimeError, match="no entries"):
        dictionary.compile_user_dictionary(str(empty), str(tmp_path / "empty.dic"))
    bad = tmp_path / "bad.csv"
    bad.write_text("세제,,,,NNP,*,*,세제,*,*,*,*\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="RIGHT-ID"):
        dictionary.compile_user_dictionary(str(bad), str(tmp_path / "bad.dic"))


def test_noun_occurrences_longest_match_after_brackets():
    vocabulary = {"합성", "합성세제액", "세제"}
    assert dictionary.noun_occurrences("(합성세제액)을 쓴 합성 세제는", vocabulary, 5) == [
        (1, 6, "합성세제액"),
        (11, 13, "합성"),
        (14, 16, "세제"),
    ]


def test_summarize_checks():
    checks = {
        "합성세제액": NounCheck(3, 0, 3, "합성/세/제액", "합성세제액"),
        "열중착": NounCheck(2, 0, 1, "열중/착", "열중착"),
        "세제": NounCheck(4, 4, 4, "세제", "세제"),
    }
    s = dictionary.summarize_checks(checks, examples=5, target=0.6)
    assert s["nouns_found_in_sample"] == 3
    assert s["single_token_share"] == round(2 / 3, 4) and s["meets_target"]
    assert s["single_token_share_before"] == round(1 / 3, 4)
    assert s["occurrence_single_token_share"] == round(8 / 9, 4)
    assert [e["noun"] for e in s["examples_fixed"]] == ["합성세제액"]
    assert s["examples_fixed"][0]["before"] == "합성/세/제액"
    assert [e["noun"] for e in s["examples_still_split"]] == ["열중착"]


def test_compile_user_dictionary_transform(tmp_path):
    """Extracted nouns + a term list + a user CSV -> user.csv, user.dic and the check."""
    nouns_parquet = tmp_path / "nouns.parquet"
    rows = [
        {"noun": "제어부", "frequency": 9, "score": 1.0, "compound": False, "parts": []},
        {"noun": "세제", "frequency": 7, "score": 1.0, "compound": False, "parts": []},  # stock knows it
        {"noun": "합성세제액", "frequency": 5, "score": 1.0, "compound": True, "parts": ["합성세제", "액"]},
    ]
    pq.write_table(pa.Table.from_pylist(rows, schema=nouns.noun_schema()), str(nouns_parquet))
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
        "제어부,,,,NNP,*,F,제어부,*,*,*,*\n"
        "합성세제액,,,,NNP,*,T,합성세제액,Compound,*,*,합성/NNG/*+세제/NNG/*+액/NNG/*\n"
    )
    assert (out / "user.dic").stat().st_size > 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["entries_by_source"] == {"user_csv": 1, "term_list": 1, "extracted": 1}
    check = report["check"]
    assert check["sentences"] == 2 and check["nouns_found_in_sample"] == 3
    assert check["single_token_share"] == 1.0 and check["single_token_share_before"] == 0.0
    fixed = {e["noun"]: e["before"] for e in check["examples_fixed"]}
    assert fixed == {"합성세제액": "합성/세/제액", "열중착": "열중/착하", "제어부": "제/어부"}


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
    assert nc["nouns_dropped"] == sum(nc[f"nouns_dropped_{r}"] for r in nouns.REASONS)
    assert nc["nouns_written"] > 500 and nc["compounds_written"] >= 1
    assert nouns_manifest["report"]["eojeols_kept"] == nc["distinct_eojeols_kept"] > 1000
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
    config = nouns.NounsConfig(**{k: v for k, v in nouns_manifest["config"].items()})
    reference = nouns.extract_nouns_single_process(sentences, config)
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
        assert f"{noun},,,,NNP,*,F,{noun},*,*,*,*\n" in f.read()
    sentence = next(s for s in sentences if noun in s)
    stock = mecab.MeCab()
    user = mecab.MeCab(user_dictionary_path=str(root / "dictionary" / "user.dic"))
    assert noun not in stock.morphs(sentence) and noun in user.morphs(sentence)
    check = dict_manifest["report"]["check"]
    assert check["single_token_share"] > check["single_token_share_before"]
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
        "--direct_running_mode=in_memory",
        "--direct_num_workers=1",
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert (_files(root / "nouns", nouns_files), _files(root / "dictionary", dict_files)) == before
