"""Input readers: raw patent publications -> `Publication` records.

Pure functions, no Beam, one module per input format:

  encoding.py        bytes -> text (BOMs, XML declarations, CP949/EUC-KR),
                     gunzip with a size cap, file stems as fallback ids
  kipo_xml.py        KIPO XML publication -> Publication
  sectioned_text.py  【section】 headed text -> Publication
  records.py         JSON records: JSONL lines and byte ranges, Parquet rows
  common.py          what they share (CPC section, titles, the no-prose check)

Every title goes through `pipeline.text.titles.korean_title` (a trailing
'(ENGLISH TITLE)' of KIPRIS or '{ENGLISH TITLE}' of KIPO is cut, an
English-only title dropped) and the Korean title is each publication's first
paragraph, whatever the format; `Publication.title_outcomes` says what was
done to each title (ingest counts them: titles_kept, titles_cut, titles_dropped).

Each reader turns one input unit (an XML file, a sectioned text file, a JSONL
line, a Parquet row) into a `Publication`, or raises / yields `InputRejected`
with a short reason code. Readers only split text into sections and
paragraphs: they never lower-case or normalise text (the clean stage does
that), they only strip whitespace around paragraphs.

Bibliographic data (numbers, dates, applicant, inventors, agent, addresses,
priority data, classification codes) never becomes a `Paragraph`; readers use
it only for `doc_id` and `cpc_section`.

Paragraph order is the same for every format: the title, description sections,
claims, abstract (the order of a KIPO publication; JSONL/Parquet records keep
their description keys' order), so one publication written by
`pipeline.tools.corpus_writers` and read back from any format yields the same
paragraph sequence (up to '\n' where <br/> splits figure sentences).

Reject reasons raised here:
  empty_file, binary_file, undecodable           (decode_bytes)
  malformed_gzip, decompressed_too_large         (maybe_gunzip)
  xml_entities_forbidden, malformed_xml, wrong_root, no_text   (parse_kipo_xml)
  missing_id, bad_record, no_text                (parse_record)
  malformed_json, undecodable, reader_error, + parse_record's  (iter_jsonl)
  line_too_large                                 (iter_jsonl_range)
  malformed_parquet, bad_parquet_schema, undecodable (one row's cell),
  reader_error, + parse_record's                 (iter_parquet)
  reader_error: an unexpected exception on one unit (a reader bug) costs
  that unit only; the stage's max_reject_share stops a systematic one.
  no_text                                        (parse_sectioned_text)
"""

from __future__ import annotations

from pipeline.text.publication import SECTIONS, InputRejected, Paragraph, Publication
from pipeline.text.readers.common import DELETED_CLAIM_TEXTS, Titles, cpc_section_of, split_title
from pipeline.text.readers.encoding import decode_bytes, doc_stem, maybe_gunzip
from pipeline.text.readers.kipo_xml import (
    KIPO_CPC_TAGS,
    KIPO_DROP_TAGS,
    KIPO_ID_ATTRIBUTES,
    KIPO_ID_TAGS,
    KIPO_INLINE_TAGS,
    KIPO_IPC_TAGS,
    KIPO_LINE_BREAK_TAGS,
    KIPO_PROSE_PARTS,
    KIPO_SECTION_TAGS,
    KIPO_TITLE_TAGS,
    parse_kipo_xml,
)
from pipeline.text.readers.records import (
    RECORD_FIELDS,
    RECORD_IGNORED_DESCRIPTION_KEYS,
    RECORD_SECTION_KEYS,
    canonical_record_section,
    iter_jsonl,
    iter_jsonl_range,
    iter_parquet,
    iter_wide_jsonl,
    parse_jsonl_line,
    parse_record,
    wide_jsonl_codec,
)
from pipeline.text.readers.sectioned_text import (
    TEXT_BIBLIO_HEADERS,
    TEXT_CPC_HEADERS,
    TEXT_DROP_SECTION_HEADERS,
    TEXT_ID_HEADERS,
    TEXT_IPC_HEADERS,
    TEXT_OBJECT_HEADER_RE,
    TEXT_SECTION_HEADERS,
    TEXT_SUBHEADING_RE,
    TEXT_TITLE_HEADERS,
    parse_sectioned_text,
)

# Bumped when reader output for the same input changes (recorded in manifests).
# readers_v3: unknown JSONL description keys and unknown 【】 headers are no
# longer text (allow-list); `&#1;` drops the character, not the document;
# lone surrogates become U+FFFD; UTF-16 JSONL (BOM) and BOM-less UTF-16 text read.
# readers_v4: every title through `korean_title` (KIPRIS '(ENGLISH)' cut too,
# English-only titles dropped) and first in every format; KIPO XML ids from
# PatentCAFDOC's documentID before the file name, KR_InventionTitle and
# 【발명의 국문명칭】 as title fallbacks.
READERS_VERSION = "readers_v4"

__all__ = [
    "DELETED_CLAIM_TEXTS",
    "KIPO_CPC_TAGS",
    "KIPO_DROP_TAGS",
    "KIPO_ID_ATTRIBUTES",
    "KIPO_ID_TAGS",
    "KIPO_INLINE_TAGS",
    "KIPO_IPC_TAGS",
    "KIPO_LINE_BREAK_TAGS",
    "KIPO_PROSE_PARTS",
    "KIPO_SECTION_TAGS",
    "KIPO_TITLE_TAGS",
    "READERS_VERSION",
    "RECORD_FIELDS",
    "RECORD_IGNORED_DESCRIPTION_KEYS",
    "RECORD_SECTION_KEYS",
    "SECTIONS",
    "TEXT_BIBLIO_HEADERS",
    "TEXT_CPC_HEADERS",
    "TEXT_DROP_SECTION_HEADERS",
    "TEXT_ID_HEADERS",
    "TEXT_IPC_HEADERS",
    "TEXT_OBJECT_HEADER_RE",
    "TEXT_SECTION_HEADERS",
    "TEXT_SUBHEADING_RE",
    "TEXT_TITLE_HEADERS",
    "InputRejected",
    "Paragraph",
    "Publication",
    "Titles",
    "canonical_record_section",
    "cpc_section_of",
    "decode_bytes",
    "doc_stem",
    "iter_jsonl",
    "iter_jsonl_range",
    "iter_parquet",
    "iter_wide_jsonl",
    "maybe_gunzip",
    "parse_jsonl_line",
    "parse_kipo_xml",
    "parse_record",
    "parse_sectioned_text",
    "split_title",
    "wide_jsonl_codec",
]
