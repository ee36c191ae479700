"""The user's client language and the stable error keys, on SQLite and MariaDB.

The language is part of the user (``users.language``): /user/me and login answer
it, PUT /user changes it (only to a supported tag or ""), and a second login of the
same user, as another device would make, sees the choice. Refusals carry a key
next to the English text, in the JSON envelope (``key``) and in error frames
(``errorKey``, field 16), and every key the server can send has a text in each of
the web client's locale files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import trio
from sqlalchemy import inspect, text

from chat_trio.client import ApiError, Message
from chat_trio.config import Config
from chat_trio.errors import KEYS_BY_STATUS, ProtocolError, key_for_status
from chat_trio.languages import SUPPORTED_LANGUAGES, check_language
from chat_trio.model import FrameType
from chat_trio.storage import make_store, open_storage
from chat_trio.storage.schema import SCHEMA_VERSION
from tests.conftest import PASSWORD, MakeUser, Server, fresh_mysql, server_config
from tests.test_http_api import make_user_client, raw
from tests.test_socket import welcome

ROOT = Path(__file__).resolve().parents[1]
LOCALES = ROOT / "web" / "src" / "locales"


async def test_a_new_user_has_no_language_and_follows_the_browser(make_user: MakeUser) -> None:
    user = await make_user()
    assert user.me.user["language"] == ""
    assert (await user.api.request("GET", "/user/me"))["language"] == ""


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
async def test_the_language_is_stored_and_seen_by_another_login(
    server: Server, make_user: MakeUser, language: str
) -> None:
    user = await make_user()
    await user.api.request("PUT", "/user", json={"username": user.username, "language": language})
    assert (await user.api.request("GET", "/user/me"))["language"] == language
    other_device = await make_user_client(server, user.username, PASSWORD)
    try:
        assert other_device.me is not None
        assert other_device.me.user["language"] == language  # in the login's answer
        assert (await other_device.request("GET", "/user/me"))["language"] == language
    finally:
        await other_device.http.aclose()


async def test_a_profile_update_without_the_field_keeps_the_language(make_user: MakeUser) -> None:
    """go-chat's client sends nickname and email only: that must not reset the choice."""
    user = await make_user()
    await user.api.request("PUT", "/user", json={"username": user.username, "language": "zh"})
    await user.api.request("PUT", "/user", json={"username": user.username, "nickname": "N"})
    me = await user.api.request("GET", "/user/me")
    assert (me["language"], me["nickname"]) == ("zh", "N")
    await user.api.request("PUT", "/user", json={"username": user.username, "language": ""})
    assert (await user.api.request("GET", "/user/me"))["language"] == ""


@pytest.mark.parametrize("bad", ["fr", "EN", "zh-CN", "english", 3, ["en"], " en"])
async def test_an_unsupported_language_is_refused_and_changes_nothing(
    make_user: MakeUser, bad: object
) -> None:
    user = await make_user()
    await user.api.request("PUT", "/user", json={"username": user.username, "language": "es"})
    with pytest.raises(ApiError) as refused:
        await user.api.request(
            "PUT", "/user", json={"username": user.username, "nickname": "X", "language": bad}
        )
    assert (refused.value.status, refused.value.key) == (400, "unsupported_language")
    assert "en, zh, es" in refused.value.msg
    me = await user.api.request("GET", "/user/me")
    assert (me["language"], me["nickname"]) == ("es", user.username)  # nothing was saved


async def test_others_do_not_see_a_users_language(make_user: MakeUser) -> None:
    a, b = await make_user(), await make_user()
    await b.api.request("PUT", "/user", json={"username": b.username, "language": "zh"})
    assert (await a.api.request("GET", f"/user/{b.uuid}"))["language"] == ""
    found = await a.api.request("GET", "/user/name", params={"name": b.username})
    assert found["user"]["language"] == ""


def test_check_language_accepts_exactly_the_supported_tags() -> None:
    assert [check_language(t) for t in ("", None, *SUPPORTED_LANGUAGES)] == [
        "", "", *SUPPORTED_LANGUAGES
    ]
    with pytest.raises(ProtocolError):
        check_language("de")


# -- the migration --------------------------------------------------------------------


async def test_a_version_2_database_gains_the_language_column(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A database made before the column (its users table without it, at version 2):
    opening it adds the column, keeps the rows, and every old user follows the browser."""
    mysql = fresh_mysql(request.getfixturevalue("mysql_database")) if backend == "mysql" else None
    config: Config = server_config(tmp_path, mysql=mysql)
    old = make_store(config, mysql_dialect="mariadb")
    users = old.schema.users

    def create_version_2() -> None:
        old.schema.metadata.create_all(old.engine)
        with old.engine.begin() as conn:
            table = conn.dialect.identifier_preparer.quote(users.name)
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN language"))
            conn.execute(
                text(
                    f"INSERT INTO {table} (uuid, username, nickname, email, avatar, "
                    "password_hash, created_at, updated_at) "
                    "VALUES ('u-old', 'old', 'Old', '', '', 'x', 1, 1)"
                )
            )
            conn.execute(old.schema.schema_version.insert().values(version=1, applied_at=0))
            conn.execute(old.schema.schema_version.insert().values(version=2, applied_at=0))
            assert "language" not in {c["name"] for c in inspect(conn).get_columns(users.name)}

    if backend == "mysql":
        from chat_trio.storage.mysql import prepare_server

        assert mysql is not None
        await trio.to_thread.run_sync(prepare_server, mysql)
    await trio.to_thread.run_sync(create_version_2)
    await old.aclose()
    async with open_storage(config) as store:
        assert await store.schema_version() == SCHEMA_VERSION
        user = await store.user_by_username("old")
        assert user is not None
        assert (user.nickname, user.language) == ("Old", "")
        await store.set_language(user.id, "es")
        again = await store.user_by_uuid("u-old")
        assert again is not None
        assert again.language == "es"


# -- error keys -------------------------------------------------------------------------


async def test_http_refusals_carry_a_key(server: Server, make_user: MakeUser) -> None:
    user = await make_user()
    taken = await raw(
        server, "POST", "/user/register",
        json={"username": user.username, "password": PASSWORD},
    )
    assert (taken.status_code, taken.json()["key"]) == (409, "username_taken")
    assert taken.json()["msg"] == "that username is taken"  # go-chat's field, unchanged
    short = await raw(server, "POST", "/user/register", json={"username": "x1", "password": "1"})
    assert short.json()["key"] == "password_too_short"
    # A refusal without a key of its own gets its status's generic key.
    unknown = await raw(server, "GET", "/no/such/route")
    assert (unknown.status_code, unknown.json()["key"]) == (404, "not_found")
    with pytest.raises(ApiError) as refused:
        await user.api.request("POST", "/friend", json={"uuid": user.uuid, "friendUsername": "-"})
    assert refused.value.key == "no_such_user"


@pytest.mark.parametrize(
    ("message", "key"),
    [
        (Message(to="no-user", content="x", contentType=1, messageType=1), "no_such_user"),
        (Message(to="no-group", content="x", contentType=1, messageType=2), "no_such_group"),
        (Message(to="", content="x", contentType=1, messageType=1), "no_broadcast"),
        (Message(to="x", type="ack"), "bad_request"),
    ],
)
async def test_error_frames_carry_the_key_in_field_16(
    make_user: MakeUser, message: Message, key: str
) -> None:
    user = await make_user()
    message.clientId = "c-1"
    async with user.api.connect() as conn:
        await welcome(conn)
        await conn.send(message)
        error = await conn.receive()
        assert (error.type, error.clientId, error.errorKey) == (FrameType.ERROR, "c-1", key)
        assert error.content  # the English text stays, for go-chat's client
    assert Message.DESCRIPTOR.fields_by_name["errorKey"].number == 16


def test_every_status_has_a_generic_key() -> None:
    assert key_for_status(418) == "bad_request"
    assert key_for_status(502) == "internal"
    assert ProtocolError(404, "x").key == "not_found"
    assert ProtocolError(404, "x", key="no_such_file").key == "no_such_file"


def server_error_keys() -> set[str]:
    """Every key the server can send: the generic ones and each ``key="..."`` in the code."""
    named = {
        m.group(1)
        for path in (ROOT / "chat_trio").rglob("*.py")
        for m in re.finditer(r'\bkey="([a-z_]+)"', path.read_text(encoding="utf-8"))
    }
    # error_frame's explicit fourth argument in the writer
    writer = (ROOT / "chat_trio" / "writer.py").read_text(encoding="utf-8")
    named |= set(re.findall(r'client_id, "([a-z_]+)"', writer))
    return named | set(KEYS_BY_STATUS.values())


def test_the_server_sends_keys_the_docs_list() -> None:
    protocol = (ROOT / "docs" / "protocol.md").read_text(encoding="utf-8")
    missing = sorted(k for k in server_error_keys() if f"`{k}`" not in protocol)
    assert missing == [], f"error keys not listed in docs/protocol.md: {missing}"


@pytest.mark.parametrize("language", SUPPORTED_LANGUAGES)
def test_every_server_key_has_a_text_in_every_locale(language: str) -> None:
    texts = json.loads((LOCALES / f"{language}.json").read_text(encoding="utf-8"))
    errors = texts.get("errors", {})
    missing = sorted(k for k in server_error_keys() if not errors.get(k))
    assert missing == [], f"{language}.json has no text for server error keys {missing}"


def test_the_client_has_a_locale_for_each_supported_language() -> None:
    assert {p.stem for p in LOCALES.glob("*.json")} == set(SUPPORTED_LANGUAGES)
