"""A corpus of bad inputs for `ingest` and `clean`, each file with the outcome it must have.

    write_corpus(root, big_mb=50) -> list[BadCase]

writes one file per case under `root` (folders and file names with spaces and
Korean characters), plus a canary file that only a hostile XML file points
at. The text is small Korean patent-style prose generated here from a fixed
vocabulary; the same arguments give byte-identical files.

Outcome notation (`BadCase.expect`, and what `outcome_text` renders from a
run): the outcomes of the file's input units (a file, a JSONL line, a
Parquet row) after both stages, then the reasons of any sentences `clean`
dropped from the documents it kept or rejected:

    kept                                      one unit, written by clean
    rejected:malformed_xml                    one unit, rejected (by ingest or clean)
    4 kept, 1 rejected:malformed_json         several units
    kept; sentences_dropped:too_long          written, with sentences dropped

Cases, by what the issue asks for (the `what` field says more):
* broken files: malformed and truncated XML, wrong root, empty file,
  zero-byte / truncated `.gz`, a binary file named `.xml`, gzip bombs (an
  XML file, and one JSONL line with no newline, inflating past
  `ingest.max_file_mb`: rejected after reading at most that much);
* hostile XML: external file, network and parameter entities, billion laughs,
  quadratic blow-up (all rejected before anything is read or expanded), and a
  DOCTYPE naming a remote DTD (kept; the DTD is never fetched);
* encodings: CP949, EUC-KR without a declaration, UTF-8 with BOM, UTF-16,
  mixed line endings, NUL bytes and other control characters;
* size: one publication of `big_mb` MB (kept whole: the file is under
  `ingest.max_file_mb`, each paragraph is unique so dedup keeps all of it), a
  20,000-character sentence, paragraphs of only numbers or formulas;
* languages: English, Japanese and Chinese publications (rejected by clean
  as `no_text_after_cleaning`, every sentence counted as `low_hangul`), a
  Korean publication with an English abstract, Hanja-heavy mixed script
  (partly kept at the default `clean.min_hangul_ratio`, see README);
* records: JSONL with a bad line in the middle and every kind of bad record,
  Parquet with missing or extra columns, wrong types, no id column, no rows.
"""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import os
import random
import re
import zlib
from collections import Counter
from collections.abc import Callable, Mapping

from pipeline.text import readers

# Where each format's files go, relative to the corpus root, and the glob
# (relative to that folder) that the generated pipeline.yaml uses.
FOLDERS: dict[str, tuple[str, str]] = {
    "kipo_xml": ("kipo xml 입력", "*.xml*"),
    "jsonl": ("jsonl 입력", "*.jsonl*"),
    "parquet": ("parquet 입력", "*.parquet"),
    "text": ("텍스트 입력", "*.txt*"),
}
# Not an input: the external-file-entity case points at it. Its marker must
# never appear in any output, and the file must never be opened.
CANARY_DIR = "비밀 canary"
CANARY_FILE = "canary.txt"
CANARY_MARKER = "CANARY-7f3a-유출되면-안-되는-문자열"
# Hosts in the hostile XML. `.invalid` never resolves (RFC 2606) and
# 198.51.100.0/24 is a documentation range: nothing can answer, and the
# network guard of the report records any attempt to reach them.
NETWORK_URLS = ("http://dtd.kipo-mirror.invalid/kipo.dtd", "http://198.51.100.7/p.dtd")


@dataclasses.dataclass(frozen=True)
class BadCase:
    name: str  # short snake_case id shown in the report
    format: str  # kipo_xml | jsonl | parquet | text
    file: str  # file name inside the format's folder
    expect: str  # outcome in the notation of the module docstring
    what: str  # what the file holds, in a few words
    build: Callable[[], bytes] = dataclasses.field(repr=False, compare=False)
    # Text that must reach clean's sentences for this case's documents
    # (proves the encoding was read right, not just that nothing crashed).
    probe: str = ""

    @property
    def path(self) -> str:
        """Path relative to the corpus root."""
        return os.path.join(FOLDERS[self.format][0], self.file)


def outcome_text(units: Mapping[str, int], sentence_drops: Mapping[str, int]) -> str:
    """Unit outcomes ('kept', 'rejected:REASON' -> count) and sentence drop reasons -> notation."""
    keys = sorted((k for k, n in units.items() if n), key=lambda k: (k != "kept", k))
    total = sum(units.values())
    text = keys[0] if total == 1 else ", ".join(f"{units[k]} {k}" for k in keys) or "nothing"
    reasons = sorted(r for r, n in sentence_drops.items() if n)
    if reasons:
        text += "; sentences_dropped:" + "+".join(reasons)
    return text


# ------------------------------------------------------------------ prose

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


def _doc(name: str, paragraphs: int = 3, **extra) -> dict:
    return record(f"KR-BAD-{name}", Prose(name), paragraphs, **extra)


def _xml(rec: dict, encoding: str = "utf-8") -> bytes:
    return readers.render_kipo_xml(rec, encoding)


def _text(rec: dict, encoding: str = "utf-8") -> bytes:
    return readers.render_sectioned_text(rec).encode(encoding)


def _jsonl(*records, encoding: str = "utf-8") -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode(encoding)


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def _parquet(rows: list[dict], schema=None, columns: tuple[str, ...] = ()) -> bytes:
    """Rows -> Parquet file bytes; `columns` keeps only those columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pylist(rows, schema=schema or _parquet_schema())
    if columns:
        table = table.select(list(columns))
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def _parquet_rows(name: str, n: int) -> list[dict]:
    """JSONL-schema records for Parquet: description as (section, texts) pairs for a map column."""
    rows = []
    for i in range(n):
        rec = _doc(f"{name}-{i}")
        desc = rec.pop("description")
        rec["description"] = [(k, v) for k, v in desc.items()]
        rows.append(rec)
    return rows


def _parquet_schema(*extra_fields):
    import pyarrow as pa

    return pa.schema(
        [
            ("id", pa.string()),
            ("title", pa.string()),
            ("cpc", pa.list_(pa.string())),
            ("description", pa.map_(pa.string(), pa.list_(pa.string()))),
            ("claims", pa.list_(pa.string())),
            ("abstract", pa.list_(pa.string())),
            *extra_fields,
        ]
    )


# ------------------------------------------------------------------ hostile XML

_ENTITY_BODY = (
    "<KIPO><PatentCAFDOC><description><p>본 발명은 &x;에 관한 것이다.</p></description></PatentCAFDOC></KIPO>"
)


def _billion_laughs() -> bytes:
    decls = ['<!ENTITY lol0 "웃음">']
    decls += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    body = _ENTITY_BODY.replace("&x;", "&lol9;")
    return ('<?xml version="1.0"?>\n<!DOCTYPE KIPO [\n' + "\n".join(decls) + "\n]>\n" + body).encode()


def _quadratic_blowup() -> bytes:
    # A 50,000-character entity referenced 20,000 times: 10^9 characters if expanded, 210 kB on disk.
    decl = '<!DOCTYPE KIPO [<!ENTITY a "' + "가" * 50_000 + '">]>'
    body = _ENTITY_BODY.replace("&x;", "&a;" * 20_000)
    return ('<?xml version="1.0"?>\n' + decl + "\n" + body).encode()


def _entity_doc(decl: str, ref: str = "&x;") -> bytes:
    body = _ENTITY_BODY.replace("&x;", ref)
    return f'<?xml version="1.0"?>\n<!DOCTYPE KIPO [{decl}]>\n{body}'.encode()


def _gzip_bomb(megabytes: int, prefix: bytes, suffix: bytes) -> bytes:
    """A gzip member of `prefix`, `megabytes` MB of spaces and `suffix` (~1 kB per MB)."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b" " * (1 << 20)
    parts = [
        z.compress(prefix),
        *(z.compress(chunk) for _ in range(megabytes)),
        z.compress(suffix),
        z.flush(),
    ]
    return b"".join(parts)


def _jsonl_bomb(name: str, megabytes: int) -> bytes:
    """Good line, a line of `megabytes` MB inside a JSON string (no newline), good line; gzipped."""
    first, last = (_jsonl(_doc(f"{name}-{i}")) for i in range(2))
    prefix = first + b'{"id": "KR-BAD-' + name.encode() + b'-bomb", "abstract": "'
    return _gzip_bomb(megabytes, prefix, b'"}\n' + last)


def _binary(n: int = 8192) -> bytes:
    rng = random.Random("binary")
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(n))


# ------------------------------------------------------------------ text-level damage


def _mixed_newlines(text: str) -> str:
    """Line i ends with LF, CRLF or CR in turn."""
    lines = text.split("\n")
    ends = ("\n", "\r\n", "\r")
    return "".join(line + ends[i % 3] for i, line in enumerate(lines[:-1])) + lines[-1]


CONTROL_PROBE = "제어 문자가 섞인 문단도 읽혀야 한다."


def _with_controls(rec: dict) -> dict:
    """`rec` with a paragraph full of NUL, BEL, ESC, DEL, form feed and C1 controls."""
    rec = json.loads(json.dumps(rec))
    dirty = "제어\x00문자가\x01 섞인\x1b 문단도\x07 읽혀야\x7f 한다.\x0c\x85이 문단은\x00\x00 남는다."
    rec["description"]["description_of_embodiments"].append(dirty)
    return rec


def _long_sentence(prose: Prose, chars: int = 20_000) -> str:
    parts: list[str] = []
    size = 0
    while size < chars:
        parts.append(prose.words())
        size += len(parts[-1]) + 1
    text = " ".join(parts)[:chars]
    return text[:-1] + "고" if text.endswith(" ") else text


def big_publication(megabytes: float, name: str = "big") -> bytes:
    """One KIPO XML publication of about `megabytes` MB: unique paragraphs of 8 sentences."""
    prose = Prose(name)
    rec = record(f"KR-BAD-{name}", prose, paragraphs=1)
    paragraphs = rec["description"]["description_of_embodiments"]
    target = int(megabytes * 1024 * 1024)
    size = 0
    while size < target:
        para = f"실시예 {len(paragraphs)}에 따르면, " + prose.paragraph(8)
        paragraphs.append(para)
        size += len(para.encode("utf-8")) + 30  # + the <p num="..."> markup
    return _xml(rec)


# ------------------------------------------------------------------ other languages

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


def _foreign(name: str, sentences: list[str], title: str) -> dict:
    return {
        "id": f"KR-BAD-{name}",
        "title": title,
        "description": {
            "technical_field": [sentences[0]],
            "description_of_embodiments": [" ".join(sentences[1:])],
        },
        "claims": [sentences[-1]],
        "abstract": [" ".join(sentences[:2])],
    }


# ------------------------------------------------------------------ the cases


def cases(big_mb: float = 50, max_file_mb: int = 256) -> list[BadCase]:
    """Every case. `big_mb`: size of the giant publication; the gzip bomb inflates past `max_file_mb`."""
    c: list[BadCase] = []

    def add(name, fmt, file, expect, what, build, probe=""):
        c.append(BadCase(name, fmt, file, expect, what, build, probe))

    # --- KIPO XML: broken files
    add(
        "xml_good",
        "kipo_xml",
        "정상 공보.xml",
        "kept",
        "control: a normal publication in KIPO XML",
        lambda: _xml(_doc("xml_good")),
    )
    add(
        "xml_good_gz",
        "kipo_xml",
        "정상 공보 압축.xml.gz",
        "kept",
        "control: a publication, gzipped",
        lambda: _gz(_xml(_doc("xml_good_gz"))),
    )
    add(
        "xml_malformed",
        "kipo_xml",
        "깨진 태그.xml",
        "rejected:malformed_xml",
        "mismatched closing tag",
        lambda: _xml(_doc("xml_malformed")).replace(b"</technical-field>", b"</technical-feld>", 1),
    )
    add(
        "xml_truncated",
        "kipo_xml",
        "잘린 파일.xml",
        "rejected:malformed_xml",
        "first 60% of a publication, cut inside a character",
        lambda: _cut(_xml(_doc("xml_truncated")), 0.6),
    )
    add(
        "xml_wrong_root",
        "kipo_xml",
        "다른 루트 요소.xml",
        "rejected:wrong_root",
        "<patent-document> root",
        lambda: _xml(_doc("xml_wrong_root")).replace(b"KIPO>", b"patent-document>"),
    )
    add("xml_empty", "kipo_xml", "빈 파일.xml", "rejected:empty_file", "0 bytes", lambda: b"")
    add("xml_gz_zero", "kipo_xml", "빈 압축.xml.gz", "rejected:empty_file", "0-byte .gz", lambda: b"")
    add(
        "xml_gz_truncated",
        "kipo_xml",
        "잘린 압축.xml.gz",
        "rejected:malformed_gzip",
        "gzip cut in half",
        lambda: _cut(_gz(_xml(_doc("xml_gz_truncated"))), 0.5),
    )
    add(
        "xml_gz_bomb",
        "kipo_xml",
        "압축 폭탄.xml.gz",
        "rejected:decompressed_too_large",
        f"inflates to {max_file_mb + 1} MB, past ingest.max_file_mb",
        lambda: _gzip_bomb(
            max_file_mb + 1,
            b"<KIPO><PatentCAFDOC><description><p>",
            b"</p></description></PatentCAFDOC></KIPO>",
        ),
    )
    add("xml_binary", "kipo_xml", "그림 파일.xml", "rejected:binary_file", "PNG bytes named .xml", _binary)

    # --- KIPO XML: hostile
    add(
        "xml_external_file_entity",
        "kipo_xml",
        "외부 파일 엔티티.xml",
        "rejected:xml_entities_forbidden",
        "entity SYSTEM pointing at the canary file",
        lambda: _entity_doc(f'<!ENTITY x SYSTEM "../{CANARY_DIR}/{CANARY_FILE}">'),
    )
    add(
        "xml_external_network_entity",
        "kipo_xml",
        "외부 네트워크 엔티티.xml",
        "rejected:xml_entities_forbidden",
        "entity SYSTEM http://….invalid/",
        lambda: _entity_doc(f'<!ENTITY x SYSTEM "{NETWORK_URLS[0]}">'),
    )
    add(
        "xml_parameter_entity",
        "kipo_xml",
        "파라미터 엔티티.xml",
        "rejected:xml_entities_forbidden",
        "parameter entity from a network DTD",
        lambda: _entity_doc(f'<!ENTITY % p SYSTEM "{NETWORK_URLS[1]}"> %p;', ref="기판"),
    )
    add(
        "xml_entity_bomb",
        "kipo_xml",
        "엔티티 폭탄.xml",
        "rejected:xml_entities_forbidden",
        "billion laughs (10^9 expansions)",
        _billion_laughs,
    )
    add(
        "xml_quadratic_blowup",
        "kipo_xml",
        "이차 팽창.xml",
        "rejected:xml_entities_forbidden",
        "50,000-character entity x 20,000 references",
        _quadratic_blowup,
    )
    add(
        "xml_remote_dtd",
        "kipo_xml",
        "원격 DTD 선언.xml",
        "kept",
        "DOCTYPE naming a remote DTD (never fetched)",
        lambda: _xml(_doc("xml_remote_dtd")).replace(
            readers.KIPO_DOCTYPE.encode(), f'<!DOCTYPE KIPO SYSTEM "{NETWORK_URLS[0]}">'.encode()
        ),
    )

    # --- KIPO XML: encodings and characters
    add(
        "xml_cp949",
        "kipo_xml",
        "CP949 인코딩.xml",
        "kept",
        "CP949, declared EUC-KR, UHC-only syllables",
        lambda: _xml(_doc("xml_cp949", abstract=["똠방각하의 뷁 시험 결과를 나타낸다."]), "cp949").replace(
            b'encoding="CP949"', b'encoding="EUC-KR"'
        ),
        probe="똠방각하의 뷁 시험 결과를 나타낸다.",
    )
    add(
        "xml_euc_kr_undeclared",
        "kipo_xml",
        "EUC-KR 선언 없음.xml",
        "kept",
        "EUC-KR without an XML declaration",
        lambda: _xml(_doc("xml_euc_kr", abstract=["냉각판의 온도 분포를 측정하였다."]), "euc-kr").split(
            b"\n", 1
        )[1],
        probe="냉각판의 온도 분포를 측정하였다.",
    )
    add(
        "xml_utf8_bom",
        "kipo_xml",
        "BOM 포함.xml",
        "kept",
        "UTF-8 with BOM",
        lambda: b"\xef\xbb\xbf" + _xml(_doc("xml_utf8_bom")),
    )
    add(
        "xml_utf16",
        "kipo_xml",
        "UTF-16 인코딩.xml",
        "kept",
        "UTF-16 with BOM",
        lambda: (
            _xml(_doc("xml_utf16")).decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
        ),
    )
    add(
        "xml_mixed_newlines",
        "kipo_xml",
        "줄바꿈 혼합.xml",
        "kept",
        "LF, CRLF and CR line ends",
        lambda: _mixed_newlines(_xml(_doc("xml_mixed_newlines")).decode()).encode(),
    )
    add(
        "xml_control_chars",
        "kipo_xml",
        "제어 문자.xml",
        "kept",
        "NUL, BEL, ESC, DEL, FF, NEL inside a paragraph",
        lambda: _xml(_with_controls(_doc("xml_control_chars"))),
        probe=CONTROL_PROBE,
    )

    # --- KIPO XML: size and content
    add(
        "xml_big",
        "kipo_xml",
        f"초대형 공보 {big_mb:g}MB.xml",
        "kept",
        f"one {big_mb:g} MB publication, every paragraph unique",
        lambda: big_publication(big_mb),
        probe="실시예 2에 따르면,",
    )
    add(
        "xml_long_sentence",
        "kipo_xml",
        "2만 자 문장.xml",
        "kept; sentences_dropped:too_long",
        "a 20,000-character sentence, no punctuation",
        lambda: _xml(_with_long_sentence(_doc("xml_long_sentence"))),
    )
    add(
        "xml_numbers_formulas",
        "kipo_xml",
        "숫자 수식 문단.xml",
        "kept; sentences_dropped:low_hangul",
        "paragraphs of only numbers / formulas",
        lambda: _xml(_with_numbers(_doc("xml_numbers_formulas"))),
    )
    add(
        "xml_only_numbers",
        "kipo_xml",
        "숫자뿐인 공보.xml",
        "rejected:no_text_after_cleaning; sentences_dropped:low_hangul",
        "a publication of only numbers and formulas",
        lambda: _xml(_only_numbers("xml_only_numbers")),
    )
    add(
        "xml_english",
        "kipo_xml",
        "영문 공보.xml",
        "rejected:no_text_after_cleaning; sentences_dropped:low_hangul",
        "English publication",
        lambda: _xml(_foreign("xml_english", ENGLISH, "Cooling plate for a battery module")),
    )
    add(
        "xml_english_abstract",
        "kipo_xml",
        "영문 요약 포함.xml",
        "kept; sentences_dropped:low_hangul",
        "Korean publication, English abstract",
        lambda: _xml(_doc("xml_english_abstract", abstract=[" ".join(ENGLISH[:2])])),
    )

    # --- JSONL
    add(
        "jsonl_good",
        "jsonl",
        "정상 레코드.jsonl",
        "3 kept",
        "control: 3 records",
        lambda: _jsonl(*(_doc(f"jsonl_good-{i}") for i in range(3))),
    )
    add(
        "jsonl_bad_line_middle",
        "jsonl",
        "중간 불량 줄.jsonl",
        "4 kept, 1 rejected:malformed_json",
        "line 3 of 5 is cut-off JSON",
        lambda: _bad_line_in_middle("jsonl_bad_line_middle"),
    )
    add(
        "jsonl_bad_records",
        "jsonl",
        "불량 레코드 모음.jsonl",
        "1 kept, 2 rejected:bad_record, 1 rejected:malformed_json, 1 rejected:missing_id, 1 rejected:no_text",
        "array, no id, int claims, title only, unterminated last line",
        lambda: _bad_records("jsonl_bad_records"),
    )
    add("jsonl_empty", "jsonl", "빈 파일.jsonl", "rejected:empty_file", "0 bytes", lambda: b"")
    add("jsonl_gz_zero", "jsonl", "빈 압축.jsonl.gz", "rejected:empty_file", "0-byte .gz", lambda: b"")
    add(
        "jsonl_gz_truncated",
        "jsonl",
        "잘린 압축.jsonl.gz",
        "1 kept, 1 rejected:corrupt_archive",
        "gzip of 4 records cut at 70%",
        lambda: _cut(_gz(_jsonl(*(_doc(f"jsonl_gz_truncated-{i}") for i in range(4)))), 0.7),
    )
    add(
        "jsonl_gz_bomb_line",
        "jsonl",
        "압축 폭탄 줄.jsonl.gz",
        "2 kept, 1 rejected:line_too_large",
        f"middle line inflates to {max_file_mb + 1} MB, no newline",
        lambda: _jsonl_bomb("jsonl_gz_bomb_line", max_file_mb + 1),
    )
    add(
        "jsonl_cp949",
        "jsonl",
        "CP949 레코드.jsonl",
        "2 kept",
        "CP949-encoded lines",
        lambda: _jsonl(
            _doc("jsonl_cp949-0", abstract=["똠방각하 전극층의 저항을 측정하였다."]),
            _doc("jsonl_cp949-1"),
            encoding="cp949",
        ),
        probe="똠방각하 전극층의 저항을 측정하였다.",
    )
    add(
        "jsonl_bom_crlf",
        "jsonl",
        "BOM CRLF 혼합.jsonl",
        "3 kept",
        "UTF-8 BOM, CRLF and LF line ends",
        lambda: (
            b"\xef\xbb\xbf"
            + _jsonl(*(_doc(f"jsonl_bom_crlf-{i}") for i in range(3))).replace(b"\n", b"\r\n", 2)
        ),
    )
    add(
        "jsonl_control_chars",
        "jsonl",
        "제어 문자.jsonl",
        "2 kept",
        "control characters in strings, raw (invalid JSON) and \\u-escaped",
        lambda: _control_chars_jsonl("jsonl_control_chars"),
        probe=CONTROL_PROBE,
    )
    add(
        "jsonl_japanese",
        "jsonl",
        "일본어 공보.jsonl",
        "rejected:no_text_after_cleaning; sentences_dropped:low_hangul",
        "Japanese publication",
        lambda: _jsonl(_foreign("jsonl_japanese", JAPANESE, "電池モジュール用冷却板")),
    )
    add(
        "jsonl_chinese",
        "jsonl",
        "중국어 공보.jsonl",
        "rejected:no_text_after_cleaning; sentences_dropped:low_hangul",
        "Chinese publication",
        lambda: _jsonl(_foreign("jsonl_chinese", CHINESE, "用于电池模块的冷却板")),
    )

    # --- Parquet
    add(
        "parquet_good",
        "parquet",
        "정상 표.parquet",
        "3 kept",
        "control: 3 rows",
        lambda: _parquet(_parquet_rows("parquet_good", 3)),
    )
    add(
        "parquet_missing_columns",
        "parquet",
        "열 누락.parquet",
        "2 kept",
        "only id, title, abstract columns",
        lambda: _parquet(_parquet_rows("parquet_missing", 2), columns=("id", "title", "abstract")),
    )
    add(
        "parquet_extra_columns",
        "parquet",
        "열 추가.parquet",
        "2 kept",
        "extra applicant, raw_xml, embedding columns",
        lambda: _extra_columns("parquet_extra_columns"),
    )
    add(
        "parquet_no_id_column",
        "parquet",
        "id 열 없음.parquet",
        "3 rejected:bad_parquet_schema",
        "3 rows, no id column",
        lambda: _parquet(
            _parquet_rows("parquet_no_id", 3), columns=("title", "cpc", "description", "claims", "abstract")
        ),
    )
    add(
        "parquet_wrong_types",
        "parquet",
        "잘못된 형식.parquet",
        "1 kept, 1 rejected:bad_record, 1 rejected:missing_id",
        "int claims in one row, null id in another",
        lambda: _wrong_types("parquet_wrong_types"),
    )
    add(
        "parquet_truncated",
        "parquet",
        "잘린 파일.parquet",
        "rejected:malformed_parquet",
        "Parquet file cut in half",
        lambda: _cut(_parquet(_parquet_rows("parquet_truncated", 3)), 0.5),
    )
    add(
        "parquet_no_rows",
        "parquet",
        "행 없음.parquet",
        "rejected:empty_file",
        "valid schema, 0 rows",
        lambda: _parquet([]),
    )

    # --- 【】 sectioned text
    add(
        "text_good",
        "text",
        "정상 문서.txt",
        "kept",
        "control: 【】 sectioned text",
        lambda: _text(_doc("text_good")),
    )
    add(
        "text_cp949",
        "text",
        "CP949 문서.txt",
        "kept",
        "CP949 with UHC-only syllables",
        lambda: _text(_doc("text_cp949", abstract=["똠방각하 분리막의 기공률을 측정하였다."]), "cp949"),
        probe="똠방각하 분리막의 기공률을 측정하였다.",
    )
    add(
        "text_euc_kr",
        "text",
        "EUC-KR 문서.txt",
        "kept",
        "EUC-KR",
        lambda: _text(_doc("text_euc_kr", abstract=["접착층의 박리 강도를 측정하였다."]), "euc-kr"),
        probe="접착층의 박리 강도를 측정하였다.",
    )
    add(
        "text_utf8_bom",
        "text",
        "BOM 포함 문서.txt",
        "kept",
        "UTF-8 with BOM",
        lambda: b"\xef\xbb\xbf" + _text(_doc("text_utf8_bom")),
    )
    add(
        "text_mixed_newlines",
        "text",
        "줄바꿈 혼합 문서.txt",
        "kept",
        "LF, CRLF and CR line ends",
        lambda: _mixed_newlines(_text(_doc("text_mixed_newlines")).decode()).encode(),
    )
    add(
        "text_control_chars",
        "text",
        "제어 문자 문서.txt",
        "kept",
        "NUL and other control characters",
        lambda: _text(_with_controls(_doc("text_control_chars"))),
        probe=CONTROL_PROBE,
    )
    add("text_empty", "text", "빈 문서.txt", "rejected:empty_file", "0 bytes", lambda: b"")
    add(
        "text_blank",
        "text",
        "공백뿐인 문서.txt",
        "rejected:empty_file",
        "only spaces and newlines",
        lambda: b" \r\n\t\n  \n",
    )
    add(
        "text_hanja",
        "text",
        "국한문 혼용 문서.txt",
        "kept; sentences_dropped:low_hangul",
        "Hanja-heavy mixed script",
        lambda: _text(_foreign("text_hanja", HANJA, "蓄電池 모듈用 冷却板")),
        probe=HANJA[0],
    )
    return c


def _cut(data: bytes, fraction: float) -> bytes:
    return data[: int(len(data) * fraction)]


def _with_long_sentence(rec: dict) -> dict:
    rec["description"]["description_of_embodiments"].append(_long_sentence(Prose("long")))
    return rec


NUMBER_PARAGRAPHS = [
    "12.5 13.7 14.2 15.9 16.1 17.4 18.8 19.3 20.6 21.0",
    "y = a·x² + b·x + c (0 ≤ x ≤ 1), R² = 0.998, σ = 1.2×10⁻³",
    "LiNi0.8Co0.1Mn0.1O2 + 2 Li2CO3 → Li3PO4 (pH 7.4, 25 ℃)",
]


def _with_numbers(rec: dict) -> dict:
    rec["description"]["description_of_embodiments"] += NUMBER_PARAGRAPHS
    return rec


def _only_numbers(name: str) -> dict:
    return {
        "id": f"KR-BAD-{name}",
        "title": "ΔT = 12.5 K",
        "description": {"description_of_embodiments": NUMBER_PARAGRAPHS},
        "abstract": ["100 200 300 400 500 600 700 800 900"],
    }


def _bad_line_in_middle(name: str) -> bytes:
    lines = _jsonl(*(_doc(f"{name}-{i}") for i in range(4))).split(b"\n")
    broken = json.dumps(_doc(f"{name}-broken"), ensure_ascii=False).encode()[:120]
    return b"\n".join(lines[:2] + [broken] + lines[2:])


def _control_chars_jsonl(name: str) -> bytes:
    """Line 1 with raw control characters inside strings, line 2 with them escaped."""
    escaped = _jsonl(_with_controls(_doc(f"{name}-0")))  # json.dumps escapes C0 controls
    raw = re.sub(rb"\\u00[01][0-9a-f]", lambda m: bytes([int(m.group(0)[2:], 16)]), escaped)
    return raw + _jsonl(_with_controls(_doc(f"{name}-1")))


def _bad_records(name: str) -> bytes:
    good = _doc(f"{name}-good")
    no_id = {k: v for k, v in _doc(f"{name}-noid").items() if k != "id"}
    int_claims = {**_doc(f"{name}-int"), "claims": [1, 2, 3]}
    title_only = {"id": f"KR-BAD-{name}-title", "title": "제목만 있는 레코드입니다"}
    last = json.dumps(_doc(f"{name}-last"), ensure_ascii=False)[:80]
    return (
        _jsonl(good)
        + b'["\xeb\xb0\xb0\xec\x97\xb4"]\n'
        + _jsonl(no_id, int_claims, title_only)
        + last.encode()
    )


def _extra_columns(name: str) -> bytes:
    import pyarrow as pa

    rows = _parquet_rows(name, 2)
    for i, r in enumerate(rows):
        r.update(applicant="주식회사 가상소재", raw_xml="<KIPO>…</KIPO>", embedding=[0.1 * i, 0.2, 0.3])
    schema = _parquet_schema(
        ("applicant", pa.string()), ("raw_xml", pa.string()), ("embedding", pa.list_(pa.float32()))
    )
    return _parquet(rows, schema)


def _wrong_types(name: str) -> bytes:
    """Row 1 fine, row 2 a null id, row 3 integer claims (the column is list<int64>)."""
    import pyarrow as pa

    rows = [{**r, "claims": None} for r in _parquet_rows(name, 3)]
    rows[1]["id"] = None
    rows[2]["claims"] = [1, 2]
    schema = _parquet_schema().set(4, pa.field("claims", pa.list_(pa.int64())))
    return _parquet(rows, schema)


def write_corpus(root: str, big_mb: float = 50, max_file_mb: int = 256) -> list[BadCase]:
    """Write every case (and the canary) under `root`; returns the cases."""
    all_cases = cases(big_mb, max_file_mb)
    names = Counter(c.name for c in all_cases)
    if max(names.values()) > 1:
        raise ValueError(f"duplicate case names: {[n for n, k in names.items() if k > 1]}")
    for folder, _ in FOLDERS.values():
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    os.makedirs(os.path.join(root, CANARY_DIR), exist_ok=True)
    with open(os.path.join(root, CANARY_DIR, CANARY_FILE), "w", encoding="utf-8") as f:
        f.write(CANARY_MARKER + "\n")
    for case in all_cases:
        with open(os.path.join(root, case.path), "wb") as f:
            f.write(case.build())
    return all_cases
