"""Who exists and who is in which group, cached for the message path.

Every chat message names a recipient that must exist and, for a group, a sender
that must be a member and members to deliver to. Asking the database each time
would put a thread hop on every message, so the directory keeps what it has
looked up: users by uuid (never deleted) and each group's member set, which the
API drops when someone joins here. A join on another node is not seen here, so a
member set is also reloaded once it is ``group_ttl`` seconds old: a new member
of a busy group gets live messages from every node within that time (and all of
them by catch-up in any case).

The directory is the one holder of User records on a node: the token cache
(auth.py) keeps only whose a token is, a Session only its user's uuid and id,
and both ask here for the record. So a profile change is made known in one
place, :meth:`Directory.profile_changed`, and every request and every frame
after it (the sender fields the intake writes) carries the new profile. A
record read from the database while a profile change was being made here may
be older than that change, so it is handed to its caller but not kept.
"""

from __future__ import annotations

from dataclasses import dataclass

import trio

from chat_trio.blocks import BlockCache
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
        # Bumped when a profile change begins: a user read that it overtook is not kept.
        self._profile_changes = 0
        #: Who blocked whom (chat_trio/blocks.py), with the same freshness as groups.
        self.blocks = BlockCache(store, ttl=group_ttl)

    async def user(self, uuid: str) -> User | None:
        """The user with ``uuid``, or None. A dict hit once looked up (no checkpoint);
        otherwise read from the store. Raises: StorageError."""
        cached = self._users.get(uuid)
        if cached is not None:
            return cached
        mark = self.mark()
        found = await self._store.user_by_uuid(uuid)
        return None if found is None else self.learned(found, mark)

    def remember(self, user: User) -> None:
        """Keep a user just made (registration): no older record of it can exist."""
        if len(self._users) >= self._max_users:
            self._users.clear()
        self._users[user.uuid] = user

    def mark(self) -> int:
        """Take before reading a user from the store; hand it to :meth:`learned`."""
        return self._profile_changes

    def learned(self, user: User, mark: int) -> User:
        """A user record read from the store after ``mark`` was taken: kept and
        returned, unless a profile change here began meanwhile (the read may have
        missed it); then the directory's own record, when it has one, is returned
        instead, and the read one is not kept."""
        if mark != self._profile_changes:
            return self._users.get(user.uuid, user)
        self.remember(user)
        return user

    async def profile_changed(self, uuid: str) -> User | None:
        """Call after a change to ``uuid``'s profile is stored: the record is read
        again, and every token and session of that user answers it from now on.

        Raises:
            StorageError: then the record is not cached, and the next lookup reads it.
        """
        self._profile_changes += 1
        self._users.pop(uuid, None)
        return await self.user(uuid)

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
