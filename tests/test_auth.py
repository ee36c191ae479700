"""Login tokens: the per-node cache never outlives a revocation by more than its TTL."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from chat_trio.auth import TOKEN_CACHE_SECONDS, Accounts, token_hash
from chat_trio.storage import open_storage
from tests.conftest import server_config


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
