"""pipeline.text.readers.encoding: bytes -> text (BOMs, declarations, legacy Korean encodings)."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from pipeline.text.publication import InputRejected
from pipeline.text.readers import (
    decode_bytes,
    parse_kipo_xml,
)
from tests.text.reader_samples import (
    kipo,
    pairs,
    reason,
)

# --------------------------------------------------------------------------
# decode_bytes
# --------------------------------------------------------------------------


def test_decode_bytes_encodings():
    text = "본 발명은 반도체에 관한 것이다."
    assert decode_bytes(text.encode("utf-8")) == text
    assert decode_bytes(text.encode("cp949")) == text
    assert decode_bytes(text.encode("euc-kr")) == text
    assert decode_bytes(b"\xef\xbb\xbf" + text.encode("utf-8")) == text
    assert decode_bytes(text.encode("utf-16")) == text
    assert decode_bytes(b"\xfe\xff" + text.encode("utf-16-be")) == text
    # Only the listed encodings are tried.
    with pytest.raises(InputRejected) as exc:
        decode_bytes(text.encode("cp949"), encodings=("utf-8",))
    assert exc.value.reason == "undecodable"
    # An XML declaration naming a known encoding is honoured.
    latin = '<?xml version="1.0" encoding="ISO-8859-1"?><a>café</a>'
    assert decode_bytes(latin.encode("latin-1")) == latin


def test_decode_bytes_rejects():
    for data, want in [
        (b"", "empty_file"),
        (b"\xef\xbb\xbf  \n", "empty_file"),
        (b"\x00\x01\x02\x03" * 100, "binary_file"),
        (bytes(range(256)) * 4, "binary_file"),
        (gzip.compress(b"abc" * 100, mtime=0), "binary_file"),
        (bytes(range(1, 256)) * 4, "binary_file"),
        ("한국어 본문이 대부분인 텍스트 파일".encode() * 5 + b"\xff" + b" tail", "undecodable"),
    ]:
        with pytest.raises(InputRejected) as exc:
            decode_bytes(data)
        assert exc.value.reason == want, data[:20]


def test_decode_bytes_stray_nul_is_text_but_nul_dense_data_is_binary():
    text = "본 발명은 반도체에 관한 것이다.\n" * 20
    stray = text[:50] + "\x00" + text[50:]
    assert decode_bytes(stray.encode("utf-8")) == stray  # `clean` turns the NUL into a space
    assert decode_bytes(stray.encode("cp949")) == stray
    with pytest.raises(InputRejected) as exc:
        decode_bytes(text.encode("utf-8") + b"\x00" * 20)  # a NUL-padded tail: >= 1% NUL
    assert exc.value.reason == "binary_file"
    # Compressed or encrypted payloads have ~0.4% NUL: rejected by the control-byte test.
    noise = bytes(random_bytes(1 << 16))
    assert 0 < noise.count(0) * 100 < len(noise)
    with pytest.raises(InputRejected) as exc:
        decode_bytes(noise)
    assert exc.value.reason == "binary_file"


def test_decode_bytes_file_cut_inside_its_last_character():
    text = "본 발명은 반도체에 관한 것이다."
    for codec in ("utf-8", "cp949"):
        data = text.encode(codec)
        assert decode_bytes(data[:-2]) == text[:-2]  # '다' cut in half: dropped
    # XML cut inside a character is reported as what it is: truncated XML.
    data = kipo().encode("utf-8")
    cut = next(n for n in range(len(data) // 2, len(data)) if data[n] >= 0xC0) + 1
    assert reason(parse_kipo_xml, data[:cut], "a.xml", "a") == "malformed_xml"


def random_bytes(n: int) -> bytes:
    return hashlib.shake_256(b"noise").digest(n)


def test_kipo_control_characters_become_spaces_instead_of_failing_the_file():
    body = (
        "<PatentCAFDOC><description><technical-field><p>본\x00발명은\x01 기판\x1b에\x0c 관한 "
        "\x7f것이다.</p></technical-field></description></PatentCAFDOC>"
    )
    pub = parse_kipo_xml(kipo(body=body, biblio="").encode(), "a.xml", "a")
    assert pairs(pub) == [("technical_field", "본 발명은  기판 에  관한 \x7f것이다.")]
    # Inside a tag name the space still breaks the markup.
    assert reason(parse_kipo_xml, b"<KI\x01PO><p>a</p></KIPO>", "a.xml", "a") == "malformed_xml"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_text_without_bom_is_text_not_binary(codec):
    # Its ASCII characters put NUL bytes at every other offset: not binary.
    text = "【발명의 명칭】 반도체 장치\n【기술분야】\n본 발명은 반도체 (SiO2, 10 nm)에 관한 것이다.\n"
    assert decode_bytes(text.encode(codec)) == text


def test_binary_with_nuls_at_both_parities_stays_binary():
    data = bytes(range(256)) * 64
    with pytest.raises(InputRejected) as exc:
        decode_bytes(data)
    assert exc.value.reason == "binary_file"


def test_bad_characters_are_exactly_unicode_controls_but_whitespace_and_the_replacement_char():
    """The regex that counts them agrees with unicodedata's Cc category on every code point."""
    import unicodedata

    from pipeline.text.readers.encoding import _BAD_CHAR

    def bad(ch: str) -> bool:
        return ch == "\ufffd" or (unicodedata.category(ch) == "Cc" and ch not in "\t\n\r\f\v")

    assert [c for c in map(chr, range(0x110000)) if bad(c) != bool(_BAD_CHAR.match(c))] == []
