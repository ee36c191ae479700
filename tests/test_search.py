"""Message search through the real HTTP API, on SQLite and on MariaDB.

What a user finds (words, phrases, prefixes, filters, pages), what it never
finds (other people's conversations, groups it is not in), hostile queries
(never a 500, never an operator), and every refusal with its status.
"""

from __future__ import annotations

from typing import Any

import pytest
import trio

from chat_trio.client import ApiError
from chat_trio.storage import message_search as storage_search
from tests.conftest import MakeUser, Server, User, make_group
from tests.test_http_api import raw


@pytest.fixture(autouse=True, params=["scope first", "terms first"])
def plan(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways MariaDB can be asked (storage/message_search.py): words first (the
    default, which these small tables never take past its time limit) and scope first."""
    if request.param == "scope first":
        monkeypatch.setattr(storage_search, "WORDS_FIRST_SECONDS", 0)
    return str(request.param)


async def send(user: User, *messages: tuple[str, str, bool]) -> None:
    """Send (to, text, is_group) messages from ``user``, each stored (acked) before the next."""
    with trio.fail_after(20):
        async with user.api.connect() as conn:
            await conn.receive()  # welcome
            for to, text, group in messages:
                await conn.send_text(to, text, group=group)
                await conn.receive()  # the ack: stored


async def search(user: User, q: str, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = await user.api.request(
        "GET", "/message/search", params={"q": q, **params}
    )
    return page


def texts(page: dict[str, Any]) -> list[str]:
    """Each item's excerpt joined back into text."""
    return ["".join(s["text"] for s in item["excerpt"]) for item in page["items"]]


async def refused(user: User, params: dict[str, Any]) -> tuple[int, str]:
    with pytest.raises(ApiError) as error:
        await user.api.request("GET", "/message/search", params=params)
    return error.value.status, str(error.value)


@pytest.fixture
async def people(make_user: MakeUser) -> dict[str, Any]:
    """ann and bob talk one-to-one; ann, bob and cat share a group; dan and eve talk
    to each other and have a group of their own that ann is not in."""
    ann, bob, cat, dan, eve = [await make_user() for _ in range(5)]
    crew = await make_group(ann, "crew", bob, cat)
    secret = await make_group(dan, "secret", eve)
    await send(
        ann,
        (bob.uuid, "the quick brown fox jumps", False),
        (bob.uuid, "brown bread for breakfast", False),
        (crew, "Quickly, the fox is in the garden!", True),
        (crew, "meet at the café at noon", True),
    )
    await send(bob, (ann.uuid, "a fox, brown and quick", False))
    await send(cat, (crew, "cat says: go to the zoo", True))
    await send(
        dan, (eve.uuid, "secret fox plans", False), (secret, "fox in the secret group", True)
    )
    return {"ann": ann, "bob": bob, "cat": cat, "dan": dan, "eve": eve,
            "crew": crew, "secret": secret}


async def test_words_phrases_and_prefixes(people: dict[str, Any]) -> None:
    ann = people["ann"]
    assert texts(await search(ann, "fox brown")) == [
        "a fox, brown and quick", "the quick brown fox jumps",
    ]  # every word, in any order; newest first
    assert texts(await search(ann, '"brown fox"')) == ["the quick brown fox jumps"]
    assert texts(await search(ann, '"fox brown"')) == ["a fox, brown and quick"]  # punctuation
    assert texts(await search(ann, "quick*")) == [
        "a fox, brown and quick", "Quickly, the fox is in the garden!",
        "the quick brown fox jumps",
    ]
    assert texts(await search(ann, "QUICK")) == [
        "a fox, brown and quick", "the quick brown fox jumps",
    ]  # case does not matter, and a word is not a prefix
    assert texts(await search(ann, "cafe")) == ["meet at the café at noon"]  # nor accents
    # short words and stopwords (below MariaDB's innodb_ft_min_token_size, or on
    # its list) are found the same on both backends
    assert texts(await search(ann, "go to")) == ["cat says: go to the zoo"]
    assert texts(await search(ann, "at")) == ["meet at the café at noon"]
    assert texts(await search(ann, "fo*")) == [
        "a fox, brown and quick", "Quickly, the fox is in the garden!",
        "brown bread for breakfast", "the quick brown fox jumps",
    ]
    assert (await search(ann, "giraffe"))["items"] == []


async def test_hits_carry_the_conversation_sender_time_and_excerpt(
    people: dict[str, Any],
) -> None:
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    [one] = (await search(bob, "breakfast"))["items"]
    assert one["messageType"] == 1
    assert one["conversation"] == ann.uuid  # the other side, from bob's view
    assert one["conversationName"] == ann.username
    assert (one["fromUserId"], one["fromUsername"]) == (ann.uuid, ann.username)
    assert isinstance(one["id"], int) and isinstance(one["createdAtMs"], int)
    assert one["excerpt"] == [
        {"text": "brown bread for ", "match": False}, {"text": "breakfast", "match": True},
    ]
    [group] = (await search(cat, "garden"))["items"]
    assert (group["messageType"], group["conversation"]) == (2, people["crew"])
    assert group["conversationName"] == "crew"


async def test_excerpts_are_text_and_cut_around_the_match(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    long = " ".join(f"word{i}" for i in range(200)) + " <b onclick=x>needle</b> " + "tail " * 80
    await send(a, (b.uuid, long, False), (b.uuid, "<script>needle()</script>\nnext line", False))
    items = (await search(b, "needle"))["items"]
    script, cut = items[0]["excerpt"], items[1]["excerpt"]
    assert script == [
        {"text": "<script>", "match": False}, {"text": "needle", "match": True},
        {"text": "()</script> next line", "match": False},
    ]  # markup stays text (the client shows it as such); a line break is a space
    assert cut[0] == {"text": "\u2026", "match": False} and cut[-1] == cut[0]
    assert [s["text"] for s in cut if s["match"]] == ["needle"]
    assert len("".join(s["text"] for s in cut)) <= 220


async def test_nobody_finds_what_they_may_not_read(people: dict[str, Any]) -> None:
    ann, cat, eve = people["ann"], people["cat"], people["eve"]
    # dan and eve's conversation and their group: invisible to ann
    assert texts(await search(ann, "secret")) == []
    assert texts(await search(eve, "secret")) == [
        "fox in the secret group", "secret fox plans",
    ]
    # cat is in the group, not in ann and bob's one-to-one conversation
    assert texts(await search(cat, "fox")) == ["Quickly, the fox is in the garden!"]
    # the conversation filter cannot open a group the caller is not in, and says
    # nothing that tells it from a group that does not exist
    status, reason = await refused(ann, {"q": "fox", "conversation": people["secret"]})
    nowhere = "5d2b1a3c-0000-4000-8000-000000000000"
    missing = await refused(ann, {"q": "fox", "conversation": nowhere})
    assert status == 404 and (status, reason) == missing
    # naming a sender does not widen anything either
    assert texts(await search(ann, "fox", sender=people["dan"].uuid)) == []


async def test_filters(people: dict[str, Any]) -> None:
    ann, bob = people["ann"], people["bob"]
    assert texts(await search(ann, "fox", conversation=bob.uuid)) == [
        "a fox, brown and quick", "the quick brown fox jumps",
    ]
    assert texts(await search(ann, "fox", conversation=people["crew"])) == [
        "Quickly, the fox is in the garden!",
    ]
    assert texts(await search(ann, "fox", sender=bob.username)) == ["a fox, brown and quick"]
    assert texts(await search(ann, "fox", sender=ann.uuid)) == [
        "Quickly, the fox is in the garden!", "the quick brown fox jumps",
    ]
    every = (await search(ann, "fox"))["items"]
    times = [item["createdAtMs"] for item in every]
    assert times == sorted(times, reverse=True)
    newest, oldest = times[0], times[-1]
    after = (await search(ann, "fox", after=oldest))["items"]
    assert after == [item for item in every if item["createdAtMs"] > oldest]
    before = (await search(ann, "fox", before=newest))["items"]
    assert before == [item for item in every if item["createdAtMs"] < newest]
    assert before  # the messages were stored in different milliseconds
    assert (await search(ann, "fox", after=newest))["items"] == []


async def test_pages_follow_the_cursor(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    await send(a, *((b.uuid, f"page item {i}", False) for i in range(7)))
    seen: list[str] = []
    cursor: int | None = None
    for _ in range(10):
        page = await search(b, "page item", limit=3, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= 3
        seen += texts(page)
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"page item {i}" for i in reversed(range(7))]


HOSTILE = [
    '"', '""', '"unclosed phrase', "fox)", "(fox", "NEAR(fox quick)", "fox NEAR quick",
    "-fox", "+fox", "fox -brown", "@fox", "~fox", "<fox", ">fox", "fox*", "*fox", "f*x",
    "fox OR giraffe", "fox AND", "NOT fox", "content:fox", "{content}: fox", "fox^", "'fox'",
    "fox\\", "fox%", "fox_", "%", "_", "fox;DROP TABLE messages", "\u0000fox", "🦊 fox",
]


async def test_hostile_queries_are_words_and_nothing_else(people: dict[str, Any]) -> None:
    ann = people["ann"]
    fox = set(texts(await search(ann, "fox")))
    for q in HOSTILE:
        try:
            found = set(texts(await search(ann, q)))
        except ApiError as error:  # only "nothing to search for", never a 500
            problems = [] if error.status == 400 and "no words" in str(error) else [q]
            assert problems == []
            continue
        assert found <= fox | {"brown bread for breakfast"}, q
    # an operator word is only a word: "OR" does not widen, "-" does not exclude
    assert texts(await search(ann, "fox OR giraffe")) == []
    both = set(texts(await search(ann, "fox brown")))
    assert set(texts(await search(ann, "fox -brown"))) == both
    near = set(texts(await search(ann, "NEAR(fox quick)")))
    assert near == set(texts(await search(ann, '"near fox" quick'))) == set()


async def test_bad_parameters_are_refused(people: dict[str, Any]) -> None:
    ann = people["ann"]
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({}, 400, "no words"),
        ({"q": ""}, 400, "no words"),
        ({"q": "   "}, 400, "no words"),
        ({"q": "()*-+"}, 400, "no words"),
        ({"q": "x" * 257}, 400, "longer than 256"),
        ({"q": " ".join(f"w{i}" for i in range(17))}, 400, "more than 16"),
        ({"q": "fox", "limit": 0}, 400, "`limit`"),
        ({"q": "fox", "limit": 101}, 400, "`limit`"),
        ({"q": "fox", "limit": "ten"}, 400, "`limit`"),
        ({"q": "fox", "after": "yesterday"}, 400, "`after`"),
        ({"q": "fox", "before": "-5"}, 400, "`before`"),
        ({"q": "fox", "after": 10, "before": 10}, 400, "earlier"),
        ({"q": "fox", "cursor": 0}, 400, "`cursor`"),
        ({"q": "fox", "after": 2**70}, 400, "`after`"),
        ({"q": "fox", "conversation": "not-a-uuid"}, 400, "uuid"),
        ({"q": "fox", "sender": "nobody-at-all"}, 404, "no such sender"),
    ]
    for params, status, reason in cases:
        got_status, got_reason = await refused(ann, params)
        assert got_status == status, params
        assert reason in got_reason, (params, got_reason)


async def test_search_needs_a_login(server: Server) -> None:
    response = await raw(server, "GET", "/message/search", params={"q": "fox"})
    assert response.status_code == 401
