"""Wires the server's parts into one tree of tasks and owns its shutdown.

::

    serve()                        root nursery
    ├── hub.run                    routes frames to sessions
    ├── bus.run                    other nodes: their frames in, ours out, presence
    ├── writer.run                 stores chat messages in batches, then hands them on
    ├── presence.run               last seen, and presence frames to friends and groups
    └── FrontDoor.serve            the one port (transport/frontdoor.py)
        ├── hypercorn lifespan     quart-trio startup/shutdown (app.nursery)
        └── one task per connection: reads each request head, then either
            ├── /socket.io upgrade -> api/socket.py: token check, 101, then
            │   one Session nursery: reader + writer (session.py) over a
            │   WebSocket that owns its socket (transport/websocket.py)
            └── anything else -> hypercorn's HTTP/1.1 protocol (HTTP API,
                uploads, web client); a later upgrade on the same connection
                is handed to api/socket.py once hypercorn has answered

The WebSocket does not go through hypercorn: the hub's synchronous
``deliver()`` writes a frame straight to the client's socket when the socket can
take it, and the session's writer task only handles a backlog. See
docs/performance.md for why and for the measurements.

Start order: storage (tables created if missing), the hub, the bus, the writer, presence, then the
listener, so no request can arrive before what it needs is running. On shutdown
the listener stops first, sessions are closed with code 1001 and connections get
``gracefulTimeout`` seconds, then the hub and writer are cancelled and storage is
closed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Callable

import trio
from hypercorn.config import Config as HypercornConfig

from chat_trio.api import create_app
from chat_trio.api.socket import SocketEndpoint
from chat_trio.auth import Accounts
from chat_trio.bus import open_bus
from chat_trio.config import Config
from chat_trio.directory import Directory
from chat_trio.files import FileStore
from chat_trio.hub import Hub
from chat_trio.intake import Intake
from chat_trio.metrics import Metrics
from chat_trio.presence import Presence
from chat_trio.readstate import ReadState
from chat_trio.services import Services
from chat_trio.storage import open_storage
from chat_trio.storage.presence import PresenceStore
from chat_trio.transport import FrontDoor
from chat_trio.writer import StoreWriter

log = logging.getLogger(__name__)


def hypercorn_config(config: Config) -> HypercornConfig:
    hc = HypercornConfig()
    hc.bind = [f"{config.server.host}:{config.server.port}"]
    hc.backlog = 1024
    hc.accesslog = None
    hc.errorlog = logging.getLogger("hypercorn.error")
    hc.graceful_timeout = config.server.graceful_timeout
    # The front door runs the keep-alive timer with this (transport/frontdoor.py).
    hc.keep_alive_timeout = config.server.keep_alive_timeout
    return hc


def single_node(config: Config) -> bool:
    """Whether this server is the only node: an SQLite file (one machine, one
    writer) and no bus to other nodes."""
    return config.database.backend == "sqlite" and config.msg_channel.channel_type != "redis"


async def serve(
    config: Config,
    *,
    shutdown_trigger: Callable[..., Awaitable[None]] | None = None,
    task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run the server until ``shutdown_trigger`` returns (or forever).

    Reports the base URL it listens on through ``task_status``, so callers can
    ``url = await nursery.start(serve, config)`` with port 0.
    """
    async with open_storage(config) as store, trio.open_nursery() as nursery:
        files = FileStore(
            config.static_path.file_path,
            config.limits.max_upload_bytes,
            ledger=store,
            uploads_per_minute=config.limits.uploads_per_minute,
            quota_bytes=config.limits.upload_quota_bytes,
        )
        files.ensure_root()
        stale = await trio.to_thread.run_sync(files.remove_stale_parts)
        if stale:
            log.info("removed %d part files of uploads that never finished", stale)
        hub = Hub()
        bus = open_bus(config, hub.inbox, local_users=hub.online_users)
        hub.calls.publish = bus.publish_signal
        presence = Presence(
            PresenceStore(store), hub.inbox, bus,
            online_anywhere=lambda uuid: hub.is_online(uuid) or bus.nodes_elsewhere(uuid) > 0,
            online_elsewhere=lambda uuid: bus.nodes_elsewhere(uuid) > 0,
        )

        def presence_changed(user_uuid: str, online: bool) -> None:
            bus.presence_changed(user_uuid, online)
            presence.changed(user_uuid, online)

        hub.on_presence = presence_changed
        metrics = Metrics()
        metrics.watch_hub(hub.statistics)
        metrics.watch_bus(bus.statistics)
        writer = StoreWriter(store, hub.inbox, metrics=metrics, bus=bus)
        directory = Directory(store)
        accounts = Accounts(store, config.auth, config.limits, directory=directory)
        reads = ReadState(store, directory, hub.inbox, bus)
        if single_node(config):
            # Every logout and password change happens here, and each drops its
            # tokens from the cache at once: no need to ask the database again.
            accounts.trust_seconds = math.inf
        # A login ended on any node ends on every node: its cache entry and sessions.
        accounts.on_revoked = bus.publish_revocation
        bus.on_revocation = accounts.forget
        bus.on_block_change = lambda uuids: directory.blocks.forget(*uuids)
        services = Services(
            config=config,
            store=store,
            accounts=accounts,
            directory=directory,
            files=files,
            hub=hub,
            writer=writer,
            intake=Intake(
                store=store,
                directory=directory,
                files=files,
                limits=config.limits,
                hub_inbox=hub.inbox,
                persist=writer.queue,
                metrics=metrics,
                bus=bus,
                is_online=lambda uuid: hub.is_online(uuid) or bus.nodes_elsewhere(uuid) > 0,
                call_peer=hub.calls.readdress,
                reads=reads,
            ),
            metrics=metrics,
            bus=bus,
            presence=presence,
            reads=reads,
        )
        await nursery.start(hub.run)
        await nursery.start(bus.run)
        await nursery.start(writer.run)
        await nursery.start(presence.run)

        async def run_http(task_status: trio.TaskStatus[list[str]]) -> None:
            front_door = FrontDoor(
                create_app(services),
                hypercorn_config(config),
                SocketEndpoint(services),
                host=config.server.host,
                port=config.server.port,
                max_connections=config.server.max_connections,
            )
            await front_door.serve(shutdown_trigger=shutdown_trigger, task_status=task_status)
            # Every session has ended: store what is still queued, then stop.
            writer.queue.close()
            with trio.move_on_after(config.server.graceful_timeout):
                await writer.finished.wait()
            nursery.cancel_scope.cancel()

        binds: list[str] = await nursery.start(run_http)
        log.info("%s listening on %s", config.app_name, binds[0])
        task_status.started(binds[0])
