"""The deployment files stay in step with the code they configure."""

from __future__ import annotations

import re
from pathlib import Path

from chat_trio.config import env_names, load_config

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"


def test_every_environment_variable_in_deploy_files_is_a_config_key() -> None:
    known = set(env_names())
    for path in DEPLOY.iterdir():
        for name in re.findall(r"\bCHAT_TRIO_[A-Z_]+\b", path.read_text()):
            assert name in known, f"{path.name}: {name} is not a config key"


def test_compose_environment_makes_a_valid_config(tmp_path: Path) -> None:
    text = (DEPLOY / "docker-compose.yml").read_text()
    env = dict(re.findall(r"^\s+(CHAT_TRIO_[A-Z_]+): (\S+)", text, flags=re.MULTILINE))
    env = {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", v) for k, v in env.items()}
    config = load_config(tmp_path / "none.toml", env=env)
    assert config.database.backend == "mysql"
    assert config.msg_channel.channel_type == "redis"


def test_unit_starts_serve_and_nginx_upgrades_the_socket() -> None:
    unit = (DEPLOY / "chat-trio.service").read_text()
    assert re.search(r"^ExecStart=\S+/chat-trio serve --config \S+$", unit, re.MULTILINE)
    nginx = (DEPLOY / "nginx-chat-trio.conf").read_text()
    assert "location /socket.io" in nginx and "proxy_set_header Upgrade $http_upgrade" in nginx
    assert "client_max_body_size 11m" in nginx
