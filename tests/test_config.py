"""config.toml + environment: defaults, partial files, overrides, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat_trio.config import Config, env_names, load_config
from chat_trio.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path: Path) -> None:
    config = load_config(tmp_path / "missing.toml", env={})
    assert config == Config()
    assert (config.server.host, config.server.port) == ("127.0.0.1", 8888)
    assert config.database.backend == "sqlite"
    assert config.msg_channel.channel_type == "memory"


def test_an_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "missing.toml", env={}, required=True)


def test_the_shipped_config_is_valid() -> None:
    config = load_config(REPO / "config.toml", env={}, required=True)
    assert config.app_name == "chat_trio"
    assert config.static_path.file_path == "web/static/file/"


def test_a_partial_file_keeps_the_other_defaults(tmp_path: Path) -> None:
    config = load_config(
        write(tmp_path, 'appName = "team"\n[server]\nport = 9000\n[mysql]\ntablePrefix = "ct_"\n'),
        env={},
    )
    assert config.app_name == "team"
    assert config.server.port == 9000
    assert config.server.host == "127.0.0.1"
    assert config.mysql.table_prefix == "ct_"
    assert config.sqlite == Config().sqlite


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[server]\nport = 9000\n")
    config = load_config(
        path,
        env={
            "CHAT_TRIO_SERVER_PORT": "9100",
            "CHAT_TRIO_APPNAME": "from-env",
            "CHAT_TRIO_STATICPATH_FILEPATH": "/srv/files",
            "CHAT_TRIO_AUTH_COOKIESECURE": "true",
            "CHAT_TRIO_WEBRTC_ICESERVERS": "stun:a:3478, turn:b:3478",
        },
    )
    assert config.server.port == 9100
    assert config.app_name == "from-env"
    assert config.static_path.file_path == "/srv/files"
    assert config.auth.cookie_secure is True
    assert config.webrtc.ice_servers == ("stun:a:3478", "turn:b:3478")


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[server]\nport = 'eighty'\n", {}, "[server] port: expected an integer, got 'eighty'"),
        ("[server]\nprot = 80\n", {}, "[server] prot: unknown key"),
        ("colour = 1\n", {}, "colour: unknown key"),
        ("[database]\nbackend = 'oracle'\n", {}, "[database] backend: 'oracle' is not one of"),
        ("[server]\nport = 70000\n", {}, "[server] port: must be 0-65535"),
        ("[server]\nkeepAliveTimeout = 0\n", {}, "[server] keepAliveTimeout: must be positive"),
        ("[server]\nmaxConnections = -1\n", {}, "[server] maxConnections: must be 0 or more"),
        ("server = 1\n", {}, "[server]: expected a table"),
        ("[server\n", {}, "not valid TOML"),
        ("", {"CHAT_TRIO_SERVER_PORT": "x"}, "CHAT_TRIO_SERVER_PORT: expected an integer"),
        ("", {"CHAT_TRIO_AUTH_COOKIESECURE": "maybe"}, "expected true or false"),
        ("[limits]\noutboxFrames = 0\n", {}, "[limits] outboxFrames: must be at least 1"),
    ],
)
def test_bad_config_names_the_key(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(write(tmp_path, text), env=env)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_every_key_has_an_environment_name() -> None:
    names = env_names()
    assert "CHAT_TRIO_SERVER_PORT" in names
    assert "CHAT_TRIO_MYSQL_TABLEPREFIX" in names
    assert "CHAT_TRIO_MSGCHANNELTYPE_CHANNELTYPE" in names
    assert len(names) == len(set(names))
