"""Clock, randomness and password hashing for production use."""

from __future__ import annotations

import secrets
import time
import uuid

from argon2 import PasswordHasher as Argon2
from argon2.exceptions import InvalidHashError, VerificationError


class SystemClock:
    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000


class SystemRandomness:
    def new_id(self) -> str:
        return str(uuid.uuid4())

    def token(self) -> str:
        return secrets.token_urlsafe(32)

    def digits(self, n: int) -> str:
        return "".join(secrets.choice("0123456789") for _ in range(n))


class Argon2Hasher:
    """argon2id with the library's RFC 9106 low-memory profile (64 MiB, 3 passes)."""

    def __init__(self, *, fast_for_tests: bool = False) -> None:
        # Tests may use tiny parameters: the algorithm is the same, only the cost differs.
        self._h = Argon2(time_cost=1, memory_cost=8, parallelism=1) if fast_for_tests else Argon2()

    def hash(self, password: str) -> str:
        return self._h.hash(password)

    def verify(self, hashed: str, password: str) -> bool:
        try:
            return self._h.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, hashed: str) -> bool:
        return self._h.check_needs_rehash(hashed)


class SystemKeyGen:
    """Seeds for custodial wallets from the operating system's CSPRNG."""

    def new_seed(self) -> bytes:
        return secrets.token_bytes(32)
