"""Configuration: config.toml plus the environment, read once into frozen dataclasses.

Every key has a default, so a file holding only the keys it changes is valid, and
a missing ./config.toml means "all defaults". The TOML keys keep go-chat's names
(``appName``, ``[staticPath] filePath``, ``[msgChannelType] channelType``, ...);
each dataclass field carries its TOML key in ``metadata["key"]``.

Any key can be overridden from the environment as ``CHAT_TRIO_<SECTION>_<KEY>``,
upper-cased, for example ``CHAT_TRIO_SERVER_PORT=9000`` or
``CHAT_TRIO_SQLITE_PATH=/var/lib/chat/chat.db``; top-level keys drop the section
(``CHAT_TRIO_APPNAME``). A list takes a comma-separated value.

A bad value stops start-up with one :class:`ConfigError` line naming the key.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from chat_trio.errors import ConfigError

SECONDS = 1.0
KIB = 1024
MIB = 1024 * KIB

ENV_PREFIX = "CHAT_TRIO_"

T = TypeVar("T")


def _key(name: str, default: T) -> T:
    """A field whose TOML key is ``name`` (go-chat's camelCase spelling)."""
    return field(default=default, metadata={"key": name})


def _section(name: str, cls: type[T]) -> T:
    """A ``[name]`` table of the file, all defaults when left out."""
    return field(default_factory=cls, metadata={"key": name})


@dataclass(frozen=True)
class ServerConfig:
    host: str = _key("host", "127.0.0.1")
    port: int = _key("port", 8888)
    #: Seconds that open sessions get to finish after a shutdown signal.
    graceful_timeout: float = _key("gracefulTimeout", 5 * SECONDS)
    #: Where the built web client lives; empty means the copy inside this checkout.
    web_root: str = _key("webRoot", "")
    #: Origins (scheme://host[:port]) besides the server's own that browsers may use
    #: for the WebSocket and, with credentials, for the HTTP API (CORS).
    allowed_origins: tuple[str, ...] = _key("allowedOrigins", ())
    #: Answer HTTP refusals as go-chat did: status 200 with ``code: -1`` and the
    #: message, for go-chat's own client, which reads the envelope of 2xx answers only.
    legacy_error_status: bool = _key("legacyErrorStatus", False)
    #: Seconds an HTTP connection may stay open with no request before it is closed.
    keep_alive_timeout: float = _key("keepAliveTimeout", 30 * SECONDS)
    #: Open connections (HTTP and WebSocket) at most; 0 means derived from the
    #: descriptor limit (RLIMIT_NOFILE less a quarter, at least 64, for the rest).
    max_connections: int = _key("maxConnections", 0)
    #: Addresses or CIDRs of reverse proxies whose X-Forwarded-For / X-Real-IP name
    #: the client; none by default (then the socket's peer is the client).
    trusted_proxies: tuple[str, ...] = _key("trustedProxies", ())
    #: Client addresses or CIDRs that may read /metrics without a token.
    metrics_allow: tuple[str, ...] = _key("metricsAllow", ("127.0.0.1", "::1"))
    #: A secret that lets any address read /metrics as ``Authorization: Bearer``;
    #: empty means only metricsAllow counts.
    metrics_token: str = _key("metricsToken", "")


@dataclass(frozen=True)
class DatabaseConfig:
    backend: str = _key("backend", "sqlite")


@dataclass(frozen=True)
class SqliteConfig:
    path: str = _key("path", "data/chat.db")
    #: Seconds sqlite3 waits on a locked database before it gives up.
    busy_timeout: float = _key("busyTimeout", 5 * SECONDS)


@dataclass(frozen=True)
class MysqlConfig:
    host: str = _key("host", "127.0.0.1")
    port: int = _key("port", 3306)
    user: str = _key("user", "root")
    password: str = _key("password", "")
    name: str = _key("name", "chat")
    table_prefix: str = _key("tablePrefix", "")
    pool_size: int = _key("poolSize", 4)
    #: Seconds a single query may take before the driver gives up.
    timeout: float = _key("timeout", 10 * SECONDS)


@dataclass(frozen=True)
class LogConfig:
    level: str = _key("level", "info")
    #: Log file; empty means standard error.
    path: str = _key("path", "")
    #: "text" for people, "json" for log collectors (one object per line).
    format: str = _key("format", "text")


@dataclass(frozen=True)
class StaticPathConfig:
    file_path: str = _key("filePath", "web/static/file/")


@dataclass(frozen=True)
class MsgChannelConfig:
    channel_type: str = _key("channelType", "memory")
    redis_url: str = _key("redisUrl", "redis://127.0.0.1:6379/0")
    #: Prefix of every Redis key and channel, so several deployments can share one Redis.
    redis_prefix: str = _key("redisPrefix", "chat_trio")


@dataclass(frozen=True)
class AuthConfig:
    #: Seconds a login token stays valid.
    token_ttl: float = _key("tokenTtl", 30 * 24 * 3600 * SECONDS)
    #: Set the Secure flag on the session cookie (turn on behind HTTPS).
    cookie_secure: bool = _key("cookieSecure", False)
    #: argon2id cost; RFC 9106's low-memory profile by default.
    argon2_time_cost: int = _key("argon2TimeCost", 3)
    argon2_memory_kib: int = _key("argon2MemoryKib", 64 * KIB)
    argon2_parallelism: int = _key("argon2Parallelism", 4)


@dataclass(frozen=True)
class LimitsConfig:
    #: Frames queued for one session before it counts as a slow consumer and is closed.
    outbox_frames: int = _key("outboxFrames", 1024)
    #: Bytes queued for one session (frames waiting for its socket) before it counts
    #: as a slow consumer and is closed, like ``outboxFrames``.
    outbox_bytes: int = _key("outboxBytes", 8 * MIB)
    #: Largest WebSocket frame accepted (older clients send files inside frames).
    max_frame_bytes: int = _key("maxFrameBytes", 10 * MIB)
    #: Frames (fragments) one WebSocket message may arrive in; past it, close 1009.
    max_fragments: int = _key("maxFragments", 4096)
    #: Largest relayed signaling or call-control frame (WebRTC offers and candidates,
    #: dial/accept/cancel/reject), in bytes; larger ones get error frame 413.
    max_signaling_bytes: int = _key("maxSignalingBytes", 64 * KIB)
    #: Largest relayed media frame (content types 6-9: calls, video and screen frames,
    #: JPEG data URLs), in bytes; larger ones get error frame 413.
    max_media_frame_bytes: int = _key("maxMediaFrameBytes", 1 * MIB)
    #: Largest file accepted, over HTTP or inside a frame.
    max_upload_bytes: int = _key("maxUploadBytes", 10 * MIB)
    #: Longest text content of a chat message, in characters.
    max_text_chars: int = _key("maxTextChars", 10_000)
    #: Largest HTTP request body that is not an upload.
    max_body_bytes: int = _key("maxBodyBytes", 64 * KIB)
    #: Files one user may store per minute, over HTTP or inside frames (per node;
    #: a burst of this many, then one every 60/N seconds).
    uploads_per_minute: int = _key("uploadsPerMinute", 30)
    #: Bytes all of one user's stored files may take; 0 means no quota.
    upload_quota_bytes: int = _key("uploadQuotaBytes", 1024 * MIB)
    #: Chat messages (and calls, signaling) a session may send per second, and in a burst.
    messages_per_second: float = _key("messagesPerSecond", 20.0)
    message_burst: int = _key("messageBurst", 60)
    #: Refused frames in a row after which a flooding session is closed (code 1008).
    flood_close_after: int = _key("floodCloseAfter", 100)
    #: Seconds a session may send nothing at all (not even a heartbeat) before it is
    #: closed; clients send a heartbeat every 10 s.
    idle_timeout: float = _key("idleTimeout", 60 * SECONDS)
    #: Live WebSocket sessions one user may hold at once (tabs, devices).
    sessions_per_user: int = _key("sessionsPerUser", 16)
    #: Failed logins allowed per username and per client address, per minute.
    login_failures_per_minute: int = _key("loginFailuresPerMinute", 10)
    login_failures_per_minute_per_address: int = _key("loginFailuresPerMinutePerAddress", 30)
    #: Accounts one client address may register per hour (also the burst).
    registrations_per_hour_per_address: int = _key("registrationsPerHourPerAddress", 20)


@dataclass(frozen=True)
class WebrtcConfig:
    #: STUN/TURN URLs handed to browsers for calls; empty means host candidates only.
    ice_servers: tuple[str, ...] = _key("iceServers", ())
    turn_username: str = _key("turnUsername", "")
    turn_credential: str = _key("turnCredential", "")


@dataclass(frozen=True)
class Config:
    app_name: str = _key("appName", "chat_trio")
    server: ServerConfig = _section("server", ServerConfig)
    database: DatabaseConfig = _section("database", DatabaseConfig)
    sqlite: SqliteConfig = _section("sqlite", SqliteConfig)
    mysql: MysqlConfig = _section("mysql", MysqlConfig)
    log: LogConfig = _section("log", LogConfig)
    static_path: StaticPathConfig = _section("staticPath", StaticPathConfig)
    msg_channel: MsgChannelConfig = _section("msgChannelType", MsgChannelConfig)
    auth: AuthConfig = _section("auth", AuthConfig)
    limits: LimitsConfig = _section("limits", LimitsConfig)
    webrtc: WebrtcConfig = _section("webrtc", WebrtcConfig)

    def __post_init__(self) -> None:
        _validate(self)

    def replace(self, section: str, **changes: object) -> Config:
        """A copy with some fields of one section changed (used for CLI flags and tests)."""
        current = getattr(self, section)
        return dataclasses.replace(self, **{section: dataclasses.replace(current, **changes)})


_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("database", "backend"): ("sqlite", "mysql"),
    ("msgChannelType", "channelType"): ("memory", "redis"),
    ("log", "level"): ("debug", "info", "warning", "error"),
    ("log", "format"): ("text", "json"),
}


def _networks_ok(entries: tuple[str, ...]) -> bool:
    try:
        for entry in entries:
            ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return False
    return True


def _validate(config: Config) -> None:
    checks = [
        ("server", "port", 0 <= config.server.port <= 65535, "must be 0-65535"),
        ("server", "keepAliveTimeout", config.server.keep_alive_timeout > 0, "must be positive"),
        ("server", "maxConnections", config.server.max_connections >= 0, "must be 0 or more"),
        ("limits", "outboxFrames", config.limits.outbox_frames >= 1, "must be at least 1"),
        ("limits", "outboxBytes", config.limits.outbox_bytes >= 64 * KIB, "must be >= 65536"),
        (
            "limits", "outboxBytes",
            config.limits.outbox_bytes
            >= max(config.limits.max_media_frame_bytes, config.limits.max_signaling_bytes),
            "must be at least maxMediaFrameBytes and maxSignalingBytes",
        ),
        (
            "limits", "maxSignalingBytes",
            config.limits.max_signaling_bytes >= 1024, "must be >= 1024",
        ),
        (
            "limits", "maxMediaFrameBytes",
            config.limits.max_media_frame_bytes >= 1024, "must be >= 1024",
        ),
        ("limits", "maxFrameBytes", config.limits.max_frame_bytes >= 1024, "must be >= 1024"),
        ("limits", "maxFragments", config.limits.max_fragments >= 1, "must be at least 1"),
        ("limits", "maxUploadBytes", config.limits.max_upload_bytes >= 1, "must be positive"),
        ("limits", "maxTextChars", config.limits.max_text_chars >= 1, "must be positive"),
        (
            "limits", "uploadsPerMinute",
            config.limits.uploads_per_minute >= 1, "must be at least 1",
        ),
        (
            "limits", "uploadQuotaBytes",
            config.limits.upload_quota_bytes >= 0, "must be 0 (no quota) or more",
        ),
        ("limits", "messagesPerSecond", config.limits.messages_per_second > 0, "must be positive"),
        ("limits", "messageBurst", config.limits.message_burst >= 1, "must be at least 1"),
        ("limits", "idleTimeout", config.limits.idle_timeout > 0, "must be positive"),
        ("limits", "sessionsPerUser", config.limits.sessions_per_user >= 1, "must be at least 1"),
        (
            "limits", "loginFailuresPerMinute",
            config.limits.login_failures_per_minute >= 1, "must be at least 1",
        ),
        (
            "limits", "loginFailuresPerMinutePerAddress",
            config.limits.login_failures_per_minute_per_address >= 1, "must be at least 1",
        ),
        (
            "limits", "registrationsPerHourPerAddress",
            config.limits.registrations_per_hour_per_address >= 1, "must be at least 1",
        ),
        ("server", "trustedProxies", _networks_ok(config.server.trusted_proxies),
         "each entry must be an IP address or a CIDR like 10.0.0.0/8"),
        ("server", "metricsAllow", _networks_ok(config.server.metrics_allow),
         "each entry must be an IP address or a CIDR like 10.0.0.0/8"),
        (
            "server", "allowedOrigins",
            all(o.startswith(("http://", "https://")) and o.count("/") == 2
                for o in config.server.allowed_origins),
            "each origin must look like https://host[:port]",
        ),
        (
            "msgChannelType", "redisPrefix",
            re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", config.msg_channel.redis_prefix) is not None,
            "must be 1-64 letters, digits, '_', '.' or '-'",
        ),
        ("mysql", "poolSize", config.mysql.pool_size >= 1, "must be at least 1"),
        ("auth", "tokenTtl", config.auth.token_ttl > 0, "must be positive"),
        ("auth", "argon2MemoryKib", config.auth.argon2_memory_kib >= 8, "must be >= 8"),
    ]
    for section, key, ok, why in checks:
        if not ok:
            raise ConfigError(f"[{section}] {key}: {why}")
    values = {
        ("database", "backend"): config.database.backend,
        ("msgChannelType", "channelType"): config.msg_channel.channel_type,
        ("log", "level"): config.log.level,
        ("log", "format"): config.log.format,
    }
    for (section, key), value in values.items():
        allowed = _CHOICES[(section, key)]
        if value not in allowed:
            raise ConfigError(f"[{section}] {key}: {value!r} is not one of {', '.join(allowed)}")


def _convert(where: str, hint: object, value: object, from_env: bool) -> object:
    """Check (and for environment strings, parse) one value against its field type."""
    if hint is bool:
        if from_env and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint is int:
        if from_env and isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if hint is float:
        if from_env and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if typing.get_origin(hint) is tuple:
        if from_env and isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
        raise ConfigError(f"{where}: expected a list of strings, got {value!r}")
    raise ConfigError(f"{where}: unsupported type {hint!r}")  # pragma: no cover


def _build_section(
    cls: type, section_key: str, table: Mapping[str, object], env: Mapping[str, str]
) -> object:
    hints = typing.get_type_hints(cls)
    known = {f.metadata["key"]: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in known:
            raise ConfigError(f"[{section_key}] {key}: unknown key")
    kwargs: dict[str, object] = {}
    for key, f in known.items():
        env_name = f"{ENV_PREFIX}{section_key}_{key}".upper()
        if env_name in env:
            kwargs[f.name] = _convert(env_name, hints[f.name], env[env_name], from_env=True)
        elif key in table:
            kwargs[f.name] = _convert(f"[{section_key}] {key}", hints[f.name], table[key], False)
    return cls(**kwargs)


def load_config(
    path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    required: bool = False,
) -> Config:
    """Read ``path`` (default ./config.toml) and the environment into a :class:`Config`.

    Args:
        path: the TOML file. A missing file means all defaults, unless ``required``.
        env: the environment to read overrides from (default ``os.environ``).
        required: raise when the file does not exist (an explicit ``--config``).

    Raises:
        ConfigError: one line naming the bad key.
    """
    env = os.environ if env is None else env
    config_path = Path(path) if path is not None else Path("config.toml")
    data: dict[str, object] = {}
    if config_path.exists():
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: not valid TOML: {exc}") from None
        except OSError as exc:
            raise ConfigError(f"{config_path}: cannot read: {exc.strerror}") from None
    elif required:
        raise ConfigError(f"{config_path}: no such config file")

    hints = typing.get_type_hints(Config)
    fields = {f.metadata["key"]: f for f in dataclasses.fields(Config)}
    for key in data:
        if key not in fields:
            raise ConfigError(f"{key}: unknown key")
    # Each value was checked against its field's type by _convert or _build_section,
    # which mypy cannot follow through the field names.
    kwargs: dict[str, Any] = {}
    for key, f in fields.items():
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            table = data.get(key, {})
            if not isinstance(table, dict):
                raise ConfigError(f"[{key}]: expected a table")
            kwargs[f.name] = _build_section(typing.cast(type, hint), key, table, env)
        else:
            env_name = f"{ENV_PREFIX}{key}".upper()
            if env_name in env:
                kwargs[f.name] = _convert(env_name, hint, env[env_name], from_env=True)
            elif key in data:
                kwargs[f.name] = _convert(key, hint, data[key], from_env=False)
    return Config(**kwargs)


def env_names() -> list[str]:
    """Every environment variable that overrides a key, for the docs and ``--help``."""
    names = []
    for f in dataclasses.fields(Config):
        hint = typing.get_type_hints(Config)[f.name]
        if dataclasses.is_dataclass(hint):
            for sub in dataclasses.fields(typing.cast(type, hint)):
                names.append(f"{ENV_PREFIX}{f.metadata['key']}_{sub.metadata['key']}".upper())
        else:
            names.append(f"{ENV_PREFIX}{f.metadata['key']}".upper())
    return names


__all__ = [
    "AuthConfig",
    "Config",
    "DatabaseConfig",
    "LimitsConfig",
    "LogConfig",
    "MsgChannelConfig",
    "MysqlConfig",
    "ServerConfig",
    "SqliteConfig",
    "StaticPathConfig",
    "WebrtcConfig",
    "env_names",
    "load_config",
]
