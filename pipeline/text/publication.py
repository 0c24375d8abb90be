"""Record types shared by the stages.

A publication read by `ingest` is a list of natural-language paragraphs, each
tagged with the section it came from. Bibliographic data never enters these
records: readers drop it at parse time.
"""

from __future__ import annotations

import dataclasses

# Canonical section names. Every reader maps its format's headers onto these,
# so later stages (and users filtering by section) see one vocabulary.
SECTIONS = (
    "title",
    "abstract",
    "claims",
    "technical_field",
    "background_art",
    "tech_problem",
    "tech_solution",
    "advantageous_effects",
    "description_of_drawings",
    "description_of_embodiments",
    "summary_of_invention",  # a summary with no tech-problem/solution split
    "description",  # description text outside any known section
)


@dataclasses.dataclass(frozen=True)
class Paragraph:
    section: str  # one of SECTIONS
    text: str  # raw text; inline markup may remain, `clean` removes it


@dataclasses.dataclass(frozen=True)
class Publication:
    doc_id: str
    source: str  # file path (and line/row for JSONL/Parquet) it came from
    paragraphs: tuple[Paragraph, ...]
    # First letter of the first CPC code (else IPC), "A".."H"; None when unknown.
    cpc_section: str | None = None
    # What `pipeline.text.titles.korean_title` did to each title the reader
    # found ('kept', 'cut', 'dropped'), for ingest's counters; not compared.
    title_outcomes: tuple[str, ...] = dataclasses.field(default=(), compare=False)


class InputRejected(Exception):
    """An input unit (file, JSONL line, Parquet row) that cannot become a publication.

    `reason` is a short snake_case code counted in manifests (`malformed_xml`,
    `undecodable`, ...); `detail` is a human-readable explanation.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
