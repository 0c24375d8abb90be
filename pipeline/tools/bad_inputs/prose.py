"""The text inside the bad-input files: small Korean patent-style prose, and foreign-language samples.

`Prose(seed)` makes deterministic sentences, paragraphs, titles and claims
from a fixed vocabulary (the same seed gives the same text); `record(doc_id,
prose)` -> one publication in the JSONL schema; `josa(word, particle)` picks
the particle form after a word. ENGLISH, JAPANESE, CHINESE and HANJA hold the
sentences of the other-language cases.
"""

from __future__ import annotations

import random

_SUBJECTS = (
    "기판",
    "전극층",
    "절연막",
    "냉각판",
    "센서 모듈",
    "하우징",
    "회전축",
    "필터 부재",
    "제어부",
    "배터리 셀",
    "지지 프레임",
    "열교환기",
    "구동 모터",
    "광학 렌즈",
    "분리막",
    "접착층",
    "유체 통로",
    "밀봉 부재",
    "연결 단자",
    "표시 패널",
)
_MATERIALS = (
    "알루미늄 합금",
    "폴리이미드",
    "세라믹 분말",
    "탄소 섬유",
    "실리콘 산화물",
    "스테인리스강",
    "구리 박막",
    "에폭시 수지",
    "유리 섬유",
    "티타늄 합금",
)
_EFFECTS = ("내구성", "열전도도", "생산성", "신뢰성", "기계적 강도", "절연 성능", "조립 편의성", "방열 효율")
_ACTIONS = ("배치된다", "고정된다", "형성된다", "결합된다", "적층된다", "삽입된다")
_KINDS = ("배터리 팩", "반도체 소자", "열교환 장치", "표시 장치", "필터 조립체", "구동 장치")
_SENTENCES = (
    "{a_은} {m_으로} 형성되며, 그 두께는 {n1} ㎛ 내지 {n2} ㎛인 것이 바람직하다.",
    "상기 {a}의 일면에는 {b_이} {act}.",
    "본 실시예에서 {a_과} {b} 사이의 간격은 약 {n3} mm로 유지된다.",
    "이러한 구성에 의하면 {a}의 {e_이} 향상되고 제조 비용이 절감된다.",
    "시료 {serial}의 경우 {a}의 온도는 {t1} ℃에서 {t2} ℃까지 변화하였다.",
    "{a_은} {b_을} 감싸도록 배치되어 외부의 이물질이 유입되는 것을 방지한다.",
    "도 {fig}에 도시된 바와 같이, {a_은} {b}의 상부에 {act}.",
    "또한, {m_은} {e} 측면에서 종래의 재료보다 유리하다.",
)
# Josa with a final consonant -> without one.
_JOSA = {"은": "는", "이": "가", "을": "를", "과": "와", "으로": "로"}


def josa(word: str, particle: str) -> str:
    """`word` + the particle form its last syllable takes ('기판', '은' -> '기판은'; '제어부' -> '제어부는')."""
    code = ord(word[-1]) - 0xAC00
    final = code % 28 if 0 <= code < 11172 else 0
    if particle == "으로" and final == 8:  # ㄹ takes 로
        return word + "로"
    return word + (particle if final else _JOSA[particle])


class Prose:
    """Deterministic patent-style Korean sentences, seeded by a case name."""

    def __init__(self, seed: str) -> None:
        self._rng = random.Random(seed)
        self._serial = 0

    def _slots(self) -> dict[str, str]:
        rng = self._rng
        a, b = rng.sample(_SUBJECTS, 2)
        slots = {"a": a, "b": b, "m": rng.choice(_MATERIALS), "e": rng.choice(_EFFECTS)}
        for key in list(slots):
            for particle in _JOSA:
                slots[f"{key}_{particle}"] = josa(slots[key], particle)
        self._serial += 1
        n1 = rng.randint(1, 40)
        t1 = rng.randint(20, 80)
        slots.update(
            act=rng.choice(_ACTIONS),
            n1=str(n1),
            n2=str(n1 + rng.randint(5, 60)),
            n3=f"{rng.randint(1, 99) / 10:.1f}",
            t1=str(t1),
            t2=str(t1 + rng.randint(10, 120)),
            fig=str(rng.randint(1, 9)),
            serial=f"{rng.randint(100, 999)}-{self._serial}",
        )
        return slots

    def sentence(self) -> str:
        return self._rng.choice(_SENTENCES).format(**self._slots())

    def paragraph(self, sentences: int = 3) -> str:
        return " ".join(self.sentence() for _ in range(sentences))

    def title(self) -> str:
        a, b = self._rng.sample(_SUBJECTS, 2)
        return f"{a} 및 {josa(b, '을')} 구비한 {self._rng.choice(_KINDS)}"

    def claim(self, title: str) -> str:
        a, b, c = self._rng.sample(_SUBJECTS, 3)
        kind = title.rsplit(" ", 1)[-1]
        return f"{a}; 상기 {a} 상에 배치되는 {b}; 및 상기 {josa(b, '과')} 연결되는 {josa(c, '을')} 포함하는 {kind}."

    def dependent_claim(self, title: str) -> str:
        s = self._slots()
        return f"제1항에 있어서, 상기 {s['a_은']} {s['m_으로']} 이루어지는 {title.rsplit(' ', 1)[-1]}."

    def words(self) -> str:
        """A clause with no sentence-final punctuation."""
        s = self._slots()
        return f"상기 {s['a']} 위에 {s['b_을']} 형성하고 그 위에 {s['m_으로']} 이루어진 층을 적층하며"


def record(doc_id: str, prose: Prose, paragraphs: int = 3, **extra) -> dict:
    """A publication in the JSONL schema (see readers.parse_record)."""
    title = prose.title()
    rec = {
        "id": doc_id,
        "title": title,
        "cpc": ["H01M 10/613"],
        "description": {
            "technical_field": [prose.paragraph(1)],
            "background_art": [prose.paragraph(2)],
            "description_of_embodiments": [prose.paragraph() for _ in range(paragraphs)],
        },
        "claims": [prose.claim(title), prose.dependent_claim(title)],
        "abstract": [prose.paragraph(2)],
    }
    rec.update(extra)
    return rec


ENGLISH = [
    "The present invention relates to a cooling plate for a battery module.",
    "A coolant channel is formed inside the plate body and extends in a zigzag pattern.",
    "The plate body is made of an aluminium alloy having a thickness of 2 mm to 5 mm.",
    "According to the invention, the temperature difference between cells is reduced.",
]
JAPANESE = [
    "本発明は、電池モジュール用の冷却板に関するものである。",
    "冷却板の内部には冷媒流路が形成されており、流路は蛇行状に延びている。",
    "冷却板はアルミニウム合金からなり、その厚さは2mmから5mmである。",
]
CHINESE = [
    "本发明涉及一种用于电池模块的冷却板。",
    "冷却板内部形成有冷却液通道，所述通道呈蛇形延伸。",
    "所述冷却板由铝合金制成，其厚度为2毫米至5毫米。",
]
# Old-style mixed script (국한문 혼용): Hanja words, Hangul particles and endings.
HANJA = [
    "本 發明은 蓄電池 모듈用 冷却板에 關한 것이다.",
    "冷却板의 內部에는 冷媒 流路가 形成되어 있다.",
    "上記 流路는 알루미늄 合金의 押出材로 構成된다.",
    "本 發明에 依하면 冷却 效率이 向上되고 製造 原價가 節減된다.",
    "第1 實施例에서 冷媒의 溫度는 25 ℃로 維持된다.",
    "上記 冷却板은 電池 셀의 下部에 密着되어 熱을 吸收한다.",
    "以下 添附 圖面을 參照하여 本 發明의 바람직한 實施例를 詳述한다.",
    "上記 第1 電極 및 第2 電極 間의 距離 D는 5 mm 以下이다.",
    "流路 斷面積 S와 流量 Q의 比 Q/S는 0.5 乃至 2.0 m/s이다.",
]
