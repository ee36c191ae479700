"""Message search, sans-I/O: the one query grammar, its translations and the excerpts.

A user's query is parsed once into terms (:func:`parse_query`); each backend gets
its own translation of the same terms: an FTS5 ``MATCH`` expression for SQLite
(:func:`fts5_match`) and a ``MATCH ... AGAINST (... IN BOOLEAN MODE)`` expression
plus ``LIKE`` patterns for MySQL/MariaDB (:func:`mysql_boolean`). Every term is
reduced to its words (runs of letters and digits) before it reaches SQL, and the
words are written inside double quotes (FTS5) or after ``+`` (MySQL), so no input
can form an operator (``NEAR``, ``-``, ``~``, ``@``, ``<``, ``>``, parentheses,
column filters) or a syntax error.

The grammar (docs/protocol.md, "Message search"):

- words separated by spaces: every word must occur (AND);
- ``"a quoted phrase"``: its words must occur one after the other;
- ``word*``: a word starting with ``word`` (prefix); ``"a phr*"`` also works;
- anything that is not a letter or digit separates words: ``e-mail`` is the
  phrase ``"e mail"``, as the indexes see it.

Matching ignores case and accents on both backends. The database finds the
candidates; :func:`matches` then checks each one against the same terms in
Python, so both backends return the same messages even where MariaDB's index
cannot answer by itself (words shorter than ``innodb_ft_min_token_size`` or on
its stopword list are looked for with ``LIKE`` and confirmed here).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: The longest query accepted, in characters.
MAX_QUERY_CHARS = 256
#: The most terms (words and phrases) in one query.
MAX_TERMS = 16
#: The most words in one query, phrases included.
MAX_WORDS = 32

#: One word of a message or a query: letters and digits (and the accents that
#: follow a letter when the text is decomposed). Everything else separates.
_WORD = re.compile(r"(?:[^\W_]|[\u0300-\u036f])+")

#: InnoDB's built-in stopword list (``INFORMATION_SCHEMA.INNODB_FT_DEFAULT_STOPWORD``),
#: used when the server does not let us read the one in effect.
INNODB_DEFAULT_STOPWORDS = frozenset(
    {
        "a", "about", "an", "are", "as", "at", "be", "by", "com", "de", "en", "for", "from",
        "how", "i", "in", "is", "it", "la", "of", "on", "or", "that", "the", "this", "to",
        "was", "what", "when", "where", "who", "will", "with", "und", "www",
    }
)


class QueryError(ValueError):
    """The query cannot be searched for; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Term:
    """A word (one element in ``words``) or a phrase; ``prefix``: the last word is a prefix."""

    words: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Segment:
    """A piece of an excerpt: plain text, and whether it is (part of) a match."""

    text: str
    match: bool


def fold(word: str) -> str:
    """A word as both indexes compare it: without accents, case-folded."""
    decomposed = unicodedata.normalize("NFKD", word)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _words(text: str) -> list[str]:
    return [fold(m.group()) for m in _WORD.finditer(text)]


def _chunk_term(chunk: str) -> Term | None:
    """A chunk of the query (a space-separated piece, or what is inside quotes)."""
    words = _words(chunk)
    if not words:
        return None
    stripped = chunk.rstrip()
    before_stars = stripped.rstrip("*")
    prefix = stripped != before_stars and _WORD.search(before_stars[-1:]) is not None
    return Term(tuple(words), prefix=prefix)


def parse_query(query: str) -> tuple[Term, ...]:
    """The terms of a user's query, in order, duplicates dropped.

    Raises:
        QueryError: too long, too many terms or words, or no word at all (an
            empty query, or one made only of punctuation).
    """
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is longer than {MAX_QUERY_CHARS} characters")
    terms: list[Term] = []
    # even pieces are outside quotes, odd ones inside; an unclosed quote runs to the end
    for i, piece in enumerate(query.split('"')):
        chunks = [piece] if i % 2 else piece.split()
        for chunk in chunks:
            term = _chunk_term(chunk)
            if term is not None and term not in terms:
                terms.append(term)
    if not terms:
        raise QueryError("the query has no words to search for")
    if len(terms) > MAX_TERMS:
        raise QueryError(f"the query has more than {MAX_TERMS} words and phrases")
    if sum(len(t.words) for t in terms) > MAX_WORDS:
        raise QueryError(f"the query has more than {MAX_WORDS} words")
    return tuple(terms)


def fts5_match(terms: tuple[Term, ...]) -> str:
    """The FTS5 MATCH expression: every term a double-quoted string, all ANDed.

    A term's words hold only letters and digits, so the quotes cannot be closed
    from inside and no FTS5 operator can appear outside them.
    """
    return " AND ".join(f'"{" ".join(t.words)}"' + (" *" if t.prefix else "") for t in terms)


@dataclass(frozen=True, slots=True)
class MysqlTokens:
    """What decides whether InnoDB's full-text index holds a word."""

    min_size: int = 3
    max_size: int = 84
    stopwords: frozenset[str] = INNODB_DEFAULT_STOPWORDS

    def indexed(self, word: str) -> bool:
        return self.min_size <= len(word) <= self.max_size and word not in self.stopwords


@dataclass(frozen=True, slots=True)
class MysqlQuery:
    """The MySQL/MariaDB translation: a BOOLEAN MODE expression ("" = none) and the
    words the index cannot find, each to be looked for with ``LIKE '%word%'``."""

    against: str
    like: tuple[str, ...]


def mysql_boolean(terms: tuple[Term, ...], tokens: MysqlTokens) -> MysqlQuery:
    """Every indexed word as ``+word`` (``+word*`` for a prefix); the others as LIKE.

    Phrases become their words: the order is checked by :func:`matches`, which
    is cheaper than InnoDB's phrase search and agrees with FTS5 on what a phrase
    is. Both parts only narrow the candidates; none of them is ever wider than a
    term, so the check in Python sees every message that can match.
    """
    required: list[str] = []
    like: list[str] = []
    for term in terms:
        for n, word in enumerate(term.words):
            is_prefix = term.prefix and n == len(term.words) - 1
            if tokens.indexed(word):
                item = f"+{word}*" if is_prefix else f"+{word}"
                if item not in required:
                    required.append(item)
            elif word not in like:
                like.append(word)
    return MysqlQuery(" ".join(required), tuple(like))


def like_pattern(word: str) -> str:
    """``%word%`` with LIKE's wildcards and the escape character escaped (``\\``)."""
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _spans(terms: tuple[Term, ...], text: str) -> list[tuple[int, int]] | None:
    """The (start, end) of every occurrence of every term, or None if a term is missing."""
    found = [(m.start(), m.end(), fold(m.group())) for m in _WORD.finditer(text)]
    words = [w for _, _, w in found]
    spans: list[tuple[int, int]] = []
    for term in terms:
        n = len(term.words)
        hit = False
        for i in range(len(words) - n + 1):
            if words[i : i + n - 1] != list(term.words[:-1]):
                continue
            last = words[i + n - 1]
            if last == term.words[-1] or (term.prefix and last.startswith(term.words[-1])):
                hit = True
                spans.append((found[i][0], found[i + n - 1][1]))
        if not hit:
            return None
    return sorted(spans)


def matches(terms: tuple[Term, ...], text: str) -> bool:
    """Whether ``text`` holds every term (the same rule as the indexes)."""
    return _spans(terms, text) is not None


#: How much of a message an excerpt shows: characters before the first match,
#: and characters in all.
EXCERPT_BEFORE = 60
EXCERPT_CHARS = 200
ELLIPSIS = "\u2026"


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def excerpt(terms: tuple[Term, ...], text: str) -> list[Segment]:
    """The part of ``text`` around its first match, as plain-text segments.

    Matches are segments with ``match`` True; an ellipsis marks a cut. The
    segments are text, never markup: a client shows each as text (and styles
    the matches), so a message cannot inject HTML through its excerpt. Line
    breaks and other control characters become spaces.
    """
    flat = "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)
    spans = _merge(_spans(terms, flat) or [])
    first_start, first_end = spans[0] if spans else (0, 0)
    start = max(0, first_start - EXCERPT_BEFORE)
    if start > 0:  # begin at a word boundary
        space = flat.find(" ", start, first_start)
        start = space + 1 if space != -1 else start
    end = max(min(len(flat), start + EXCERPT_CHARS), first_end)
    if end < len(flat):
        space = flat.rfind(" ", first_end, end)
        end = space if space != -1 else end
    segments: list[Segment] = []
    if start > 0:
        segments.append(Segment(ELLIPSIS, False))
    at = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        if s > at:
            segments.append(Segment(flat[at:s], False))
        segments.append(Segment(flat[s:e], True))
        at = e
    if at < end:
        segments.append(Segment(flat[at:end], False))
    if end < len(flat):
        segments.append(Segment(ELLIPSIS, False))
    return segments
