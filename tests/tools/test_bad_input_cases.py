"""The bad-input corpus, its outcome notation and the network guard (fast; the run is in test_bad_input_harness.py)."""

import os
import stat
import subprocess
import sys
from collections import Counter

import pytest

from pipeline.tools import netguard
from pipeline.tools.bad_inputs import cases as bad_input_cases
from pipeline.tools.bad_inputs.cases import outcome_text
from pipeline.tools.bad_inputs.prose import josa


def _tree(root) -> dict:
    """Relative path -> bytes of each regular file, or what the entry is (never opened:
    a FIFO would block)."""
    out = {}
    for dirpath, dirnames, names in os.walk(root):
        for name in names + dirnames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                out[rel] = ("symlink", os.readlink(path))
            elif stat.S_ISFIFO(mode):
                out[rel] = ("fifo",)
            elif stat.S_ISDIR(mode):
                if not os.listdir(path):
                    out[rel] = ("directory",)  # an empty folder is a case; others hold cases
            else:
                with open(path, "rb") as f:
                    out[rel] = f.read()
    return out


def test_corpus_is_deterministic_with_one_file_per_case(tmp_path):
    cases = bad_input_cases.write_corpus(str(tmp_path / "a"), big_mb=0.1, max_file_mb=1)
    bad_input_cases.write_corpus(str(tmp_path / "b"), big_mb=0.1, max_file_mb=1)
    bad_input_cases.write_corpus(str(tmp_path / "b"), big_mb=0.1, max_file_mb=1)  # again, in place
    first, second = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert first == second
    assert set(first) == {c.path for c in cases} | {
        os.path.join(bad_input_cases.CANARY_DIR, bad_input_cases.CANARY_FILE)
    }
    assert len({c.name for c in cases}) == len(cases)
    # Every input folder and file name has a space or a Korean character.
    for c in cases:
        folder = bad_input_cases.FOLDERS[c.format][0]
        assert " " in folder
        assert " " in c.file or any("\uac00" <= ch <= "\ud7a3" for ch in c.file), c.file


def test_corpus_covers_every_case_the_issue_lists():
    names = {c.name for c in bad_input_cases.cases(big_mb=0.1, max_file_mb=1)}
    required = {
        "xml_malformed",
        "xml_truncated",
        "xml_wrong_root",
        "xml_empty",
        "xml_gz_zero",
        "xml_gz_truncated",
        "xml_binary",
        "xml_external_file_entity",
        "xml_external_network_entity",
        "xml_entity_bomb",
        "xml_cp949",
        "xml_euc_kr_undeclared",
        "text_cp949",
        "text_euc_kr",
        "xml_utf8_bom",
        "xml_mixed_newlines",
        "text_mixed_newlines",
        "xml_control_chars",
        "xml_big",
        "xml_long_sentence",
        "xml_numbers_formulas",
        "xml_english",
        "jsonl_japanese",
        "jsonl_chinese",
        "text_hanja",
        "jsonl_bad_line_middle",
        "parquet_missing_columns",
        "parquet_extra_columns",
        "parquet_no_id_column",
        # issue 16: one unit never costs the run
        "xml_deep_inline",
        "xml_deep_blocks",
        "xml_forbidden_char_ref",
        "jsonl_lone_surrogate",
        "jsonl_huge_id",
        "jsonl_utf16_bom",
        "jsonl_unclosed_tables",
        "jsonl_address_key",
        "jsonl_two_globs",
        "parquet_undecodable_cell",
        "text_utf16_no_bom",
        "text_address_section",
        "xml_fifo",
        "xml_directory",
        "text_symlink_loop",
        "text_dangling_symlink",
        "text_symlink_outside",
    }
    assert required <= names
    controls = [c for c in bad_input_cases.cases(0.1, 1) if c.expect.split(";")[0].endswith("kept")]
    assert {c.format for c in controls} == set(bad_input_cases.FOLDERS)


def test_big_publication_size_and_unique_paragraphs():
    from pipeline.text.readers import parse_kipo_xml

    data = bad_input_cases.big_publication(0.5)
    assert 0.5 * 2**20 <= len(data) < 0.6 * 2**20
    texts = [p.text for p in parse_kipo_xml(data, "big.xml", "big").paragraphs]
    assert len(set(texts)) == len(texts)


@pytest.mark.parametrize(
    "units, drops, text",
    [
        ({"kept": 1}, {}, "kept"),
        ({"rejected:malformed_xml": 1}, {}, "rejected:malformed_xml"),
        ({"rejected:malformed_json": 1, "kept": 4}, {}, "4 kept, 1 rejected:malformed_json"),
        ({"kept": 1}, {"too_long": 1, "low_hangul": 2}, "kept; sentences_dropped:low_hangul+too_long"),
        ({"kept": 0, "rejected:empty_file": 1}, {"too_short": 0}, "rejected:empty_file"),
    ],
)
def test_outcome_notation(units, drops, text):
    assert outcome_text(Counter(units), Counter(drops)) == text


@pytest.mark.parametrize(
    "word, particle, expected",
    [
        ("기판", "은", "기판은"),
        ("제어부", "은", "제어부는"),
        ("냉각판", "이", "냉각판이"),
        ("센서 모듈", "을", "센서 모듈을"),
        ("하우징", "과", "하우징과"),
        ("분리막", "으로", "분리막으로"),
        ("탄소 섬유", "으로", "탄소 섬유로"),
        ("세라믹 분말", "으로", "세라믹 분말로"),
    ],
)
def test_josa(word, particle, expected):
    assert josa(word, particle) == expected


@pytest.mark.parametrize(
    "event, args, refused",
    [
        ("socket.connect", (None, ("127.0.0.1", 50051)), False),
        ("socket.connect", (None, ("::1", 80, 0, 0)), False),
        ("socket.connect", (None, "/tmp/unix.sock"), False),
        ("socket.connect", (None, ("198.51.100.7", 80)), True),
        ("socket.getaddrinfo", ("localhost", 80, 0, 0, 0), False),
        ("socket.getaddrinfo", ("dtd.kipo-mirror.invalid", 80, 0, 0, 0), True),
        ("urllib.Request", ("http://127.0.0.1/x", None, {}, "GET"), True),
        ("open", ("/data/비밀 canary/canary.txt", "r", 0), True),
        ("open", ("/data/corpus/정상 공보.xml", "rb", 0), False),
    ],
)
def test_netguard_rules(event, args, refused):
    assert (netguard.refusal(event, args, "canary.txt") is not None) == refused


def test_netguard_refuses_and_logs_in_a_child_process(tmp_path):
    folder, log = tmp_path / "가드 dir", tmp_path / "guard.log"
    env = {**os.environ, **netguard.guard_env(str(folder), str(log), "canary.txt")}
    code = (
        "import socket, urllib.request\n"
        "attempts = [lambda: socket.create_connection(('198.51.100.7', 80), timeout=1),\n"
        "            lambda: socket.getaddrinfo('dtd.kipo-mirror.invalid', 80),\n"
        "            lambda: urllib.request.urlopen('http://198.51.100.7/x'),\n"
        "            lambda: open('canary.txt')]\n"
        "for attempt in attempts:\n"
        "    try:\n"
        "        attempt()\n"
        "    except PermissionError:\n"
        "        print('refused')\n"
        "s = socket.socket()\n"
        "try:\n"
        "    s.connect(('127.0.0.1', 9))\n"
        "except ConnectionRefusedError:\n"
        "    print('loopback allowed')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.split("\n")[:5] == ["refused"] * 4 + ["loopback allowed"], result.stderr
    lines = log.read_text(encoding="utf-8").splitlines()
    assert lines[0].endswith(": installed")
    assert len([line for line in lines if ": refused " in line]) == 4
