"""korean_title: the hand-written KIPRIS / KIPO title cases of tests/data/titles.tsv, exactly."""

import os
import re

import pytest

from pipeline.text.titles import CUT, DROPPED, KEPT, OUTCOMES, TitleResult, korean_title
from tests.helpers import REPO

CASES_PATH = os.path.join(REPO, "tests", "data", "titles.tsv")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|[ntr])")


def _unescape(field: str) -> str:
    def one(m: re.Match) -> str:
        code = m.group(1)
        return {"n": "\n", "t": "\t", "r": "\r"}.get(code) or chr(int(code[1:], 16))

    return _ESCAPE.sub(one, field)


def load_cases() -> list[tuple[int, str, str, str]]:
    with open(CASES_PATH, encoding="utf-8") as f:
        lines = f.read().split("\n")
    cases = []
    for lineno, line in enumerate(lines, start=1):
        if not line or line.startswith("#"):
            continue
        raw, expected, outcome = line.split("\t")
        cases.append((lineno, _unescape(raw), _unescape(expected), outcome))
    return cases


CASES = load_cases()


def test_the_case_file_is_large_and_covers_every_outcome():
    assert len(CASES) >= 100
    assert {outcome for *_, outcome in CASES} == set(OUTCOMES)
    assert len({raw for _, raw, _, _ in CASES}) == len(CASES), "a case is repeated"


@pytest.mark.parametrize("lineno, raw, expected, outcome", CASES, ids=[f"line{c[0]}" for c in CASES])
def test_korean_title(lineno, raw, expected, outcome):
    assert korean_title(raw) == TitleResult(expected, outcome)


def test_outcomes_agree_with_the_text():
    for _, raw, _, _ in CASES:
        text, outcome = korean_title(raw)
        if outcome == DROPPED:
            assert text == ""
        elif outcome == KEPT:
            assert text == raw.strip()
        else:
            assert outcome == CUT and raw.strip().startswith(text) and len(text) < len(raw.strip())


def test_korean_title_is_idempotent_on_what_it_keeps():
    # Cutting once is the rule: a second pass may only cut a second group, never the Korean.
    for _, raw, _, _ in CASES:
        text, outcome = korean_title(raw)
        if outcome == KEPT:
            assert korean_title(text) == (text, KEPT)
