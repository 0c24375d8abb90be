"""A generated near-duplicate test set from the demo corpus's own text, and its scoring.

In:  `data/demo/source/*.jsonl` (48 publications, 6 per CPC section), a seed.
Out: `Case`s: every publication with its section's boilerplate paragraphs
     added (so that publications of one section share text, the hard
     non-duplicates), and per publication seven variants that a patent family
     produces: word edits at 5, 10, 15 and 20% (substitutions, deletions,
     insertions), its paragraphs reordered, 1-3 claims added (amended claims,
     from its own description) and 1-3 claims removed. Pairs of one
     publication's cases are near-duplicates; pairs of different publications
     are not. `score` runs `pipeline.text.near_duplicates` on them and gives
     recall (all positive pairs, those at true Jaccard >= 0.8, and per variant
     kind against the original), precision, and the false-positive rate on all
     negative pairs and on the hard ones (same CPC section).

Used by tests/text/test_near_duplicates.py and benchmarks/bench_near_duplicates.py.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import random
from collections.abc import Sequence
from pathlib import Path

from pipeline.text.near_duplicates import (
    MinHasher,
    NearDuplicateParams,
    confirmed_pairs,
    publication_signature,
    shingle_hashes,
)

# The repository root (not pipeline.layout: it imports Beam, seconds for a pure tool).
SOURCE = Path(__file__).resolve().parents[2] / "data" / "demo" / "source"

# Stock paragraphs of Korean patent specifications, shared by every publication
# of a section (the general ones) plus one per section.
BOILERPLATE = (
    "이하, 첨부된 도면을 참조하여 본 발명의 바람직한 실시예를 상세히 설명한다. 본 발명을 설명함에 있어서, "
    "관련된 공지 기능 또는 구성에 대한 구체적인 설명이 본 발명의 요지를 불필요하게 흐릴 수 있다고 판단되는 "
    "경우에는 그 상세한 설명을 생략한다.",
    "본 명세서에서 사용되는 용어는 실시예를 설명하기 위한 것이며 본 발명을 제한하고자 하는 것은 아니다. "
    "본 명세서에서 단수형은 문구에서 특별히 언급하지 않는 한 복수형도 포함한다.",
    "이상에서 본 발명의 실시예에 대하여 상세하게 설명하였지만 본 발명의 권리범위는 이에 한정되는 것은 아니고, "
    "다음의 청구범위에서 정의하고 있는 본 발명의 기본 개념을 이용한 당업자의 여러 변형 및 개량 형태 또한 본 "
    "발명의 권리범위에 속하는 것이다.",
)
SECTION_BOILERPLATE = {
    "A": "본 발명에 따른 조성물은 약학적으로 허용 가능한 담체, 부형제 또는 희석제를 추가로 포함할 수 있으며, "
    "통상의 방법에 따라 산제, 과립제, 정제, 캡슐제 또는 외용제의 형태로 제형화하여 사용될 수 있다.",
    "B": "본 발명의 장치를 구성하는 각 부재는 당업계에서 통상적으로 사용되는 금속 또는 합성수지 재질로 "
    "형성될 수 있으며, 각 부재의 치수와 형상은 적용 대상에 따라 적절히 변경될 수 있다.",
    "C": "본 명세서에서 특별한 언급이 없는 한 함량의 단위는 중량%이며, 온도는 섭씨 온도이고, 압력은 "
    "대기압을 기준으로 한다. 각 성분은 시판되는 제품을 별도의 정제 없이 사용하였다.",
    "D": "본 발명에서 사용되는 섬유는 천연 섬유, 재생 섬유 및 합성 섬유 중 어느 하나 이상일 수 있으며, "
    "섬유의 굵기와 단면 형상은 최종 제품의 용도에 따라 적절히 선택될 수 있다.",
    "E": "본 발명의 구조물은 현장 여건에 따라 공장에서 제작된 후 현장으로 운반되어 조립되거나, 현장에서 "
    "직접 타설되어 형성될 수 있으며, 관련 건축 기준에 따른 구조 검토를 거쳐 시공된다.",
    "F": "본 발명의 장치에 사용되는 배관, 밸브 및 열교환 부재는 작동 유체의 온도와 압력 조건을 견딜 수 "
    "있는 재질로 선택되며, 각 연결부에는 누설 방지를 위한 실링 부재가 구비될 수 있다.",
    "G": "본 발명의 실시예에 따른 방법은 프로세서와 메모리를 포함하는 컴퓨팅 장치에서 실행될 수 있으며, "
    "상기 메모리에는 상기 프로세서에 의해 실행되는 명령어들이 저장된다.",
    "H": "본 발명의 실시예에 따른 회로는 집적 회로로 구현되거나 개별 소자의 조합으로 구현될 수 있으며, "
    "각 소자의 정격은 인가되는 전압과 전류의 크기에 따라 적절히 선택될 수 있다.",
}
EDIT_RATES = (0.05, 0.10, 0.15, 0.20)
KINDS = (*(f"edit_{int(r * 100):02d}" for r in EDIT_RATES), "reorder", "claims_added", "claims_removed")


@dataclasses.dataclass(frozen=True)
class Case:
    doc_id: str
    base: str  # the publication it derives from
    section: str  # CPC section letter
    kind: str  # "original" or one of KINDS
    paragraphs: tuple[str, ...]


def load_publications(source: Path = SOURCE) -> list[dict]:
    """The demo publications: id, CPC section, title, abstract, claims and description paragraphs."""
    out = []
    for path in sorted(source.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            description = [p for section in (r.get("description") or {}).values() for p in section]
            out.append(
                {
                    "id": r["id"],
                    "section": (r.get("cpc") or ["?"])[0][0],
                    "head": [r.get("title") or "", *r.get("abstract", [])],
                    "claims": list(r.get("claims", [])),
                    "description": description,
                }
            )
    return out


def paragraphs_of(publication: dict) -> tuple[str, ...]:
    return (*publication["head"], *publication["claims"], *publication["description"])


def edit_words(paragraphs: Sequence[str], rate: float, vocabulary: Sequence[str], rng: random.Random):
    """Each word, with probability `rate`, substituted, deleted or followed by an inserted word."""
    out = []
    for paragraph in paragraphs:
        words = []
        for word in paragraph.split():
            if rng.random() >= rate:
                words.append(word)
                continue
            action = rng.randrange(3)
            if action == 0:
                words.append(rng.choice(vocabulary))
            elif action == 2:
                words += [word, rng.choice(vocabulary)]
        out.append(" ".join(words))
    return tuple(out)


def variants(publication: dict, vocabulary: Sequence[str], rng: random.Random) -> dict[str, tuple[str, ...]]:
    """The seven variants of a publication (boilerplate already in its description)."""
    head, claims, description = publication["head"], publication["claims"], publication["description"]
    whole = paragraphs_of(publication)
    out = {f"edit_{int(r * 100):02d}": edit_words(whole, r, vocabulary, rng) for r in EDIT_RATES}
    body = list(whole[1:])
    rng.shuffle(body)
    out["reorder"] = (whole[0], *body)
    added = [
        f"제{rng.randint(1, max(1, len(claims)))}항에 있어서, {rng.choice(description)}"
        for _ in range(rng.randint(1, 3))
    ]
    out["claims_added"] = (*head, *claims, *added, *description)
    keep = sorted(rng.sample(range(len(claims)), max(1, len(claims) - rng.randint(1, 3))))
    out["claims_removed"] = (*head, *(claims[k] for k in keep), *description)
    return out


def make_cases(seed: int = 0, source: Path = SOURCE) -> list[Case]:
    """The originals (with their section's boilerplate) and seven variants of each."""
    rng = random.Random(seed)
    publications = load_publications(source)
    for p in publications:
        # The boilerplate goes where specifications have it: before and after the embodiments.
        p["description"] = [
            BOILERPLATE[0],
            BOILERPLATE[1],
            *p["description"],
            SECTION_BOILERPLATE.get(p["section"], BOILERPLATE[2]),
            BOILERPLATE[2],
        ]
    vocabulary = sorted({w for p in publications for para in paragraphs_of(p) for w in para.split()})
    cases = []
    for p in publications:
        cases.append(Case(p["id"], p["id"], p["section"], "original", paragraphs_of(p)))
        for kind, paragraphs in variants(p, vocabulary, rng).items():
            cases.append(Case(f"{p['id']}~{kind}", p["id"], p["section"], kind, paragraphs))
    return cases


def signatures_of(cases: Sequence[Case], params: NearDuplicateParams) -> dict:
    hasher = MinHasher(params.num_perm, params.seed)
    return {c.doc_id: publication_signature(c.doc_id, list(c.paragraphs), hasher, params) for c in cases}


def score(cases: Sequence[Case], params: NearDuplicateParams, signatures: dict | None = None) -> dict:
    """Confirmed pairs against the truth (same base = near duplicate). `signatures`:
    `signatures_of(cases, params)` computed once for several thresholds."""
    signatures = signatures or signatures_of(cases, params)
    confirmed = set(confirmed_pairs(signatures, params))
    by_id = {c.doc_id: c for c in cases}
    positives, negatives, hard = [], 0, 0
    false_positives = hard_false_positives = 0
    for a, b in itertools.combinations(sorted(by_id), 2):
        ca, cb = by_id[a], by_id[b]
        if ca.base == cb.base:
            positives.append((a, b))
            continue
        negatives += 1
        hard += ca.section == cb.section
        if (a, b) in confirmed:
            false_positives += 1
            hard_false_positives += ca.section == cb.section
    shingles = {
        c.doc_id: set().union(*(shingle_hashes(p, params.shingle_size).tolist() for p in c.paragraphs))
        for c in cases
    }
    jaccards = {
        (a, b): len(shingles[a] & shingles[b]) / max(1, len(shingles[a] | shingles[b])) for a, b in positives
    }
    high = [pair for pair in positives if jaccards[pair] >= 0.8]
    found = [pair for pair in positives if pair in confirmed]
    kinds = {}
    for kind in KINDS:
        pairs = [
            pair for pair in positives if {by_id[pair[0]].kind, by_id[pair[1]].kind} == {"original", kind}
        ]
        kinds[kind] = {
            "pairs": len(pairs),
            "recall": round(sum(p in confirmed for p in pairs) / len(pairs), 4),
            "mean_true_jaccard": round(sum(jaccards[p] for p in pairs) / len(pairs), 4),
        }
    return {
        "cases": len(cases),
        "positive_pairs": len(positives),
        "positive_pairs_jaccard_0.8": len(high),
        "recall": round(len(found) / len(positives), 4),
        "recall_jaccard_0.8": round(sum(p in confirmed for p in high) / max(1, len(high)), 4),
        "negative_pairs": negatives,
        "hard_negative_pairs": hard,
        "false_positives": false_positives,
        "false_positive_rate": round(false_positives / max(1, negatives), 6),
        "hard_false_positive_rate": round(hard_false_positives / max(1, hard), 6),
        "precision": round(len(found) / max(1, len(found) + false_positives), 4),
        "by_kind": kinds,
    }
