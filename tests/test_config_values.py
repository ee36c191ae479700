"""Each kind of config value, from the file and from the environment: what is
taken, and the one-line error that names the key for what is not."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat_trio.config import load_config
from chat_trio.errors import ConfigError


def from_file(tmp_path: Path, toml: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    load_config(path, env={}, required=True)


@pytest.mark.parametrize("word", ["0", "false", "No", " off "])
def test_a_false_word_in_the_environment_is_false(tmp_path: Path, word: str) -> None:
    env = {"CHAT_TRIO_SERVER_LEGACYERRORSTATUS": word}
    assert load_config(tmp_path / "missing.toml", env=env).server.legacy_error_status is False
    env = {"CHAT_TRIO_SERVER_LEGACYERRORSTATUS": "yes"}
    assert load_config(tmp_path / "missing.toml", env=env).server.legacy_error_status is True


def test_numbers_from_the_environment(tmp_path: Path) -> None:
    env = {"CHAT_TRIO_SERVER_GRACEFULTIMEOUT": "2.5"}
    assert load_config(tmp_path / "missing.toml", env=env).server.graceful_timeout == 2.5
    env = {"CHAT_TRIO_SERVER_GRACEFULTIMEOUT": "soon"}
    with pytest.raises(ConfigError, match="CHAT_TRIO_SERVER_GRACEFULTIMEOUT: expected a number"):
        load_config(tmp_path / "missing.toml", env=env)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[server]\ngracefulTimeout = "5"', "[server] gracefulTimeout: expected a number"),
        ("[server]\ngracefulTimeout = true", "[server] gracefulTimeout: expected a number"),
        ("appName = 7", "appName: expected a string, got 7"),
        ('[server]\nallowedOrigins = "https://a"', "[server] allowedOrigins: expected a list"),
        ("[server]\nallowedOrigins = [1]", "[server] allowedOrigins: expected a list"),
    ],
)
def test_a_value_of_the_wrong_type_names_its_key(
    tmp_path: Path, toml: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        from_file(tmp_path, toml)
    assert str(error.value).startswith(message), error.value


def test_whole_numbers_are_taken_where_a_number_is_asked(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("[server]\ngracefulTimeout = 3", encoding="utf-8")
    timeout = load_config(path, env={}).server.graceful_timeout
    assert timeout == 3.0 and isinstance(timeout, float)


def test_a_config_path_that_cannot_be_read_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "config.toml"
    folder.mkdir()
    with pytest.raises(ConfigError, match=r"config\.toml: cannot read: Is a directory"):
        load_config(folder, env={})
