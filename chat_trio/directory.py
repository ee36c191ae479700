"""Who exists and who is in which group, cached for the message path.

Every chat message names a recipient that must exist and, for a group, a sender
that must be a member and members to deliver to. Asking the database each time
would put a thread hop on every message, so the directory keeps what it has
looked up: users by uuid (never deleted) and each group's member set, which the
API drops when someone joins here. A join on another node is not seen here, so a
member set is also reloaded once it is ``group_ttl`` seconds old: a new member
of a busy group gets live messages from every node within that time (and all of
them by catch-up in any case).
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from chat_trio.model import Group, User
from chat_trio.storage import Store


@dataclass(frozen=True, slots=True)
class GroupView:
    group: Group
    #: For "is this user a member?"
    member_uuids: frozenset[str]
    #: The same members, ready to hand on as a message's recipients.
    members: tuple[str, ...]
    loaded_at: float = 0.0


class Directory:
    def __init__(
        self, store: Store, *, max_users: int = 100_000, group_ttl: float = 5.0
    ) -> None:
        self._store = store
        self._group_ttl = group_ttl
        self._users: dict[str, User] = {}
        self._groups: dict[str, GroupView] = {}
        self._generation: dict[str, int] = {}
        self._max_users = max_users

    async def user(self, uuid: str) -> User | None:
        cached = self._users.get(uuid)
        if cached is not None:
            return cached
        found = await self._store.user_by_uuid(uuid)
        if found is not None:
            self.remember(found)
        return found

    def remember(self, user: User) -> None:
        """Keep (or refresh, after a profile change) a user."""
        if len(self._users) >= self._max_users:
            self._users.clear()
        self._users[user.uuid] = user

    async def group(self, uuid: str) -> GroupView | None:
        cached = self._groups.get(uuid)
        now = trio.current_time()
        if cached is not None and now - cached.loaded_at < self._group_ttl:
            return cached
        generation = self._generation.get(uuid, 0)
        group = await self._store.group_by_uuid(uuid)
        if group is None:
            return None
        members = await self._store.group_members(group.id)
        uuids = tuple(m.uuid for m in members)
        view = GroupView(group, frozenset(uuids), uuids, loaded_at=now)
        # A join while we were reading may be missing from `members`: keep the
        # answer for this caller but do not cache it.
        if self._generation.get(uuid, 0) == generation:
            self._groups[uuid] = view
        return view

    def forget_group(self, uuid: str) -> None:
        """Drop a group's cached members (someone joined or left)."""
        self._generation[uuid] = self._generation.get(uuid, 0) + 1
        self._groups.pop(uuid, None)
