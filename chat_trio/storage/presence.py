"""Presence in the database: when each user was last seen, and who sees whose presence.

A store of its own beside :class:`~chat_trio.storage.sql.SqlStore` (it borrows
its engine, schema and worker-thread limiter), so presence stays out of the
message path's interface. Every call may raise StorageError.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, insert, select, union, update
from sqlalchemy.exc import IntegrityError

from chat_trio.storage.sql import SqlStore

__all__ = ["PresenceStore"]


class PresenceStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    async def set_last_seen(self, user_uuid: str, at_ms: int) -> None:
        """Record that ``user_uuid``'s last live session ended at ``at_ms``."""
        s = self._store.schema
        u, seen = s.users, s.last_seen
        engine = self._store.engine

        def run() -> None:
            with engine.begin() as conn:
                user_id = conn.execute(select(u.c.id).where(u.c.uuid == user_uuid)).scalar()
                if user_id is None:
                    return
                changed = conn.execute(
                    update(seen).where(seen.c.user_id == user_id).values(seen_at=at_ms)
                ).rowcount
                if changed:
                    return
            try:
                with engine.begin() as conn:
                    conn.execute(insert(seen).values(user_id=user_id, seen_at=at_ms))
            except IntegrityError:  # another node wrote the first row meanwhile
                with engine.begin() as conn:
                    conn.execute(
                        update(seen).where(seen.c.user_id == user_id).values(seen_at=at_ms)
                    )

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
        s = self._store.schema
        u, f, gm = s.users, s.user_friends, s.group_members
        engine = self._store.engine

        def run() -> list[str]:
            with engine.connect() as conn:
                me = conn.execute(select(u.c.id).where(u.c.uuid == user_uuid)).scalar()
                if me is None:
                    return []
                mine = select(gm.c.group_id).where(gm.c.user_id == me)
                small = (
                    select(gm.c.group_id)
                    .where(gm.c.group_id.in_(mine))
                    .group_by(gm.c.group_id)
                    .having(func.count() <= max_group)
                )
                ids = union(
                    select(f.c.friend_id.label("id")).where(f.c.user_id == me),
                    select(f.c.user_id.label("id")).where(f.c.friend_id == me),
                    select(gm.c.user_id.label("id")).where(gm.c.group_id.in_(small)),
                ).subquery()
                rows = conn.execute(
                    select(u.c.uuid).where(u.c.id.in_(select(ids.c.id)), u.c.id != me)
                ).all()
            return sorted(row[0] for row in rows)

        return await self._store._run(run)
