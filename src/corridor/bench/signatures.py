"""Signature verification loops: `keys.verify` (the ledger's physical limit) and the
schemes considered in decision 0001, each over distinct keys and messages."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from typing import Any

import coincurve

from corridor.ledger import keys
from corridor.ledger.keys import KeyPair


def digest(*parts: bytes) -> bytes:
    return hashlib.sha256(b"corridor-bench:" + b":".join(parts)).digest()


def index_bytes(i: int) -> bytes:
    return i.to_bytes(8, "big")


def corridor_bip340(n: int) -> Callable[[], None]:
    """n verifications through `keys.verify`; its key cache is warmed by signing."""
    items = []
    for i in range(n):
        kp = KeyPair.from_seed(digest(b"verify-key", index_bytes(i)))
        message = digest(b"verify-message", index_bytes(i))
        items.append((kp.public_key, message, kp.sign(message)))  # sign() verifies: warm
    verify = keys.verify

    def run() -> None:
        for public_key, message, signature in items:
            if not verify(public_key, message, signature):
                raise AssertionError("a benchmark signature does not verify")

    return run


def _coincurve_bip340(n: int) -> Callable[[], None]:
    """n verifications straight on coincurve, keys parsed beforehand."""
    items = []
    for i in range(n):
        secret = digest(b"verify-key", index_bytes(i))
        message = digest(b"verify-message", index_bytes(i))
        signature = coincurve.PrivateKey(secret).sign_schnorr(message, bytes(32))
        items.append((coincurve.PublicKeyXOnly.from_secret(secret), message, signature))

    def run() -> None:
        for key, message, signature in items:
            if not key.verify(signature, message):
                raise AssertionError("a benchmark signature does not verify")

    return run


def _coincurve_ecdsa(n: int) -> Callable[[], None]:
    """n ECDSA verifications of 32-byte digests on coincurve, keys parsed beforehand."""
    items = []
    for i in range(n):
        private = coincurve.PrivateKey(digest(b"verify-key", index_bytes(i)))
        message = digest(b"verify-message", index_bytes(i))
        public = coincurve.PublicKey(private.public_key.format())
        items.append((public, message, private.sign(message, hasher=None)))

    def run() -> None:
        for key, message, signature in items:
            if not key.verify(signature, message, hasher=None):
                raise AssertionError("a benchmark signature does not verify")

    return run


def _libsodium_ed25519(n: int) -> Callable[[], None] | None:
    """n Ed25519 verifications through PyNaCl's libsodium binding; None if not installed."""
    try:
        # Imported by name: PyNaCl is an optional benchmark extra, absent from type checking.
        sodium: Any = importlib.import_module("nacl.bindings")
    except ImportError:
        return None
    items = []
    for i in range(n):
        public, secret = sodium.crypto_sign_seed_keypair(digest(b"verify-key", index_bytes(i)))
        message = digest(b"verify-message", index_bytes(i))
        signed = sodium.crypto_sign(message, secret)  # signature || message
        items.append((signed, public))
    open_signed = sodium.crypto_sign_open

    def run() -> None:
        for signed, public in items:
            open_signed(signed, public)  # raises BadSignatureError if it does not verify

    return run


VERIFY_CANDIDATES: dict[str, Callable[[int], Callable[[], None] | None]] = {
    "secp256k1_bip340_coincurve": _coincurve_bip340,
    "ed25519_libsodium": _libsodium_ed25519,
    "ecdsa_secp256k1_coincurve": _coincurve_ecdsa,
}


