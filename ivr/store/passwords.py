"""Staff passwords: argon2id hashes (argon2-cffi), verified off the event loop.

`Passwords.verify` answers whether a password matches and, when the stored hash was made with
weaker parameters than today's, the new hash to store (rehash on need). `Passwords.check_unknown`
spends the same work on a log-in id that does not exist, so the answer's timing does not tell
whether an id exists. Hashing takes tens of milliseconds of CPU and 64 MiB: it runs in a worker
thread, at most `concurrency` at a time, so a burst of log-ins never stalls the calls sharing the
event loop.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MAX_PASSWORD_CHARS = 256
MIN_PASSWORD_CHARS = 10


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    # set when the password matched a hash made with outdated parameters: store this one
    new_hash: str | None = None


class Passwords:
    """argon2id with argon2-cffi's default parameters (RFC 9106's low-memory profile), or
    cheaper ones given by tests (`Passwords.for_tests`)."""

    def __init__(self, hasher: PasswordHasher | None = None, *, concurrency: int = 1) -> None:
        self.hasher = hasher or PasswordHasher()
        self._slots = asyncio.Semaphore(concurrency)
        # a real hash of a random password: what an unknown id is checked against (made at the
        # first unknown id, so that the CLI's one hash costs one hash)
        self._dummy: str | None = None

    @classmethod
    def for_tests(cls) -> Passwords:
        return cls(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))

    def hash_now(self, password: str) -> str:
        """The hash of `password`, on the calling thread (the CLI; not on the event loop)."""
        return self.hasher.hash(password)

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self.hasher.hash, password)

    def verify_now(self, stored_hash: str, password: str) -> Verdict:
        try:
            self.hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return Verdict(False)
        if self.hasher.check_needs_rehash(stored_hash):
            return Verdict(True, self.hasher.hash(password))
        return Verdict(True)

    async def verify(self, stored_hash: str, password: str) -> Verdict:
        async with self._slots:
            return await asyncio.to_thread(self.verify_now, stored_hash, password)

    async def check_unknown(self, password: str) -> Verdict:
        """The work of a real verification, always failing (an unknown or disabled log-in)."""
        if self._dummy is None:
            self._dummy = await self.hash(secrets.token_urlsafe(24))
        await self.verify(self._dummy, password)
        return Verdict(False)


def password_problem(password: str) -> str | None:
    """Why `password` cannot be a staff password, or None when it can."""
    if len(password) < MIN_PASSWORD_CHARS:
        return f"a password has at least {MIN_PASSWORD_CHARS} characters"
    if len(password) > MAX_PASSWORD_CHARS:
        return f"a password has at most {MAX_PASSWORD_CHARS} characters"
    return None
