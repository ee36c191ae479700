"""Accounts: argon2id password hashes and login tokens.

Hashing is deliberately slow and memory-hungry, so it runs in worker threads
under small CapacityLimiters, one for making new hashes (registration, a new
password) and one for checking passwords (login, the old password of a
change): a burst of either cannot take every core or all the memory, and a
flood of registrations cannot make logins wait behind it.

Failed logins are counted per username and per client address, and charged
before the password is checked: a burst of parallel guesses gets at most the
bucket's size of answers, all the others 429 at once.

A login token is 32 random bytes; the database keeps only its
SHA-256, so a copy of the table hands out no logins.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
from collections import OrderedDict
from dataclasses import dataclass

import trio
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from chat_trio.config import AuthConfig, LimitsConfig
from chat_trio.errors import ProtocolError
from chat_trio.model import User
from chat_trio.ratelimit import KeyedBuckets, TokenBucket
from chat_trio.storage import Store
from chat_trio.storage.sql import now_ms

log = logging.getLogger(__name__)

#: Name of the HttpOnly cookie that carries the token for browsers.
COOKIE_NAME = "chat_trio_token"

#: Seconds a resolved token is trusted without asking the database again. A logout or a
#: password change here drops it at once; one on another node reaches this node within
#: this time.
TOKEN_CACHE_SECONDS = 30.0
_TOKEN_CACHE_SIZE = 100_000

#: Threads that may hash a new password at once, and that may check one.
HASHING_THREADS = 1
VERIFYING_THREADS = 2


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(frozen=True, slots=True)
class Login:
    user: User
    token: str


class Accounts:
    """Registers users, checks passwords, issues and resolves login tokens."""

    def __init__(
        self, store: Store, config: AuthConfig, limits: LimitsConfig | None = None
    ) -> None:
        self._store = store
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
        # token hash -> (user, trusted until): every request and handshake asks, and
        # the database answer costs a thread hop.
        self._tokens: OrderedDict[str, tuple[User, float]] = OrderedDict()
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
                retry_after=math.ceil(bucket.retry_after(now)),
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
                429, "too many failed logins; try again later", retry_after=math.ceil(wait)
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
        found = await self._store.credentials(username)
        stored_hash = found[1] if found is not None else self._dummy_hash
        if not await self.check_password(stored_hash, password) or found is None:
            log.info("failed login for %r from %s", username, address)
            raise ProtocolError(401, "wrong username or password")
        self._refund(buckets)
        return Login(found[0], await self.issue_token(found[0]))

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
            raise ProtocolError(403, "`oldPassword` is not the current password")
        self._refund(buckets)

    async def issue_token(self, user: User) -> str:
        token = new_token()
        expires = now_ms() + int(self._config.token_ttl * 1000)
        await self._store.create_login(token_hash(token), user.id, expires)
        self._trust(token_hash(token), user)
        return token

    async def user_for_token(self, token: str) -> User | None:
        if not token or len(token) > 256:
            return None
        hashed = token_hash(token)
        cached = self._tokens.get(hashed)
        if cached is not None and cached[1] > trio.current_time():
            return cached[0]
        user = await self._store.user_for_login(hashed)
        if user is None:
            self._tokens.pop(hashed, None)
        else:
            self._trust(hashed, user)
        return user

    def _trust(self, hashed: str, user: User) -> None:
        self._tokens[hashed] = (user, trio.current_time() + TOKEN_CACHE_SECONDS)
        self._tokens.move_to_end(hashed)
        if len(self._tokens) > _TOKEN_CACHE_SIZE:
            self._tokens.popitem(last=False)

    def user_changed(self, user: User) -> None:
        """A profile changed: cached logins of that user answer the new profile."""
        for hashed, (cached, until) in list(self._tokens.items()):
            if cached.id == user.id:
                self._tokens[hashed] = (user, until)

    async def logout(self, token: str) -> None:
        hashed = token_hash(token)
        self._tokens.pop(hashed, None)
        await self._store.delete_login(hashed)

    async def revoke_other_logins(self, user: User, keep_token: str) -> None:
        """End every login of ``user`` but the one whose token is ``keep_token``."""
        keep = token_hash(keep_token)
        for hashed, (cached, _until) in list(self._tokens.items()):
            if cached.id == user.id and hashed != keep:
                del self._tokens[hashed]
        await self._store.delete_other_logins(user.id, keep)
