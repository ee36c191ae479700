"""The parts a running server is made of, handed to the API and the sessions.

Built once by app.py; there are no module-level singletons, so tests can run
several servers in one process.
"""

from __future__ import annotations

from dataclasses import dataclass

from chat_trio.auth import Accounts
from chat_trio.bus import Bus
from chat_trio.config import Config
from chat_trio.directory import Directory
from chat_trio.files import FileStore
from chat_trio.hub import Hub
from chat_trio.intake import Intake
from chat_trio.metrics import Metrics
from chat_trio.presence import Presence
from chat_trio.readstate import ReadState
from chat_trio.storage import Store
from chat_trio.writer import StoreWriter


@dataclass(frozen=True)
class Services:
    config: Config
    store: Store
    accounts: Accounts
    directory: Directory
    files: FileStore
    hub: Hub
    writer: StoreWriter
    intake: Intake
    metrics: Metrics
    bus: Bus
    presence: Presence
    reads: ReadState
