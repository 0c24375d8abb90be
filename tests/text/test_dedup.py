"""Dedup keys and decisions on grouped keys (no Beam)."""

from pipeline.text.dedup import document_hash, duplicate_documents, duplicate_ids, duplicate_paragraphs


def test_dedup_markers_keep_the_smallest_instance():
    # Instances are (doc_id, source, shard); markers go to the losers' shards.
    instances = [("KR3", "c.xml", 1), ("KR1", "a.xml", 0), ("KR2", "b.xml", 2)]
    assert list(duplicate_documents(("h", instances), {})) == [
        (2, ("duplicate_document", "b.xml", -1, "same text as KR1")),
        (1, ("duplicate_document", "c.xml", -1, "same text as KR1")),
    ]
    places = [("KR2", "b.xml", 2, 4), ("KR1", "a.xml", 0, 7)]
    assert list(duplicate_paragraphs(("h", places), {})) == [
        (2, ("duplicate_paragraph", "b.xml", 4, "same text as KR1#7")),
    ]
    # An instance rejected as a duplicate id never wins: the next one does.
    assert list(duplicate_paragraphs(("h", places), {"a.xml": True})) == []
    assert list(duplicate_documents(("h", instances), {"a.xml": True})) == [
        (1, ("duplicate_document", "c.xml", -1, "same text as KR2")),
    ]
    # Two instances of one id: the smaller source wins, whatever the order.
    assert list(duplicate_ids(("KR1", [("z.jsonl:3", 1), ("a.xml", 0)]))) == [
        (1, ("duplicate_doc_id", "z.jsonl:3", -1, "same id as a.xml")),
    ]


def test_document_hash_ignores_ids_but_not_text():
    a = {"doc_id": "A", "paragraphs": [{"sentences": ["같은 문장이다."]}]}
    b = {"doc_id": "B", "paragraphs": [{"sentences": ["같은 문장이다."]}]}
    c = {"doc_id": "C", "paragraphs": [{"sentences": ["다른 문장이다."]}]}
    assert document_hash(a) == document_hash(b) != document_hash(c)
