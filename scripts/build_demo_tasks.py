#!/usr/bin/env python3
"""Write the demo's NER and QA data for `python -m pipeline evaluate --task ner|qa`.

    python scripts/build_demo_tasks.py [--source data/demo/source] [--out data/demo] [--seed 0]

Both come from the demo publications' text (data/demo/source, the records the demo corpus
is written from), by rules (`demo_tasks_v1`), and are sampled by a hash of (seed, text), so
the output depends on neither file order nor the machine. docs/evaluation.md describes them.

ner.jsonl, one sentence per line, `{"id", "text", "entities": [[start, end, tag], ...]}`
(character offsets), tags:
  COMPONENT  the name a reference numeral labels: the run of up to four bare Hangul words
             (or `제N`) right before `(110)` / `(115a)`, stopping at 상기, 및, ... and at a
             word ending in a particle (`상기 구동 롤러(911)` -> `구동 롤러`);
             the numeral itself is not part of the name.
  VALUE      a number (or range `N 내지 M`, `N~M`) with a unit: `600 ㎛`, `25 ℃`,
             `3,000 rpm`, `30 내지 150 mg/kg`.
  MATERIAL   a word naming a substance: `폴리` + Hangul without a trailing particle
             (폴리비닐피롤리돈은 -> 폴리비닐피롤리돈) or a Hangul word
             ending in a chemical suffix (셀룰로오스, 실리카, 알루미나, ...-산 but not 생산, 분산, ...).
Sentences (the pipeline's own splitter, 20+ characters) with at least one entity, 300 of them.

qa.json, SQuAD v1.1 over description paragraphs:
  what a reference numeral labels  "도면 부호 110이 가리키는 구성 요소는 무엇인가?" -> 유연성 기재층
                                   (at most two numerals per paragraph, the answer is its first
                                   labelled mention);
  what the invention is about      "본 발명은 무엇에 관한 것인가?" -> the span between
                                   `본 발명은` and `에 관한 것` of the technical-field paragraph;
  what a defined term means        "본 명세서에서 '중심 영역'은 무엇을 의미하는가?" -> the span
                                   between the quoted term's `이란/란/은/는` and `을/를 말하/의미하`.
200 questions in all.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import unicodedata
from pathlib import Path

from pipeline.text.sentences import split_sentences
from pipeline.tools.corpus_writers import load_sources

REPO = Path(__file__).resolve().parents[1]
RULES_VERSION = "demo_tasks_v1"
NER_SENTENCES = 300
QA_QUESTIONS = 200
MIN_CHARS = 20

NUMERAL = re.compile(r"(?<=[가-힣])\((\d{1,4}[a-z]?)\)")
# Words that end a component name's run from the left: determiners, conjunctions, and words
# ending in a particle or verb ending (the name is a run of bare nouns).
STOP_WORDS = {
    "상기",
    "및",
    "또는",
    "각",
    "각각",
    "그",
    "이",
    "본",
    "해당",
    "다른",
    "일",
    "복수",
    "하나",
    "이때",
    "등",
    "두",
    "또한",
    "다음",
    "즉",
    "한편",
    "후",
    "전",
    "아울러",
}
PARTICLE_ENDINGS = tuple("은는이가을를에의로와과고며서한된인도면여쳐져해게니다어터른록운던나")
MAX_NAME_WORDS = 4
NAME_WORD = re.compile(r"(?:[가-힣]+|제\d+)$")
UNITS = (
    "중량%|wt%|vol%|mol%|%|㎛|μm|um|nm|㎚|mm|㎜|cm|㎝|m|km|℃|°C|K|rpm|MPa|kPa|GPa|Pa|bar|atm|"
    "mg|㎎|kg|㎏|g|mL|ml|㎖|L|μL|mV|kV|V|mA|A|kW|mW|W|kHz|MHz|GHz|Hz|dB|ppm|Da|kDa|㎡/g|"
    "nm/s|mm/s|m/s|시간|분|초|일|개월|배|mAh|Wh|lux|cd|N|J|eV|μs|ms|ns|s"
)
NUMBER = r"\d+(?:[.,]\d+)*"
VALUE = re.compile(
    rf"(?<![\w.,]){NUMBER}(?:\s?(?:내지|~)\s?{NUMBER})?\s?(?:{UNITS})(?:/(?:{UNITS}|㎡|m2|h|min))?(?![A-Za-z])"
)
MATERIAL_SUFFIX = (
    "셀룰로오스|실리카|알루미나|지르코니아|티타니아|에틸렌|프로필렌|스티렌|우레탄|아크릴레이트|"
    "카보네이트|실란|실록산|글리콜|글리세롤|에스테르|아미드|이미드|그래핀|나노튜브|알루미늄|"
    "티타늄|마그네슘|구리|니켈|아연|리튬|수지|고무|합금|산화물|질화물|탄화물|히드록사이드|산"
)
PARTICLES = "을|를|은|는|이|가|과|와|에|의|만|으로|로|도|에서"
# The shortest 폴리- word that a particle (or nothing) ends: 폴리에틸렌과 -> 폴리에틸렌.
MATERIAL = re.compile(
    rf"(?<![가-힣])(?:폴리[가-힣]{{1,}}?(?=(?:{PARTICLES})?(?![가-힣]))|[가-힣]{{1,}}(?:{MATERIAL_SUFFIX})(?![가-힣]))"
)
# Words ending in 산 that are not acids.
NOT_MATERIAL = {
    "생산",
    "계산",
    "분산",
    "확산",
    "환산",
    "연산",
    "정산",
    "예산",
    "양산",
    "발산",
    "합산",
    "청산",
    "산",
}

ABOUT = re.compile(r"본 발명은 (.{4,60}?)에 관한 것")
DEFINITION = re.compile(r"'([^']{2,20})'(?:이란|란|은|는) (.{4,80}?)[을를] (?:말하|의미하)")


def _key(seed: int, *parts: str) -> bytes:
    return hashlib.sha256("\x00".join([str(seed), *parts]).encode()).digest()


def _text(paragraph: str) -> str:
    return " ".join(unicodedata.normalize("NFC", paragraph).split())


def _paragraphs(record: dict) -> list[str]:
    out = list(record.get("abstract", [])) + list(record.get("claims", []))
    for section in record.get("description", {}).values():
        out += list(section)
    return [_text(p) for p in out]


def components(text: str) -> list[tuple[int, int, str]]:
    """(start, end, numeral) of each name a reference numeral labels: the run of up to
    MAX_NAME_WORDS bare Hangul words (or `제N`), space-separated, right before `(110)`."""
    out = []
    for m in NUMERAL.finditer(text):
        start = m.start()
        for words in range(MAX_NAME_WORDS):
            word = NAME_WORD.search(text, 0, start)
            if word is None or (
                words and (word.group() in STOP_WORDS or word.group().endswith(PARTICLE_ENDINGS))
            ):
                break
            start = word.start()
            if start < 2 or text[start - 1] != " ":
                break
            start -= 1  # to the space; the next word must end right before it
        start += text[start] == " "
        out.append((start, m.start(), m.group(1)))
    return out


def entities(sentence: str) -> list[tuple[int, int, str]]:
    """Entity spans of one sentence by the rules of the module docstring; where two rules
    overlap, the earlier-starting, then longer, span wins."""
    found = [(start, end, "COMPONENT") for start, end, _ in components(sentence)]
    found += [(m.start(), m.end(), "VALUE") for m in VALUE.finditer(sentence)]
    found += [
        (m.start(), m.end(), "MATERIAL") for m in MATERIAL.finditer(sentence) if m.group() not in NOT_MATERIAL
    ]
    chosen: list[tuple[int, int, str]] = []
    for start, end, tag in sorted(found, key=lambda e: (e[0], -(e[1] - e[0]))):
        if not chosen or start >= chosen[-1][1]:
            chosen.append((start, end, tag))
    return chosen


def ner_rows(records: list[dict], seed: int) -> list[dict]:
    sentences = set()
    for record in records:
        for paragraph in _paragraphs(record):
            sentences.update(s for s in split_sentences(paragraph) if len(s) >= MIN_CHARS)
    rows = [(s, entities(s)) for s in sentences]
    rows = sorted((r for r in rows if r[1]), key=lambda r: _key(seed, "ner", r[0]))[:NER_SENTENCES]
    return [
        {"id": f"ner-{i:04d}", "text": s, "entities": [list(e) for e in ents]}
        for i, (s, ents) in enumerate(sorted(rows))
    ]


def _numeral_questions(context: str, seed: int) -> list[dict]:
    first: dict[str, tuple[str, int]] = {}
    names: dict[str, set[str]] = {}
    for start, end, numeral in components(context):
        first.setdefault(numeral, (context[start:end], start))
        names.setdefault(numeral, set()).add(context[start:end].split()[-1])
    # A numeral whose mentions name two different things has no single answer.
    numerals = sorted((n for n in first if len(names[n]) == 1), key=lambda n: _key(seed, context, n))[:2]
    return [
        {
            "question": f"도면 부호 {n}{'이' if n[-1] in '0136780' else '가'} 가리키는 구성 요소는 무엇인가?",
            "answers": [{"text": first[n][0], "answer_start": first[n][1]}],
            "kind": "numeral",
        }
        for n in numerals
    ]


def _about_questions(context: str) -> list[dict]:
    m = ABOUT.search(context)
    if not m:
        return []
    return [
        {
            "question": "본 발명은 무엇에 관한 것인가?",
            "answers": [{"text": m.group(1), "answer_start": m.start(1)}],
            "kind": "about",
        }
    ]


def _definition_questions(context: str) -> list[dict]:
    return [
        {
            "question": f"본 명세서에서 '{m.group(1)}'{'은' if _has_final(m.group(1)) else '는'} 무엇을 의미하는가?",
            "answers": [{"text": m.group(2), "answer_start": m.start(2)}],
            "kind": "definition",
        }
        for m in DEFINITION.finditer(context)
    ]


def _has_final(word: str) -> bool:
    last = word[-1]
    return "가" <= last <= "힣" and (ord(last) - 0xAC00) % 28 != 0


def qa_data(records: list[dict], seed: int) -> dict:
    questions = []  # (sort key, title, context, qa)
    for record in records:
        sections = record.get("description", {})
        for name, section in sections.items():
            for paragraph in section:
                context = _text(paragraph)
                found = _definition_questions(context)
                found += _about_questions(context) if name == "technical_field" else []
                found += _numeral_questions(context, seed)
                for qa in found:
                    key = _key(seed, "qa", context, qa["question"])
                    # The two rarer kinds are all kept; the numerals fill the rest.
                    questions.append((qa["kind"] == "numeral", key, record["title"], context, qa))
    questions = sorted(questions, key=lambda q: q[:2])[:QA_QUESTIONS]
    by_context: dict[tuple[str, str], list[dict]] = {}
    for _, _, title, context, qa in sorted(questions, key=lambda q: (q[2], q[3], q[4]["question"])):
        by_context.setdefault((title, context), []).append(qa)
    data: dict[str, dict] = {}
    n = 0
    for (title, context), qas in by_context.items():
        article = data.setdefault(title, {"title": title, "paragraphs": []})
        items = []
        for qa in qas:
            items.append({"id": f"qa-{n:04d}", "question": qa["question"], "answers": qa["answers"]})
            n += 1
        article["paragraphs"].append({"context": context, "qas": items})
    return {"version": "1.1", "rules": RULES_VERSION, "seed": seed, "data": list(data.values())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--source", default=str(REPO / "data" / "demo" / "source"))
    parser.add_argument("--out", default=str(REPO / "data" / "demo"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    records = sorted(load_sources(Path(args.source)), key=lambda r: r["id"])
    ner = ner_rows(records, args.seed)
    out = Path(args.out)
    with open(out / "ner.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in ner)
    qa = qa_data(records, args.seed)
    (out / "qa.json").write_text(json.dumps(qa, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tags: dict[str, int] = {}
    for row in ner:
        for _, _, tag in row["entities"]:
            tags[tag] = tags.get(tag, 0) + 1
    questions = sum(len(p["qas"]) for a in qa["data"] for p in a["paragraphs"])
    print(
        f"{len(ner)} NER sentences -> {out / 'ner.jsonl'}: "
        + ", ".join(f"{k} {v}" for k, v in sorted(tags.items()))
    )
    print(f"{questions} questions -> {out / 'qa.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
