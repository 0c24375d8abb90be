"""Downstream tasks: readers that count and locate bad input, the span <-> piece mapping,
SQuAD v1.1's metrics with the Korean normalisation, QA windows, the demo data. The runs on a
trained model are in tests/components/test_tasks_end_to_end.py."""

import json

from components.tasks.common import Problems
from components.tasks.question_answering import normalize_answer, read_squad, squad_scores, windows
from components.tasks.token_classification import (
    char_bio,
    piece_tags,
    read_conll,
    read_jsonl,
    spans_from_tags,
)
from pipeline.text.token_offsets import Piece


def test_conll_reader_builds_character_spans_and_skips_bad_sentences(tmp_path):
    path = tmp_path / "ner.conll"
    path.write_text(
        "유연성\tB-COMPONENT\n기재층\tI-COMPONENT\n600\tB-VALUE\n㎛\tI-VALUE\n\n"
        "나쁜 줄\n다음\tO\n\n"
        "미세바늘\tB-THING\n은\tX-BAD\n",
        encoding="utf-8",
    )
    problems = Problems()
    rows = read_conll(str(path), problems)
    assert rows == [
        {"text": "유연성 기재층 600 ㎛", "entities": [[0, 7, "COMPONENT"], [8, 13, "VALUE"]], "line": 1}
    ]
    assert problems.counts == {
        "malformed line: expected token<TAB>tag": 1,
        "unknown tag: not O, B-X or I-X": 1,
    }
    assert problems.listed[0].startswith(f"{path}:6: malformed line")
    assert problems.listed[1].startswith(f"{path}:10: unknown tag")


def test_jsonl_reader_skips_spans_outside_the_text(tmp_path):
    path = tmp_path / "ner.jsonl"
    path.write_text(
        '{"text": "기재층(110)", "entities": [[0, 3, "COMPONENT"]]}\n'
        '{"text": "짧다", "entities": [[0, 9, "VALUE"]]}\nnot json\n',
        encoding="utf-8",
    )
    problems = Problems()
    assert read_jsonl(str(path), problems) == [
        {"text": "기재층(110)", "entities": [[0, 3, "COMPONENT"]], "line": 1}
    ]
    assert sum(problems.counts.values()) == 2
    assert [line.split(": ")[0] for line in problems.listed] == [f"{path}:2", f"{path}:3"]


def test_piece_tags_and_predicted_spans_round_trip_through_characters():
    # The pieces of "기재층(110)에 600 ㎛".
    pieces = [
        Piece("기재", 5, 0, 2),
        Piece("층", 6, 2, 3),
        Piece("(", 7, 3, 4),
        Piece("110", 8, 4, 7),
        Piece(")", 9, 7, 8),
        Piece("에", 10, 8, 9),
        Piece("600", 11, 10, 13),
        Piece("㎛", 12, 14, 15),
    ]
    gold = [(0, 3, "COMPONENT"), (10, 15, "VALUE"), (0, 1, "COMPONENT")]
    tags, off_edge = piece_tags(pieces, gold[:2])
    assert tags == ["B-COMPONENT", "I-COMPONENT", "O", "O", "O", "O", "B-VALUE", "I-VALUE"]
    assert off_edge == 0
    assert piece_tags(pieces, gold[2:])[1] == 1  # 기 is inside the piece 기재: counted
    assert spans_from_tags(pieces, tags) == [(0, 3, "COMPONENT"), (10, 15, "VALUE")]
    # An I- after O or after another tag opens a new span (conlleval's reading).
    assert spans_from_tags(pieces, ["I-VALUE", "B-COMPONENT", "O", "O", "O", "O", "I-VALUE", "I-VALUE"]) == [
        (0, 2, "VALUE"),
        (2, 3, "COMPONENT"),
        (10, 15, "VALUE"),
    ]
    assert char_bio("ab c", [(0, 2, "X")]) == ["B-X", "I-X", "O"]


def test_squad_v1_metrics_with_korean_normalisation():
    assert normalize_answer("「유연성 기재층」.") == "유연성 기재층"
    assert normalize_answer("The PVP") == "pvp"
    scores = squad_scores(
        {"q1": "유연성 기재층", "q2": "기재층에", "q3": ""},
        {"q1": ["유연성  기재층!"], "q2": ["유연성 기재층", "기재층"], "q3": ["600 ㎛"]},
    )
    # q1 exact; q2: 기재층에 != 기재층 (particles are not stripped), F1 0; q3 nothing.
    assert scores == {"exact_match": round(100 / 3, 2), "f1": round(100 / 3, 2)}
    assert squad_scores({"q": "유연성 기재층 110"}, {"q": ["유연성 기재층"]})["f1"] == 80.0


def test_squad_reader_skips_answers_not_at_answer_start(tmp_path):
    data = {
        "data": [
            {
                "title": "t",
                "paragraphs": [
                    {
                        "context": "상기 기재층(110)은 유연하다.",
                        "qas": [
                            {
                                "id": "ok",
                                "question": "110?",
                                "answers": [{"text": "기재층", "answer_start": 3}],
                            },
                            {
                                "id": "off",
                                "question": "110?",
                                "answers": [{"text": "기재층", "answer_start": 4}],
                            },
                        ],
                    }
                ],
            }
        ]
    }
    path = tmp_path / "qa.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    problems = Problems()
    assert [q["id"] for q in read_squad(str(path), problems)] == ["ok"]
    assert problems.counts == {"answer text does not match the context at answer_start": 1}
    line = next(i for i, text in enumerate(path.read_text().splitlines(), 1) if '"off"' in text)
    assert problems.listed[0].startswith(f"{path}:{line}: answer text does not match")


def test_windows_cover_a_long_context_with_overlap():
    assert windows(10, 4, 3) == [(0, 4), (3, 7), (6, 10)]
    assert windows(3, 4, 2) == [(0, 3)]


def test_demo_data_answers_sit_at_their_offsets():
    from tests.helpers import REPO

    problems = Problems()
    questions = read_squad(f"{REPO}/data/demo/qa.json", problems)
    assert len(questions) == 200 and not problems.counts
    rows = read_jsonl(f"{REPO}/data/demo/ner.jsonl", problems)
    assert len(rows) == 300 and not problems.counts


def test_evaluate_exits_2_with_one_message_when_nothing_is_usable(demo_copy, tmp_path):
    from tests.helpers import run_cli

    bad = tmp_path / "ner.conll"
    bad.write_text("토큰 하나\n기재층\tB-?\n", encoding="utf-8")
    done = run_cli(demo_copy, "evaluate", "--task", "ner", "--data", str(bad), "--model", str(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {bad}: no usable sentences"
    missing = run_cli(demo_copy, "evaluate", "--task", "qa", "--model", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "model folder not found" in missing.stderr
