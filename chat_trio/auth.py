"""Accounts: argon2id password hashes, login tokens, and the logins' live sessions.

Hashing is deliberately slow and memory-hungry, so it runs in worker threads
under small CapacityLimiters, one for making new hashes (registration, a new
password) and one for checking passwords (login, the old password of a
change): a burst of either cannot take every core or all the memory, and a
flood of registrations cannot make logins wait behind it.

A login token is 32 random bytes; the database keeps only its SHA-256, so a
copy of the table hands out no logins. A node caches the tokens it checked for
up to TOKEN_CACHE_SECONDS, never past the token's own expiry. The cache keeps
whose a token is (the user's id and uuid), not the user's profile: that is the
directory's (directory.py), so a profile change shows in every login at once.

Ending a login (a logout, a password change ending the other logins) drops it
from the cache, closes the WebSocket sessions opened with it
(:class:`LiveLogins`) and is handed to ``on_revoked`` (the bus), which tells the
other nodes to do the same.

Failed logins are counted per username and per client address, and charged
before the password is checked: a burst of parallel guesses gets at most the
bucket's size of answers, all the others 429 at once.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import trio
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from werkzeug.http import parse_cookie

from chat_trio.bus.base import Revocation
from chat_trio.config import AuthConfig, LimitsConfig
from chat_trio.directory import Directory
from chat_trio.errors import ProtocolError
from chat_trio.model import User
from chat_trio.ratelimit import KeyedBuckets, TokenBucket
from chat_trio.storage import Store
from chat_trio.storage.sql import now_ms

log = logging.getLogger(__name__)

#: Name of the HttpOnly cookie that carries the token for browsers.
COOKIE_NAME = "chat_trio_token"

#: Seconds a resolved token is trusted without asking the database again (never past
#: the token's expiry). A revocation drops it at once here and, through the bus, on
#: every node it reaches; this is how long a node the bus could not reach trusts it.
TOKEN_CACHE_SECONDS = 30.0
_TOKEN_CACHE_SIZE = 100_000

#: Threads that may hash a new password at once, and that may check one.
HASHING_THREADS = 1
VERIFYING_THREADS = 2


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def carried_token(authorization: str, cookie_header: str, query_token: str = "") -> str:
    """The login token a request carries, or "": ``Authorization: Bearer``, then the
    session cookie, then ``query_token`` (``?token=``, which only the WebSocket
    handshake passes: a browser cannot set headers on it).

    Args:
        authorization: the Authorization header ("" when absent).
        cookie_header: the Cookie header, several joined with "; " ("" when absent).
        query_token: the ``token`` query argument, where one is accepted.
    """
    if authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    cookie = parse_cookie(cookie_header).get(COOKIE_NAME, "")
    return cookie or query_token


@dataclass(frozen=True, slots=True)
class Login:
    user: User
    token: str


@dataclass(frozen=True, slots=True)
class CheckedToken:
    """A token that is valid now: whose it is, its hash, and when it expires."""

    user: User
    token_hash: str
    #: Wall-clock epoch milliseconds.
    expires_at_ms: int

    def seconds_left(self) -> float:
        return max(0.0, (self.expires_at_ms - now_ms()) / 1000)


@dataclass(frozen=True, slots=True)
class _Cached:
    user_id: int
    user_uuid: str
    trusted_until: float  # trio clock
    expires_at_ms: int  # wall clock


@dataclass(eq=False, slots=True)
class LoginWatch:
    """One live session's login. When the login is revoked, ``reason`` is set and
    ``on_end`` (the session's close) is called, once and synchronously: a plain
    callback, so a live session costs no task, event or nursery for it."""

    user_id: int
    token_hash: str
    live: LiveLogins
    reason: str = ""
    on_end: Callable[[str], None] | None = None

    @property
    def ended(self) -> bool:
        return bool(self.reason)

    def __enter__(self) -> LoginWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.live._unwatch(self)

    def end(self, reason: str) -> None:
        if self.reason:
            return
        self.reason = reason
        if self.on_end is not None:
            self.on_end(reason)


_K = TypeVar("_K", int, str)


def _discard(index: dict[_K, list[LoginWatch]], key: _K, watch: LoginWatch) -> None:
    held = index.get(key)
    if held is not None:
        held.remove(watch)
        if not held:
            del index[key]


class LiveLogins:
    """Which live sessions were opened with which login, so that ending a login
    ends them too. Synchronous: revocations arrive from requests and the bus.

    Lists, not sets: a user holds a few sessions at most (``sessionsPerUser``) and
    a token usually one, and every live session pays for its entries."""

    def __init__(self) -> None:
        self._by_user: dict[int, list[LoginWatch]] = {}
        self._by_hash: dict[str, list[LoginWatch]] = {}

    def watch(self, user_id: int, hashed: str) -> LoginWatch:
        """Watch a login; use the answer as a context manager, which stops watching
        when the ``with`` block (the session) ends."""
        watch = LoginWatch(user_id, hashed, live=self)
        self._by_user.setdefault(user_id, []).append(watch)
        self._by_hash.setdefault(hashed, []).append(watch)
        return watch

    def _unwatch(self, watch: LoginWatch) -> None:
        _discard(self._by_user, watch.user_id, watch)
        _discard(self._by_hash, watch.token_hash, watch)

    def end(self, revocation: Revocation, reason: str) -> int:
        """End the watched sessions ``revocation`` names; returns how many."""
        ended = 0
        for watch in tuple(self._by_hash.get(revocation.token_hash, ())):
            watch.end(reason)
            ended += 1
        if revocation.user_id:
            for watch in tuple(self._by_user.get(revocation.user_id, ())):
                if watch.token_hash != revocation.keep_hash:
                    watch.end(reason)
                    ended += 1
        return ended

    def __len__(self) -> int:
        return sum(len(held) for held in self._by_user.values())


class Accounts:
    """Registers users, checks passwords, issues, resolves and revokes login tokens."""

    def __init__(
        self,
        store: Store,
        config: AuthConfig,
        limits: LimitsConfig | None = None,
        *,
        directory: Directory | None = None,
    ) -> None:
        self._store = store
        #: Where a token's user is looked up: the server's one directory (app.py).
        self._directory = directory if directory is not None else Directory(store)
        self._config = config
        limits = limits or LimitsConfig()
        # Failed logins, per username and per client address: a brute force on one
        # account, or one address trying many accounts, runs dry in minutes.
        per_user = limits.login_failures_per_minute
        per_address = limits.login_failures_per_minute_per_address
        self._failures_by_user = KeyedBuckets(per_user / 60, per_user)
        self._failures_by_address = KeyedBuckets(per_address / 60, per_address)
        per_hour = limits.registrations_per_hour_per_address
        self._registrations_by_address = KeyedBuckets(per_hour / 3600, per_hour)
        # token hash -> whose it is, how long it is trusted, when it expires: every
        # request and handshake asks, and the database answer costs a thread hop.
        self._tokens: OrderedDict[str, _Cached] = OrderedDict()
        #: How long a checked or issued token is trusted without asking the database
        #: again (never past its expiry). TOKEN_CACHE_SECONDS bounds what another node's
        #: revocation can miss while the bus is away; a server that is the only node
        #: sees every revocation itself, and app.py trusts for the token's whole life.
        self.trust_seconds = TOKEN_CACHE_SECONDS
        # Bumped by every revocation: a lookup that a revocation overtook is not cached.
        self._generation = 0
        self._hasher = PasswordHasher(
            time_cost=config.argon2_time_cost,
            memory_cost=config.argon2_memory_kib,
            parallelism=config.argon2_parallelism,
            type=Type.ID,
        )
        #: Threads for new hashes (registration, a new password).
        self.hashing = trio.CapacityLimiter(HASHING_THREADS)
        #: Threads for checking passwords (login, the old password of a change).
        self.verifying = trio.CapacityLimiter(VERIFYING_THREADS)
        #: The live sessions of each login (api/socket.py watches them).
        self.live = LiveLogins()
        #: Told every revocation made here (the bus carries it to the other nodes).
        self.on_revoked: Callable[[Revocation], None] | None = None
        # Verified against when the username does not exist, so that a wrong
        # username and a wrong password take the same time.
        self._dummy_hash = self._hasher.hash(secrets.token_hex(8))

    # -- passwords -----------------------------------------------------------------

    async def hash_password(self, password: str) -> str:
        return await trio.to_thread.run_sync(self._hasher.hash, password, limiter=self.hashing)

    async def check_password(self, stored_hash: str, password: str) -> bool:
        def verify() -> bool:
            try:
                return self._hasher.verify(stored_hash, password)
            except (VerificationError, InvalidHashError):
                return False

        return await trio.to_thread.run_sync(verify, limiter=self.verifying)

    def charge_registration(self, address: str) -> None:
        """Count one registration from ``address``.

        Raises:
            ProtocolError: 429 with ``retry_after`` once the address registered
                ``registrationsPerHourPerAddress`` accounts within the hour.
        """
        now = trio.current_time()
        bucket = self._registrations_by_address.bucket(address, now)
        if not bucket.take(now):
            log.warning("registrations from %s refused: over the hourly limit", address)
            raise ProtocolError(
                429, "too many new accounts from this address; try again later",
                retry_after=math.ceil(bucket.retry_after(now)), key="too_many_registrations",
            )

    def _charge_attempt(self, username: str, address: str) -> tuple[TokenBucket, ...]:
        """Spend one failure from the username's and the address's bucket, before
        the password is checked (refunded when it is right).

        Raises:
            ProtocolError: 429 when either bucket is empty (nothing is spent then).
        """
        now = trio.current_time()
        buckets = (
            self._failures_by_user.bucket(username.casefold(), now),
            self._failures_by_address.bucket(address, now),
        )
        if not all(b.available(now) for b in buckets):
            wait = max(b.retry_after(now) for b in buckets)
            log.info("login attempt for %r from %s refused: too many failures", username, address)
            raise ProtocolError(
                429, "too many failed logins; try again later", retry_after=math.ceil(wait),
                key="too_many_logins",
            )
        for bucket in buckets:
            bucket.take(now)
        return buckets

    @staticmethod
    def _refund(buckets: tuple[TokenBucket, ...]) -> None:
        now = trio.current_time()
        for bucket in buckets:
            bucket.refund(now)

    async def login(self, username: str, password: str, address: str = "") -> Login:
        """Check the password and issue a token.

        Raises:
            ProtocolError: 401 for an unknown user or a wrong password (one message
                for both, so the answer does not tell which usernames exist); 429 with
                ``retry_after`` once the username or the address failed too often.
        """
        buckets = self._charge_attempt(username, address)
        mark = self._directory.mark()
        found = await self._store.credentials(username)
        stored_hash = found[1] if found is not None else self._dummy_hash
        if not await self.check_password(stored_hash, password) or found is None:
            log.info("failed login for %r from %s", username, address)
            raise ProtocolError(401, "wrong username or password", key="wrong_credentials")
        self._refund(buckets)
        user = self._directory.learned(found[0], mark)
        return Login(user, await self.issue_token(user))

    async def confirm_password(self, user: User, password: str, address: str = "") -> None:
        """Check ``user``'s current password (before it is changed); a wrong one
        counts as a failed login.

        Raises:
            ProtocolError: 403 for a wrong password; 429 as :meth:`login`.
        """
        buckets = self._charge_attempt(user.username, address)
        found = await self._store.credentials(user.username)
        stored_hash = found[1] if found is not None else self._dummy_hash
        right = await self.check_password(stored_hash, password)
        if not right or found is None or found[0].id != user.id:
            log.info("wrong current password for %r from %s", user.username, address)
            raise ProtocolError(
                403, "`oldPassword` is not the current password", key="wrong_old_password"
            )
        self._refund(buckets)

    # -- tokens ----------------------------------------------------------------------

    async def issue_token(self, user: User) -> str:
        token = new_token()
        expires = now_ms() + int(self._config.token_ttl * 1000)
        await self._store.create_login(token_hash(token), user.id, expires)
        self._trust(token_hash(token), user, expires)
        return token

    async def user_for_token(self, token: str) -> User | None:
        checked = await self.check_token(token)
        return None if checked is None else checked.user

    async def check_token(self, token: str) -> CheckedToken | None:
        """The token's user and expiry, or None for a token that is unknown, revoked
        or expired."""
        if not token or len(token) > 256:
            return None
        hashed = token_hash(token)
        cached = self._tokens.get(hashed)
        if cached is not None:
            if cached.trusted_until > trio.current_time() and cached.expires_at_ms > now_ms():
                known = await self._directory.user(cached.user_uuid)  # a dict hit, mostly
                if known is not None and hashed in self._tokens:  # not revoked meanwhile
                    return CheckedToken(known, hashed, cached.expires_at_ms)
            self._tokens.pop(hashed, None)
        generation = self._generation
        mark = self._directory.mark()
        found = await self._store.user_for_login(hashed)
        if found is None:
            self._tokens.pop(hashed, None)
            return None
        # The database's answer is the freshest profile: the directory keeps it
        # (how a change made on another node reaches this one).
        user, expires = self._directory.learned(found[0], mark), found[1]
        if generation == self._generation:
            self._trust(hashed, user, expires)
        return CheckedToken(user, hashed, expires)

    async def check_session_token(self, token: str) -> CheckedToken | None:
        """:meth:`check_token` for a session that will watch its login: a check that
        a revocation overtook (the token is no longer cached) is made again.
        Start watching (``self.live.watch``) right after, with no checkpoint in
        between, so that no revocation can fall between the check and the watch.

        Raises:
            ProtocolError: 503 when revocations kept overtaking the check.
        """
        for _ in range(3):
            checked = await self.check_token(token)
            if checked is None or checked.token_hash in self._tokens:
                return checked
        raise ProtocolError(503, "logins are changing right now; try again")

    def _trust(self, hashed: str, user: User, expires_at_ms: int) -> None:
        self._tokens[hashed] = _Cached(
            user.id, user.uuid, trio.current_time() + self.trust_seconds, expires_at_ms
        )
        self._tokens.move_to_end(hashed)
        if len(self._tokens) > _TOKEN_CACHE_SIZE:
            self._tokens.popitem(last=False)

    async def logout(self, token: str) -> None:
        hashed = token_hash(token)
        # A token that is not valid (unknown, expired) has no sessions anywhere:
        # nothing to tell the other nodes.
        valid = await self.check_token(token) is not None
        await self._store.delete_login(hashed)
        if valid:
            self._revoke(Revocation(token_hash=hashed))
        else:
            self._tokens.pop(hashed, None)

    async def revoke_other_logins(self, user: User, keep_token: str) -> None:
        """End every login of ``user`` but the one whose token is ``keep_token``."""
        keep = token_hash(keep_token)
        await self._store.delete_other_logins(user.id, keep)
        self._revoke(Revocation(user_id=user.id, keep_hash=keep))

    def _revoke(self, revocation: Revocation) -> None:
        self.forget(revocation)
        if self.on_revoked is not None:
            self.on_revoked(revocation)

    def forget(self, revocation: Revocation) -> None:
        """Drop the logins ``revocation`` names from the cache and end their live
        sessions here (a revocation made here, or one another node published)."""
        self._generation += 1
        if revocation.token_hash:
            self._tokens.pop(revocation.token_hash, None)
        if revocation.user_id:
            for hashed, cached in list(self._tokens.items()):
                if cached.user_id == revocation.user_id and hashed != revocation.keep_hash:
                    del self._tokens[hashed]
        ended = self.live.end(revocation, "login revoked")
        if ended:
            log.info("closing %d sessions of a revoked login", ended)
