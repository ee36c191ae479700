"""The command line: ``chat-trio serve | initdb | adduser | check-config | bench``.

Holds no business logic: it reads arguments and the config, sets up logging
(the only place that does), and runs the coroutine it was asked for.
"""

from __future__ import annotations

import argparse
import errno
import gc
import getpass
import logging
import os
import runpy
import signal
import sys
import uuid as uuid_lib
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import trio

from chat_trio import __version__
from chat_trio.config import Config, env_names, load_config
from chat_trio.errors import ChatTrioError, ConfigError, Conflict
from chat_trio.logs import JsonFormatter, text_formatter

log = logging.getLogger("chat_trio")

#: What a failed bind() says; such an error with no file name is the listener's.
LISTEN_ERRNOS = frozenset({errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES})

DESCRIPTION = """\
chat-trio: a self-hosted real-time chat server on Trio (go-chat compatible).

Configuration comes from config.toml (or --config PATH), and any key can be
overridden from the environment as CHAT_TRIO_<SECTION>_<KEY>, e.g.
CHAT_TRIO_SERVER_PORT=9000 or CHAT_TRIO_DATABASE_BACKEND=mysql.
"""


def configure_logging(config: Config) -> None:
    level = getattr(logging, config.log.level.upper())
    handler: logging.Handler
    if config.log.path:
        Path(config.log.path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(config.log.path, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if config.log.format == "json" else text_formatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # hypercorn logs every connection at INFO; that is noise at our INFO level.
    logging.getLogger("hypercorn.error").setLevel(max(level, logging.WARNING))


def sole_error(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception inside (nested) exception groups, or None if there are more."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    return leaves[0] if len(leaves) == 1 else None


def run_trio(fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
    """``trio.run(fn, *args)``, with a lone error unwrapped from the nurseries' groups.

    Every task tree wraps what fails inside it in an ExceptionGroup, so a start-up
    error (the database unreachable, the port taken) would reach ``main`` as a
    nested group and print as a long traceback instead of the one line it deserves.
    """
    try:
        return trio.run(fn, *args)
    except BaseExceptionGroup as group:
        error = sole_error(group)
        if error is None:
            raise
        raise error from None


def describe_os_error(exc: OSError) -> str:
    """``address already in use``, ``data/x: permission denied``: no errno number."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    reason = reason[:1].lower() + reason[1:]
    return f"{exc.filename}: {reason}" if exc.filename else reason


def _load(args: argparse.Namespace) -> Config:
    config = load_config(args.config, required=args.config is not None)
    if getattr(args, "host", None):
        config = config.replace("server", host=args.host)
    if getattr(args, "port", None) is not None:
        config = config.replace("server", port=args.port)
    return config


async def _serve(config: Config) -> None:
    from chat_trio.app import serve

    shutdown = trio.Event()

    async def watch_signals(task_status: trio.TaskStatus[None]) -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            task_status.started()
            async for signum in signals:
                log.info("received %s: shutting down", signal.Signals(signum).name)
                shutdown.set()
                return

    async with trio.open_nursery() as nursery:

        async def run_server(task_status: trio.TaskStatus[str]) -> None:
            await serve(config, shutdown_trigger=shutdown.wait, task_status=task_status)
            nursery.cancel_scope.cancel()

        await nursery.start(watch_signals)
        await nursery.start(run_server)
        # Everything made at start-up (modules, the app, the schema) lives as long as
        # the process: kept out of the cyclic collector's walks, so that a full
        # collection, which connections trigger as they open, walks only what they made.
        gc.freeze()


def cmd_serve(args: argparse.Namespace) -> int:
    config = _load(args)
    configure_logging(config)
    try:
        run_trio(_serve, config)
    except OSError as exc:
        if exc.filename is None and exc.errno in LISTEN_ERRNOS:
            host, port = config.server.host, config.server.port
            where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            raise ChatTrioError(f"cannot listen on {where}: {describe_os_error(exc)}") from None
        raise
    return 0


async def _initdb(config: Config) -> int:
    from chat_trio.storage import open_storage

    async with open_storage(config) as store:
        version = await store.schema_version()
    print(f"{config.database.backend} database ready, schema version {version}")
    return 0


def cmd_initdb(args: argparse.Namespace) -> int:
    config = _load(args)
    configure_logging(config)
    code: int = run_trio(_initdb, config)
    return code


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ChatTrioError("the passwords differ")
    return first


async def _adduser(config: Config, username: str, password: str, nickname: str, email: str) -> int:
    from chat_trio.api.users import MIN_PASSWORD, USERNAME
    from chat_trio.auth import Accounts
    from chat_trio.storage import open_storage

    if not USERNAME.match(username):
        raise ChatTrioError("username must be 1-64 letters, digits or . _ - @")
    if len(password) < MIN_PASSWORD:
        raise ChatTrioError(f"password must have at least {MIN_PASSWORD} characters")
    async with open_storage(config) as store:
        accounts = Accounts(store, config.auth)
        try:
            user = await store.create_user(
                uuid=str(uuid_lib.uuid4()),
                username=username,
                password_hash=await accounts.hash_password(password),
                nickname=nickname or username,
                email=email,
            )
        except Conflict:
            raise ChatTrioError(f"user {username!r} exists already") from None
    print(f"added {user.username} ({user.uuid})")
    return 0


def cmd_adduser(args: argparse.Namespace) -> int:
    config = _load(args)
    configure_logging(config)
    password = _read_password(args)
    code: int = run_trio(_adduser, config, args.username, password, args.nickname, args.email)
    return code


def cmd_check_config(args: argparse.Namespace) -> int:
    config = _load(args)
    print(f"config OK: {config.database.backend} database, "
          f"listening on {config.server.host}:{config.server.port}")
    return 0


def run_bench(bench_args: Sequence[str]) -> int:
    """Run benchmarks/bench.py of this source checkout with ``bench_args``."""
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "bench.py"
    if not script.is_file():
        print("chat-trio: bench needs a source checkout (benchmarks/bench.py)", file=sys.stderr)
        return 2
    sys.argv = [str(script), *bench_args]
    runpy.run_path(str(script), run_name="__main__")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chat-trio",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="environment overrides: " + ", ".join(env_names()),
    )
    parser.add_argument("--version", action="version", version=f"chat-trio {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--config", metavar="PATH", default=None,
            help="config file (default ./config.toml; missing means all defaults)",
        )
        return sub

    serve = add("serve", "run the chat server (creates the SQLite database on first start)")
    serve.add_argument("--host", help="address to listen on (overrides [server] host)")
    serve.add_argument("--port", type=int, help="port to listen on (overrides [server] port)")
    serve.set_defaults(func=cmd_serve)

    add("initdb", "create the database tables (either backend) and report the schema version")\
        .set_defaults(func=cmd_initdb)

    adduser = add("adduser", "add a user account (the password is asked, never an argument)")
    adduser.add_argument("username")
    adduser.add_argument("--nickname", default="", help="shown name (default: the username)")
    adduser.add_argument("--email", default="", help="the account's e-mail address")
    adduser.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    adduser.set_defaults(func=cmd_adduser)

    add("check-config", "read and validate the configuration, then exit")\
        .set_defaults(func=cmd_check_config)

    bench = commands.add_parser(
        "bench", add_help=False,
        help="benchmark against the relay peers (benchmarks/bench.py; --help for its options)",
    )
    # Listed for --help only: main() hands "bench ..." to run_bench before parsing.
    bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # every option after it belongs to the benchmark script
        return run_bench(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"chat-trio: bad config: {exc}", file=sys.stderr)
        return 2
    except ChatTrioError as exc:
        print(f"chat-trio: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"chat-trio: {describe_os_error(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return code
