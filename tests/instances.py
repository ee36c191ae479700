"""Throwaway MariaDB and Redis servers, for the tests that stop and start their database.

A fault test that shut down the machine's shared MariaDB or Redis made every other
test running at that moment (in this run and in any other run on the machine) wait
out the outage or fail. These servers belong to one test: their own data directory,
a free loopback port, started by a fixture and stopped at its teardown, also when
the test fails. Every wait is a ping loop with a deadline, never a guessed sleep.

MariaDB is initialised with ``mariadb-install-db`` (real grant tables: root with an
empty password, as on the shared server) and run with ``--no-defaults``, so nothing
from the machine's configuration (its port, socket or data directory) leaks in.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pymysql

from chat_trio.config import MysqlConfig

#: Longest wait, in seconds, for a server to answer a ping after it was started.
START_TIMEOUT = 60.0
#: Longest wait, in seconds, for a server process to exit after it was asked to.
STOP_TIMEOUT = 30.0
MARIADBD = "/usr/sbin/mariadbd"


def free_port() -> int:
    """A loopback port nothing listens on right now (the server binds it just after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM (a clean shutdown for both servers), then SIGKILL if it takes too long."""
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT)


class _Instance:
    """What both servers share: a process on a loopback port of its own, started (on a
    new free port the first time, on the same port after that, so clients reconnect)
    and waited for until it answers, then stopped."""

    #: The program, for messages.
    name = ""
    root: Path
    port: int
    process: subprocess.Popen[bytes] | None

    @property
    def log(self) -> Path:
        raise NotImplementedError

    def _command(self) -> list[str]:
        raise NotImplementedError

    def alive(self) -> bool:
        raise NotImplementedError

    def start(self) -> None:
        """Start it and wait until it answers. The first start retries on another
        free port when the one picked was taken meanwhile."""
        first = self.port == 0
        for _ in range(3 if first else 1):
            if first:
                self.port = free_port()
            with self.log.open("ab") as out:
                self.process = subprocess.Popen(
                    self._command(), stdout=out, stderr=subprocess.STDOUT
                )
            if self._wait_alive():
                return
        raise RuntimeError(f"{self.name} on port {self.port} did not start:\n{_tail(self.log)}")

    def stop(self) -> None:
        _stop(self.process)

    def _wait_alive(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # it exited: the port was taken, or see the log
            if self.alive():
                return True
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"{self.name} did not answer within {START_TIMEOUT:.0f} s:\n{_tail(self.log)}"
        )


@dataclass
class MariadbInstance(_Instance):
    """A ``mariadbd`` of its own: data directory ``root/data``, log ``root/error.log``."""

    root: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    name = "mariadbd"

    @property
    def log(self) -> Path:
        return self.root / "error.log"

    def config(self, name: str = "") -> MysqlConfig:
        """How to reach it as root (empty password), optionally with database ``name``."""
        return MysqlConfig(
            host="127.0.0.1", port=self.port, user="root", password="", name=name,
            pool_size=4, timeout=5.0,
        )

    def install(self) -> None:
        install_db = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if install_db is None:
            raise RuntimeError("mariadb-install-db is missing: install mariadb-server")
        result = subprocess.run(
            [install_db, "--no-defaults", f"--datadir={self.root / 'data'}",
             "--auth-root-authentication-method=normal", "--skip-test-db",
             *self._user(), *self._small()],
            capture_output=True, text=True, timeout=120, check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed:\n{result.stdout}\n{result.stderr}")

    def _command(self) -> list[str]:
        return [
            MARIADBD, "--no-defaults", f"--datadir={self.root / 'data'}",
            f"--socket={self.root / 'sock'}", f"--pid-file={self.root / 'pid'}",
            f"--port={self.port}", "--bind-address=127.0.0.1",
            f"--log-error={self.log}", *self._user(), *self._small(),
        ]

    def alive(self) -> bool:
        try:
            pymysql.connect(
                host="127.0.0.1", port=self.port, user="root", password="", connect_timeout=2
            ).close()
        except pymysql.MySQLError:
            return False
        return True

    @staticmethod
    def _user() -> list[str]:
        # mariadbd refuses to run as root unless told to
        return ["--user=root"] if os.geteuid() == 0 else []

    @staticmethod
    def _small() -> list[str]:
        # a test database holds kilobytes: keep the files and the memory small
        return ["--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M"]


@dataclass
class RedisInstance(_Instance):
    """A ``redis-server`` of its own, in the foreground, without persistence."""

    root: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    name = "redis-server"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.root / "redis.log"

    def _command(self) -> list[str]:
        return [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(self.root),
        ]

    def alive(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False


@contextlib.contextmanager
def own_mariadb_server(root: Path) -> Iterator[MariadbInstance]:
    """An initialised, running MariaDB in ``root``; stopped and deleted on exit."""
    instance = MariadbInstance(root)
    try:
        instance.install()
        instance.start()
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(root / "data", ignore_errors=True)


@contextlib.contextmanager
def own_redis_server(root: Path) -> Iterator[RedisInstance]:
    """A running Redis in ``root``; stopped on exit."""
    instance = RedisInstance(root)
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()
