"""Near duplicates on the demo corpus: the divisional KR1020240015003 (of KR1020240010003)
and the re-publication KR1020240010002B1 (of KR1020240010002), in the demo run's rejects,
and found by near-duplicate detection alone when exact dedup is off."""

import json
import os

import pytest
from apache_beam.testing.test_pipeline import TestPipeline

from pipeline.config import CleanConfig
from pipeline.stages.clean import CleanDocuments


def _document_rejects(folder) -> list[tuple[str, str, str]]:
    rejects = []
    for name in sorted(os.listdir(folder)):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            rejects += [json.loads(line) for line in f]
    return sorted((r["doc_id"], r["reason"], r["detail"]) for r in rejects if r["kind"] == "document")


@pytest.mark.slow  # the demo_tfrecords fixture runs the demo corpus through the CLI (shared by other tests)
def test_demo_family_members_are_near_duplicates(demo_tfrecords, tmp_path):
    # The demo run (defaults): the re-publication is an exact copy (exact dedup names it
    # first), the divisional only shares its parent's background and drawings.
    assert _document_rejects(os.path.join(demo_tfrecords, "clean", "rejects")) == [
        ("KR1020240010002B1", "duplicate_document", "same text as KR1020240010002"),
        (
            "KR1020240015003",
            "near_duplicate_document",
            "near duplicate of KR1020240010003 (paired with KR1020240010003: estimated Jaccard 0.16, "
            "40% of its text in near-duplicate paragraphs)",
        ),
    ]
    # Exact dedup off: near-duplicate detection finds both, and nothing else.
    paragraphs = os.path.join(demo_tfrecords, "ingest", "paragraphs", "*.parquet")
    near_only = CleanConfig(dedup_documents=False, dedup_paragraphs=False)
    with TestPipeline() as p:
        _ = p | CleanDocuments(paragraphs, 8, near_only, str(tmp_path / "clean"))
    assert _document_rejects(tmp_path / "clean" / "rejects") == [
        (
            "KR1020240010002B1",
            "near_duplicate_document",
            "near duplicate of KR1020240010002 (paired with KR1020240010002: estimated Jaccard 1.00, "
            "100% of its text in near-duplicate paragraphs)",
        ),
        (
            "KR1020240015003",
            "near_duplicate_document",
            "near duplicate of KR1020240010003 (paired with KR1020240010003: estimated Jaccard 0.16, "
            "40% of its text in near-duplicate paragraphs)",
        ),
    ]
