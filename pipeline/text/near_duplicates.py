"""Near-duplicate publications: MinHash signatures, LSH band keys, confirmed pairs, clusters.

In:  a publication's clean paragraphs, settings shaped like `NearDuplicatesConfig`
     (shingle size, permutations, bands, thresholds, seed).
Out: per publication a `PublicationSignature` (per paragraph and for the whole
     text: num_perm uint32 minima of its word n-gram shingles and how many
     distinct shingles there are) and its LSH band keys (`band_keys`,
     `paragraph_keys`); for a corpus, the confirmed pairs (`confirmed_pairs`)
     and the removals, each publication mapped to the one it duplicates, the
     smallest id of its cluster (`resolve_clusters`). Rule `minhash_lsh_v1`.

No Beam here: a stage computes signatures in each shard, groups (band key ->
ids) across the corpus, confirms the candidate pairs from the signatures alone
and resolves the clusters; `find_near_duplicates` does all of it in memory for
tests, benchmarks and small corpora.

Why these choices:
- Words, not characters: a Korean eojeol (stem + particles) is a stable unit,
  and word 5-grams are what datatrove, dolma and text-dedup shingle by.
  Words are `\\w+` runs, lowercased, so punctuation and brackets around
  reference numerals (`기재층(110)의`) do not change the shingles.
- MinHash by multiply-shift hashing, vectorised with numpy: shingle hashes
  (64 bits, from CRC-32 of each word combined per n-gram) go through num_perm
  functions h(x) = (a x + b) mod 2^64 >> 32 at once. It estimates the same
  Jaccard as datasketch's MinHash (sha1 + Mersenne-prime permutations) and is
  2.6-2.9x faster per core, with per-paragraph signatures besides
  (benchmarks/bench_near_duplicates.py measures both);
  datasketch stays the reference the tests compare with.
- Two confirmations. Whole text: estimated Jaccard >= `threshold` (an
  application and its grant, re-filings: the whole text repeats with edits).
  Paragraphs: a divisional or continuation repeats its parent's background
  and drawings under new claims and abstract (on the demo: Jaccard 0.14,
  half of its text repeated), which whole-text Jaccard cannot see; so each
  paragraph of at least `min_paragraph_shingles` shingles has band keys too,
  and a pair is confirmed when the paragraphs confirmed in the other (estimated
  Jaccard >= `threshold`) hold >= `containment_threshold` of one publication's
  characters. The whole-text minima are the paragraphs' elementwise minima:
  the text is hashed once.
- Clusters: connected components of the confirmed pairs; the smallest id is
  kept (an earlier publication has the smaller number, a divisional or a
  re-publication the larger), so the result does not depend on input order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import re
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping

import numpy as np

NEAR_DUPLICATES_VERSION = "minhash_lsh_v2"

_WORD = re.compile(r"\w+")
# Odd 64-bit constant to combine the word hashes of an n-gram (a polynomial hash mod 2^64).
_COMBINE = np.uint64(0x9E3779B97F4A7C15)
_SHIFT = np.uint64(32)
# Shingles hashed per block: bounds the (num_perm x block) uint64 temporary (~16 MB at 128).
_BLOCK = 16384


@dataclasses.dataclass(frozen=True)
class NearDuplicateParams:
    """The settings the algorithm needs (`NearDuplicatesConfig` has the same names)."""

    shingle_size: int = 5
    num_perm: int = 128
    bands: int = 20
    threshold: float = 0.7
    containment_threshold: float = 0.3
    min_paragraph_shingles: int = 8
    paragraph_bands: int = 2
    max_bucket_size: int = 100
    seed: int = 1

    @property
    def rows(self) -> int:
        """Signature rows per band: the bands use bands * rows <= num_perm values."""
        return self.num_perm // self.bands

    @classmethod
    def of(cls, config) -> NearDuplicateParams:
        """From a config section with the same field names."""
        return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})


@dataclasses.dataclass(frozen=True)
class Signature:
    minima: np.ndarray  # (num_perm,) uint32
    shingles: int  # shingles hashed: distinct in `MinHasher.signature`, n-grams in `publication_signature`


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def shingle_hashes(text: str, size: int) -> np.ndarray:
    """The distinct 64-bit hashes of the text's word `size`-grams (one shingle if it is shorter)."""
    tokens = words(text)
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    h = np.fromiter((zlib.crc32(w.encode("utf-8")) for w in tokens), dtype=np.uint64, count=len(tokens))
    n = min(size, len(tokens))
    count = len(tokens) - n + 1
    combined = np.zeros(count, dtype=np.uint64)
    for k in range(n):
        combined = combined * _COMBINE + h[k : k + count]
    return np.unique(combined)


class MinHasher:
    """num_perm multiply-shift hash functions, fixed by the seed."""

    def __init__(self, num_perm: int = 128, seed: int = 1) -> None:
        rng = np.random.default_rng(seed)
        self.num_perm = num_perm
        self._a = (rng.integers(0, 2**64, num_perm, dtype=np.uint64, endpoint=False) | np.uint64(1))[:, None]
        self._b = rng.integers(0, 2**64, num_perm, dtype=np.uint64, endpoint=False)[:, None]

    def hashed(self, hashes: np.ndarray) -> np.ndarray:
        """(num_perm, len(hashes)) uint64: each function applied to each shingle hash."""
        return (self._a * hashes[None, :] + self._b) >> _SHIFT

    def minima(self, hashes: np.ndarray) -> np.ndarray:
        """(num_perm,) uint32 minima of the hashed shingles; all 0xFFFFFFFF for none."""
        out = np.full(self.num_perm, 0xFFFFFFFF, dtype=np.uint64)
        for start in range(0, len(hashes), _BLOCK):
            np.minimum(out, self.hashed(hashes[start : start + _BLOCK]).min(axis=1), out=out)
        return out.astype(np.uint32)

    def signature(self, text: str, shingle_size: int) -> Signature:
        hashes = shingle_hashes(text, shingle_size)
        return Signature(self.minima(hashes), len(hashes))


def band_keys(signature: Signature, bands: int, rows: int) -> list[bytes]:
    """One key per band (band index + a digest of its rows); none for a text without words.
    Two publications sharing a key are a candidate pair."""
    if not signature.shingles:
        return []
    values = signature.minima[: bands * rows].reshape(bands, rows)
    return [
        band.to_bytes(2, "big") + hashlib.blake2b(values[band].tobytes(), digest_size=8).digest()
        for band in range(bands)
    ]


def estimated_jaccard(a: Signature, b: Signature) -> float:
    return float(np.count_nonzero(a.minima == b.minima)) / len(a.minima)


def candidate_pairs(
    keys: Iterable[tuple[str, Iterable[bytes]]], max_bucket_size: int = 1 << 62
) -> set[tuple[str, str]]:
    """(id, band keys) -> every pair (smaller id first) sharing at least one key
    (`bucket_pairs` of whole-text keys)."""
    buckets: dict[bytes, list[tuple[str]]] = defaultdict(list)
    for doc_id, doc_keys in keys:
        for key in doc_keys:
            buckets[key].append((doc_id,))
    return {
        (a[0], b[0]) for members in buckets.values() for a, b in bucket_pairs(members, max_bucket_size, True)
    }


def resolve_clusters(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Confirmed pairs -> {removed id: kept id}: per connected component, the smallest id is kept."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:  # the smaller id becomes the root, so a root is its component's minimum
            parent[max(ra, rb)] = min(ra, rb)
    return {x: root(x) for x in sorted(parent) if root(x) != x}


@dataclasses.dataclass(frozen=True)
class PublicationSignature:
    """A publication's paragraph signatures (with their lengths) and its whole-text signature."""

    doc_id: str
    paragraphs: tuple[Signature | None, ...]  # None: left out by `keeping`
    lengths: tuple[int, ...]  # characters per paragraph
    whole: Signature

    @property
    def characters(self) -> int:
        return sum(self.lengths)

    def keeping(self, paragraphs: Iterable[int]) -> PublicationSignature:
        """This signature with only the given paragraphs' signatures (the others None): what
        one candidate pair's confirmation reads, a fraction of the bytes to send."""
        keep = set(paragraphs)
        kept = tuple(s if i in keep else None for i, s in enumerate(self.paragraphs))
        return dataclasses.replace(self, paragraphs=kept)


def _word_hashes(tokens: list[str]) -> np.ndarray:
    """CRC-32 of each word, memoised (words repeat: a publication uses a few thousand)."""
    memo = _WORD_HASHES
    if len(memo) > 1 << 20:
        memo.clear()
    out = np.empty(len(tokens), dtype=np.uint64)
    for k, w in enumerate(tokens):
        h = memo.get(w)
        if h is None:
            h = memo[w] = zlib.crc32(w.encode("utf-8"))
        out[k] = h
    return out


_WORD_HASHES: dict[str, int] = {}


def publication_signature(
    doc_id: str, paragraphs: list[str], hasher: MinHasher, params: NearDuplicateParams
) -> PublicationSignature:
    """Signatures of each paragraph and of the whole, the publication hashed at once.

    Shingles never cross a paragraph (a paragraph shorter than the shingle size
    is one shingle), so the whole's minima are the paragraphs' elementwise
    minima; a paragraph's shingle count is its n-gram count (repeats included).
    The (num_perm x shingles) hash matrix is built for groups of paragraphs of
    about _BLOCK shingles and reduced per paragraph (`np.minimum.reduceat`).
    """
    n = params.shingle_size
    tokens = [words(p) for p in paragraphs]
    lengths = np.array([len(t) for t in tokens], dtype=np.int64)
    flat = _word_hashes([w for t in tokens for w in t])
    # n-gram hashes over the concatenation; kept where the n words share a paragraph.
    first_word = np.cumsum(lengths) - lengths
    count = max(0, len(flat) - n + 1)
    combined = np.zeros(count, dtype=np.uint64)
    for k in range(n):
        combined = combined * _COMBINE + flat[k : k + count]
    pieces = []
    for f, length in zip(first_word.tolist(), lengths.tolist(), strict=True):
        if length >= n:
            pieces.append(combined[f : f + length - n + 1])
        elif length:  # shorter than a shingle (titles, short claims): its words are one
            h = 0
            for w in flat[f : f + length].tolist():
                h = (h * int(_COMBINE) + w) & 0xFFFFFFFFFFFFFFFF
            pieces.append(np.array([h], dtype=np.uint64))
        else:
            pieces.append(flat[:0])
    per_paragraph = np.array([len(x) for x in pieces], dtype=np.int64)
    shingles = np.concatenate(pieces) if pieces else flat[:0]
    minima = np.full((len(paragraphs), hasher.num_perm), 0xFFFFFFFF, dtype=np.uint64)
    nonempty = np.flatnonzero(per_paragraph)
    offsets = np.cumsum(per_paragraph) - per_paragraph
    group: list[int] = []
    size = 0
    for index in [*nonempty.tolist(), None]:
        if index is not None and (not group or size + per_paragraph[index] <= _BLOCK):
            group.append(index)
            size += int(per_paragraph[index])
            continue
        if group:
            begin = offsets[group[0]]
            block = hasher.hashed(shingles[begin : begin + size])
            minima[group] = np.minimum.reduceat(block, offsets[group] - begin, axis=1).T
        group, size = ([index], int(per_paragraph[index])) if index is not None else ([], 0)
    minima = minima.astype(np.uint32)
    signatures = tuple(Signature(minima[i], int(per_paragraph[i])) for i in range(len(paragraphs)))
    whole_minima = minima.min(axis=0) if len(paragraphs) else np.full(hasher.num_perm, 0xFFFFFFFF, np.uint32)
    whole = Signature(whole_minima, int(per_paragraph.sum()))
    return PublicationSignature(doc_id, signatures, tuple(len(p) for p in paragraphs), whole)


def paragraph_keys(signature: PublicationSignature, params: NearDuplicateParams) -> list[tuple[bytes, int]]:
    """(band key, paragraph index) of the paragraphs long enough to compare: the first
    `paragraph_bands` bands only. Paragraph keys are most of the keys (31 keyed paragraphs
    per demo publication); the paragraphs a family repeats are near-exact copies, found
    by 2 bands of 6 rows (p 0.76 at Jaccard 0.8, 1.0 at 1.0), and the containment
    sums many paragraphs, so missing a few costs little."""
    bands = min(params.paragraph_bands, params.bands)
    return [
        (key, index)
        for index, s in enumerate(signature.paragraphs)
        if s.shingles >= params.min_paragraph_shingles
        for key in band_keys(s, bands, params.rows)
    ]


def bucket_pairs(members: Iterable, max_bucket_size: int, whole: bool) -> list[tuple]:
    """One band bucket's members (tuples whose first item is the doc id, sorted here) ->
    the candidate pairs (smaller first) of members of different documents.

    A bucket over `max_bucket_size` distinct documents is shared text, not a family
    (stock paragraphs, templates): its all-pairs would grow with the square of its size.
    For a whole-text key each member is paired with the bucket's first only (a star:
    linear, and a true cluster still meets its smallest member); for a paragraph key
    the bucket gives no pairs. The caller counts such buckets.
    """
    ordered = sorted(set(members))
    if len({m[0] for m in ordered}) > max_bucket_size:
        if not whole:
            return []
        return [(ordered[0], m) for m in ordered[1:] if m[0] != ordered[0][0]]
    return [(a, b) for a, b in itertools.combinations(ordered, 2) if a[0] != b[0]]


def is_large_bucket(members: Iterable, max_bucket_size: int) -> bool:
    return len({m[0] for m in members}) > max_bucket_size


def contained_share(
    a: PublicationSignature,
    b: PublicationSignature,
    pairs: Iterable[tuple[int, int]],
    params: NearDuplicateParams,
) -> tuple[float, float]:
    """Candidate paragraph pairs (index in a, index in b) -> (share of a's characters,
    share of b's) in paragraphs confirmed (estimated Jaccard >= threshold) in the other."""
    in_a, in_b = set(), set()
    for i, j in pairs:
        if estimated_jaccard(a.paragraphs[i], b.paragraphs[j]) >= params.threshold:
            in_a.add(i)
            in_b.add(j)
    share_a = sum(a.lengths[i] for i in in_a) / max(1, a.characters)
    share_b = sum(b.lengths[j] for j in in_b) / max(1, b.characters)
    return share_a, share_b


@dataclasses.dataclass(frozen=True)
class NearDuplicate:
    doc_id: str
    duplicate_of: str  # the kept publication of its cluster
    paired_with: str  # the publication of its strongest confirmed pair
    jaccard: float  # estimated, with paired_with
    contained: float  # share of its characters in near-duplicate paragraphs of paired_with


def confirm_pair(
    a: PublicationSignature,
    b: PublicationSignature,
    paragraph_pairs: Iterable[tuple[int, int]],
    params: NearDuplicateParams,
) -> tuple[float, float, float] | None:
    """A candidate pair -> (estimated Jaccard, a's contained share, b's) when confirmed:
    whole texts at Jaccard >= threshold, or one's characters contained in near-duplicate
    paragraphs of the other at >= containment_threshold; None otherwise."""
    j = estimated_jaccard(a.whole, b.whole)
    share_a, share_b = contained_share(a, b, paragraph_pairs, params)
    if j >= params.threshold or max(share_a, share_b) >= params.containment_threshold:
        return j, share_a, share_b
    return None


def confirmed_pairs(
    signatures: Mapping[str, PublicationSignature], params: NearDuplicateParams
) -> dict[tuple[str, str], tuple[float, float, float]]:
    """In memory: {(a, b): (estimated Jaccard, a's contained share, b's)} of the confirmed pairs
    (a < b): whole-text candidates confirmed by Jaccard, paragraph candidates by
    the larger contained share."""
    whole = candidate_pairs(
        ((d, band_keys(s.whole, params.bands, params.rows)) for d, s in signatures.items()),
        params.max_bucket_size,
    )
    buckets: dict[bytes, list[tuple[str, int]]] = defaultdict(list)
    for doc_id, s in signatures.items():
        for key, index in paragraph_keys(s, params):
            buckets[key].append((doc_id, index))
    paragraph_pairs: dict[tuple[str, str], set[tuple[int, int]]] = defaultdict(set)
    for members in buckets.values():
        for (da, ia), (db, ib) in bucket_pairs(members, params.max_bucket_size, False):
            paragraph_pairs[(da, db)].add((ia, ib))
    confirmed = {}
    for a, b in sorted(whole | set(paragraph_pairs)):
        found = confirm_pair(signatures[a], signatures[b], paragraph_pairs.get((a, b), ()), params)
        if found:
            confirmed[(a, b)] = found
    return confirmed


def removals(confirmed: Mapping[tuple, tuple[float, float, float]]) -> list[NearDuplicate]:
    """Confirmed pairs -> the members to remove, in order: each with its cluster's smallest
    member (kept) and its strongest confirmed pair (for the reject record). Members are
    ids, or any comparable tuples (the stage's (doc_id, source, shard) instances)."""
    partners: dict = defaultdict(list)
    for (a, b), (j, share_a, share_b) in confirmed.items():
        partners[a].append((j, share_a, b))
        partners[b].append((j, share_b, a))
    out = []
    for member, kept in resolve_clusters(confirmed).items():
        # Ties (a copy of the kept one in the cluster) go to the kept member.
        j, share, other = max(partners[member], key=lambda p: (p[0], p[1], p[2] == kept, p[2]))
        out.append(NearDuplicate(member, kept, other, round(j, 4), round(share, 4)))
    return out


def find_near_duplicates(
    publications: Mapping[str, list[str]], params: NearDuplicateParams
) -> list[NearDuplicate]:
    """All of it in memory: {id: paragraphs} -> the publications to remove, in id order."""
    hasher = MinHasher(params.num_perm, params.seed)
    signatures = {d: publication_signature(d, ps, hasher, params) for d, ps in publications.items()}
    return removals(confirmed_pairs(signatures, params))


# ------------------------------------------------------------------ streamed confirmation
#
# The stage confirms candidate pairs shard by shard without holding a shard's pairs:
# candidates arrive at the shard of their smaller member a sorted by a's position in
# the shard's signature file, and pairs at b's shard sorted by b's; each is then one
# pass over the sorted stream and the signature file together (a merge join).
# Members are (doc_id, source, shard, position) tuples.


def _signature_at(signatures, position: int, source: str) -> PublicationSignature:
    """The signature at `position` of a signature stream, (position, (source, signature))
    pairs read in order; the stream is left just past it."""
    for at, (found, signature) in signatures:
        if at == position:
            if found != source:
                raise RuntimeError(f"signature {position} is {found!r}, expected {source!r}")
            return signature
    raise RuntimeError(f"no signature {position} ({source!r}) in the shard's signature file")


def attach_signatures(candidates: Iterable[tuple[int, tuple]], signatures: Iterable[tuple]):
    """A shard's candidates in order of a's position ((position, (a, b, a's paragraph rank
    or -1, b's)) pairs) and its signature file's (source, signature)s in file order ->
    (b's shard, b's position, (a, b, a's signature, paragraph rank pairs)), once per
    pair (a pair sharing several band keys arrives once per key): a's signature keeps
    only the paragraphs the pair compares. Memory holds one a's candidates."""
    signatures = enumerate(signatures)
    for position, group in itertools.groupby(candidates, key=lambda c: c[0]):
        by_pair: dict[tuple, set] = defaultdict(set)
        for _, (a, b, rank_a, rank_b) in group:
            ranks = by_pair[(a, b)]
            if rank_a >= 0:
                ranks.add((rank_a, rank_b))
        signature = _signature_at(signatures, position, next(iter(by_pair))[0][1])
        for (a, b), ranks in sorted(by_pair.items()):
            yield b[2], b[3], (a, b, signature.keeping(r for r, _ in ranks), sorted(ranks))


def confirm_attached(
    pairs: Iterable[tuple[int, tuple]], signatures: Iterable[tuple], params: NearDuplicateParams
):
    """A shard's pairs in order of b's position ((position, (a, b, a's signature, rank
    pairs)) pairs) and its signature file's (source, signature)s -> ((a, b), (estimated
    Jaccard, a's contained share, b's) or None) per pair, a and b as (doc_id, source,
    shard). One pass over both, as `attach_signatures`."""
    signatures = enumerate(signatures)
    current, signature_b = -1, None
    for position, (a, b, signature_a, ranks) in pairs:
        if position != current:
            current, signature_b = position, _signature_at(signatures, position, b[1])
        yield (a[:3], b[:3]), confirm_pair(signature_a, signature_b, ranks, params)
