"""Presence in the database: when each user was last seen, and who sees whose presence.

A store of its own beside :class:`~chat_trio.storage.sql.SqlStore` (it borrows
its engine, schema and worker-thread limiter), so presence stays out of the
message path's interface. Every call may raise StorageError.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from sqlalchemy import Connection, case, func, insert, select, union, update
from sqlalchemy.exc import IntegrityError

from chat_trio.storage.sql import SqlStore

__all__ = ["PAGE", "PresenceStore"]

#: Users whose audiences one query reads.
PAGE = 100


class PresenceStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    async def set_last_seen(self, user_uuid: str, at_ms: int) -> None:
        """Record that ``user_uuid``'s last live session ended at ``at_ms``."""
        await self.set_last_seen_many({user_uuid: at_ms})

    async def set_last_seen_many(self, seen_at: Mapping[str, int]) -> None:
        """:meth:`set_last_seen` for several users, in one transaction (a node's
        users all leave at once when it stops or loses its network). A time older
        than the one stored changes nothing: two nodes whose last sessions of a
        user ended close together may write in either order."""
        if not seen_at:
            return
        s = self._store.schema
        u, seen = s.users, s.last_seen
        engine = self._store.engine

        def write(conn: Connection, ids: dict[str, int]) -> list[str]:
            """Update the rows there are; returns the users that have none yet."""
            missing = []
            for uuid, user_id in ids.items():
                at = seen_at[uuid]
                later = case((seen.c.seen_at < at, at), else_=seen.c.seen_at)
                changed = conn.execute(
                    update(seen).where(seen.c.user_id == user_id).values(seen_at=later)
                ).rowcount
                if not changed:
                    missing.append(uuid)
            return missing

        def run() -> None:
            for attempt in (1, 2):
                try:
                    with engine.begin() as conn:
                        rows = conn.execute(
                            select(u.c.uuid, u.c.id).where(u.c.uuid.in_(sorted(seen_at)))
                        ).all()
                        ids = {str(row[0]): int(row[1]) for row in rows}
                        missing = write(conn, ids)
                        if missing:
                            conn.execute(
                                insert(seen),
                                [{"user_id": ids[m], "seen_at": seen_at[m]} for m in missing],
                            )
                    return
                except IntegrityError:
                    if attempt == 2:
                        raise
                    # another node wrote a first row meanwhile: now they all update

        await self._store._run(run)

    async def last_seen(self, user_uuids: Collection[str]) -> dict[str, int]:
        """``uuid -> last seen`` (ms) for those of ``user_uuids`` that have one."""
        if not user_uuids:
            return {}
        s = self._store.schema
        u, seen = s.users, s.last_seen
        engine = self._store.engine
        wanted = sorted(set(user_uuids))

        def run() -> dict[str, int]:
            found: dict[str, int] = {}
            with engine.connect() as conn:
                for start in range(0, len(wanted), 500):
                    rows = conn.execute(
                        select(u.c.uuid, seen.c.seen_at)
                        .join(seen, seen.c.user_id == u.c.id)
                        .where(u.c.uuid.in_(wanted[start : start + 500]))
                    ).all()
                    found.update({row[0]: int(row[1]) for row in rows})
            return found

        return await self._store._run(run)

    async def audience(self, user_uuid: str, *, max_group: int) -> list[str]:
        """Who sees ``user_uuid``'s presence: its friends (a friendship row either
        way) and its co-members in groups of at most ``max_group`` members,
        without the user itself. The relation is symmetric, so this is also whose
        presence the user sees."""
        return (await self.audiences([user_uuid], max_group=max_group)).get(user_uuid, [])

    async def audiences(
        self, user_uuids: Collection[str], *, max_group: int
    ) -> dict[str, list[str]]:
        """:meth:`audience` of several users, one query per :data:`PAGE` of them (a
        node's users all arrive at once when it starts), each in its own turn of a
        worker thread so that the store writer's transactions go on in between."""
        s = self._store.schema
        u, f, gm, other = s.users, s.user_friends, s.group_members, s.group_members.alias()
        viewer = s.users.alias()
        engine = self._store.engine
        wanted = sorted(set(user_uuids))

        def page(conn: Connection, uuids: list[str]) -> dict[str, list[str]]:
            ids = dict(conn.execute(select(u.c.id, u.c.uuid).where(u.c.uuid.in_(uuids))).all())
            if not ids:
                return {}
            mine = list(ids)
            small = (
                select(gm.c.group_id)
                .where(gm.c.group_id.in_(select(gm.c.group_id).where(gm.c.user_id.in_(mine))))
                .group_by(gm.c.group_id)
                .having(func.count() <= max_group)
            )
            pairs = union(
                select(f.c.user_id.label("who"), f.c.friend_id.label("id"))
                .where(f.c.user_id.in_(mine)),
                select(f.c.friend_id.label("who"), f.c.user_id.label("id"))
                .where(f.c.friend_id.in_(mine)),
                select(gm.c.user_id.label("who"), other.c.user_id.label("id"))
                .join(other, other.c.group_id == gm.c.group_id)
                .where(gm.c.user_id.in_(mine), gm.c.group_id.in_(small)),
            ).subquery()
            rows = conn.execute(
                select(pairs.c.who, viewer.c.uuid)
                .join(viewer, viewer.c.id == pairs.c.id)
                .where(pairs.c.who != pairs.c.id)
            ).all()
            found: dict[str, list[str]] = {uuid: [] for uuid in ids.values()}
            for who, uuid in rows:
                found[ids[who]].append(str(uuid))
            return {uuid: sorted(seen) for uuid, seen in found.items()}

        def run(uuids: list[str]) -> dict[str, list[str]]:
            with engine.connect() as conn:
                return page(conn, uuids)

        found: dict[str, list[str]] = {}
        for start in range(0, len(wanted), PAGE):
            found.update(await self._store._run(run, wanted[start : start + PAGE]))
        return found
