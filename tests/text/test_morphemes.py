"""Morphemes without Beam: word-start marks, spacing, the batch tagger, the text layout."""

import pytest

from pipeline.text.morphemes import MecabBatchTagger, format_rows, restore_spacing, text_layout, word_starts


@pytest.mark.parametrize(
    "sentence, morphemes, marks",
    [
        ("합성세제를 제조한다.", ["합성", "세제", "를", "제조", "한다", "."], "100100"),
        ("SiO2 층(10)이다.", ["SiO", "2", "층", "(", "10", ")", "이", "다", "."], "101000000"),
        ("  앞 공백", ["앞", "공백"], "11"),
    ],
)
def test_word_starts_and_restore(sentence, morphemes, marks):
    assert word_starts(sentence, morphemes) == marks
    assert restore_spacing(" ".join(morphemes), marks) == sentence.strip()


def test_word_starts_refuses_morphemes_that_do_not_tile_the_sentence():
    assert word_starts("합성세제", ["합성", "세재"]) is None
    assert word_starts("합성세제 액", ["합성", "세제"]) is None


def test_batch_tagger_matches_python_mecab_and_keeps_line_alignment():
    import mecab

    sentences = [
        "본 발명은 합성세제액에 관한 것이다.",
        "상기 양극활물질은 LiNi0.8Co0.1Mn0.1O2를 포함한다.",
        "도 1은 열교환기(100)의 단면도이다.",
        "ⓐ ① ㎛ 漢字 혼용 문장이다.",
    ]
    tagger = MecabBatchTagger()
    reference = mecab.MeCab()
    assert tagger.split(sentences) == [reference.morphs(s) for s in sentences]
    assert tagger.split([]) == []


# Sentences as `clean` writes them (single spaces between words), then odd ones that
# take python-mecab-ko's own morphs(): other whitespace (MeCab makes a morpheme of
# U+3000 and NBSP; str.split() would drop them), doubled, leading or trailing
# spaces, control characters, an empty sentence, one longer than the C++ command
# line's 8 KiB input buffer.
REGULAR = [
    "본 발명은 합성세제액에 관한 것이다.",
    "상기 양극활물질은 LiNi0.8Co0.1Mn0.1O2를 포함한다.",
    "도 1은 열교환기(100)의 단면도이다.",
    "ⓐ ① ㎛ 漢字 혼용 문장이다.",
    "",
    "쀍똷 같은 미등록 음절과 ABC xyz 123.",
    ("폴리에틸렌 테레프탈레이트(PET) 필름 " * 400).strip(),
]
IRREGULAR = [
    "전각\u3000공백과\xa0NBSP 문장",
    "탭\t으로 나뉜 문장",
    "두  칸 띄운 문장",
    " 앞 공백",
    "뒤 공백 ",
    "줄\n바꿈",
    "구분\x1f문자와\x1e기록",
    "\u2028단락 구분\u2029",
]


def test_tag_is_python_mecab_morphs_token_for_token_with_word_starts():
    import mecab

    reference = mecab.MeCab()
    tagger = MecabBatchTagger()
    sentences = REGULAR + IRREGULAR
    mixed = [s for pair in zip(sentences, reversed(sentences), strict=True) for s in pair]
    for batch in (REGULAR[:-1], sentences, mixed, IRREGULAR, [REGULAR[0]], []):
        morphemes, marks, unaligned = tagger.tag(batch)
        expected_marks, expected_unaligned = [], 0
        for sentence in batch:
            morphs = reference.morphs(sentence)
            w = word_starts(sentence, morphs)
            expected_unaligned += w is None
            expected_marks.append(w if w is not None else "1" * len(morphs))
        assert morphemes == [" ".join(reference.morphs(s)) for s in batch]
        assert marks == expected_marks
        assert unaligned == expected_unaligned
        assert tagger.split(batch) == [reference.morphs(s) for s in batch]


def test_tag_marks_rebuild_regular_sentences():
    morphemes, marks, unaligned = MecabBatchTagger().tag(REGULAR)
    assert unaligned == 0
    assert [restore_spacing(m, w) if m else "" for m, w in zip(morphemes, marks, strict=True)] == REGULAR


def test_batch_tagger_uses_the_user_dictionary(tmp_path):
    import subprocess
    import sys

    csv = tmp_path / "user.csv"
    csv.write_text("합성세제액,,,,NNP,*,T,합성세제액,*,*,*,*\n", encoding="utf-8")
    dic = tmp_path / "user.dic"
    subprocess.run(
        [sys.executable, "-m", "mecab", "dict-index", f"--userdic={dic}", str(csv)],
        check=True,
        capture_output=True,
    )
    sentence = ["합성세제액을 사용한다."]
    assert MecabBatchTagger().split(sentence)[0][:3] == ["합성", "세", "제액"]
    assert MecabBatchTagger(str(dic)).split(sentence)[0][0] == "합성세제액"


def _row(doc, paragraph, text):
    return {"doc_id": doc, "paragraph_index": paragraph, "morphemes": text}


def test_format_rows_keeps_clean_layout_across_batches():
    rows = [_row("A", 0, "가 나"), _row("A", 0, "다"), _row("A", 1, "라"), _row("B", 0, "마")]
    first, previous = format_rows(rows[:2], None, "paragraphs")
    second, previous = format_rows(rows[2:], previous, "paragraphs")
    assert first + second + "\n" == "가 나\n다\n\n라\n\n마\n\n"
    whole, _ = format_rows(rows, None, "documents")
    assert whole + "\n" == "가 나\n다\n라\n\n마\n\n"


def test_text_layout_equals_format_rows_across_batches():
    import random

    rng = random.Random(3)
    rows, doc, paragraph = [], 0, 0
    for i in range(300):
        step = rng.random()
        if step < 0.1:
            doc, paragraph = doc + 1, 0
        elif step < 0.3:
            paragraph += rng.choice([1, 2])
        rows.append({"doc_id": f"KR{doc}", "paragraph_index": paragraph, "morphemes": f"형태소 {i}"})
    for mode in ("paragraphs", "documents"):
        expected, _ = format_rows(rows, None, mode)
        got, previous, start = [], None, 0
        while start < len(rows):
            stop = start + rng.randint(0, 40)
            batch = rows[start:stop]
            chunk, previous = text_layout(
                [r["morphemes"] for r in batch],
                [r["doc_id"] for r in batch],
                [r["paragraph_index"] for r in batch],
                previous,
                mode,
            )
            got.append(chunk)
            start = stop
        assert "".join(got) == expected
