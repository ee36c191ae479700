"""Login tokens: the per-node cache never outlives a revocation by more than its TTL."""

from __future__ import annotations

import contextlib
import math
from pathlib import Path

import trio
import trio.testing

from chat_trio.app import single_node
from chat_trio.auth import COOKIE_NAME, TOKEN_CACHE_SECONDS, Accounts, carried_token, token_hash
from chat_trio.bus import Revocation
from chat_trio.storage import open_storage
from tests.conftest import server_config


def test_a_token_is_looked_for_in_the_header_then_the_cookie_then_the_query() -> None:
    cookies = f"theme=dark; {COOKIE_NAME}=from-cookie"
    assert carried_token("Bearer from-header", cookies, "from-query") == "from-header"
    assert carried_token("bearer  from-header ", "", "") == "from-header"
    assert carried_token("Basic dXNlcjpwYXNz", cookies, "from-query") == "from-cookie"
    assert carried_token("", "theme=dark", "from-query") == "from-query"
    assert carried_token("", "", "") == ""


async def test_a_logout_elsewhere_takes_effect_within_the_cache_time(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    config = server_config(tmp_path)
    async with open_storage(config) as store:
        accounts = Accounts(store, config.auth)
        user = await store.create_user(
            uuid="u-1", username="u1", password_hash="x", nickname="", email=""
        )
        token = await accounts.issue_token(user)
        assert await accounts.user_for_token(token) == user
        await store.delete_login(token_hash(token))  # another node's logout
        assert await accounts.user_for_token(token) == user  # still trusted here, briefly
        await trio.sleep(TOKEN_CACHE_SECONDS + 1)
        assert await accounts.user_for_token(token) is None


async def test_the_only_node_trusts_a_token_for_its_life_and_still_ends_it_at_once(
    tmp_path: Path, autojump_clock: trio.testing.MockClock
) -> None:
    """On a single node (app.single_node) every revocation happens here: a token is
    trusted past TOKEN_CACHE_SECONDS without the database, and a logout ends it at once."""
    config = server_config(tmp_path)
    assert single_node(config)
    assert not single_node(config.replace("msg_channel", channel_type="redis"))
    assert not single_node(config.replace("database", backend="mysql"))
    async with open_storage(config) as store:
        accounts = Accounts(store, config.auth)
        accounts.trust_seconds = math.inf
        user = await store.create_user(
            uuid="u-1", username="u1", password_hash="x", nickname="", email=""
        )
        token, other = await accounts.issue_token(user), await accounts.issue_token(user)
        await trio.sleep(TOKEN_CACHE_SECONDS * 10)
        # The row is gone, yet the token is known: the answer came from the cache.
        await store.delete_login(token_hash(other))
        assert await accounts.user_for_token(other) == user
        await accounts.logout(token)
        assert await accounts.user_for_token(token) is None
        await accounts.revoke_other_logins(user, keep_token=token)
        assert await accounts.user_for_token(other) is None


async def test_a_logout_here_takes_effect_at_once(tmp_path: Path) -> None:
    config = server_config(tmp_path)
    async with open_storage(config) as store:
        accounts = Accounts(store, config.auth)
        user = await store.create_user(
            uuid="u-1", username="u1", password_hash="x", nickname="", email=""
        )
        token, other = await accounts.issue_token(user), await accounts.issue_token(user)
        await accounts.logout(token)
        assert await accounts.user_for_token(token) is None
        await accounts.revoke_other_logins(user, keep_token=token)
        assert await accounts.user_for_token(other) is None


async def test_logins_do_not_wait_behind_registration_hashing(tmp_path: Path) -> None:
    """New hashes (registration, a new password) and password checks (login) have
    threads of their own: with every hashing thread busy, a login still completes."""
    config = server_config(tmp_path)
    async with open_storage(config) as store:
        accounts = Accounts(store, config.auth)
        stored = await accounts.hash_password("the password")
        await store.create_user(
            uuid="u-1", username="u1", password_hash=stored, nickname="", email=""
        )
        registering = trio.Event()
        done = trio.Event()

        async def hold_every_hashing_thread() -> None:
            held = 0
            async with contextlib.AsyncExitStack() as stack:
                while held < accounts.hashing.total_tokens:
                    await stack.enter_async_context(accounts.hashing)
                    held += 1
                registering.set()
                await done.wait()

        async with trio.open_nursery() as nursery:
            nursery.start_soon(hold_every_hashing_thread)
            await registering.wait()
            assert accounts.hashing.available_tokens == 0
            with trio.fail_after(30):  # a hang guard: without the split this waits forever
                login = await accounts.login("u1", "the password", "203.0.113.1")
            assert login.user.username == "u1"
            done.set()


async def test_a_revocation_from_another_node_takes_effect_at_once(tmp_path: Path) -> None:
    """What the bus hands over: the cache drops the login and its sessions end."""
    config = server_config(tmp_path)
    async with open_storage(config) as store:
        accounts = Accounts(store, config.auth)
        user = await store.create_user(
            uuid="u-1", username="u1", password_hash="x", nickname="", email=""
        )
        token, kept = await accounts.issue_token(user), await accounts.issue_token(user)
        checked = await accounts.check_session_token(token)
        assert checked is not None
        with accounts.live.watch(user.id, checked.token_hash) as watch:
            await store.delete_login(token_hash(token))  # the other node's logout
            accounts.forget(Revocation(token_hash=token_hash(token)))
            assert watch.ended and watch.reason == "login revoked"
        assert await accounts.user_for_token(token) is None
        kept_check = await accounts.check_session_token(kept)
        assert kept_check is not None
        with accounts.live.watch(user.id, kept_check.token_hash) as kept_watch:
            accounts.forget(Revocation(user_id=user.id, keep_hash=token_hash(kept)))
            assert not kept_watch.ended  # the kept login lives on
        assert len(accounts.live) == 0
