"""Envelope encryption of secrets at rest (requirement L2).

Each secret gets its own random data key (AES-256-GCM); the data key is wrapped by a
master key that lives in a keyring file outside the database. Both layers bind the
secret's context (e.g. the owning user id) as associated data, so a sealed value copied
to another row does not open. Rotation re-wraps data keys under a new master key
without touching the data ciphertexts.

Sealed text form: ``v1.<master-id>.<b64url(nonce|wrapped-dek)>.<b64url(nonce|ciphertext)>``
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEYRING_FORMAT = "corridor-keyring-v1"
NONCE_LEN = 12
KEY_LEN = 32
MAC_KEY_INFO = b"corridor keyed hash v1"  # HKDF label: the MAC key differs from the wrap key


class VaultError(Exception):
    """A keyring or sealed value that cannot be used; the message says why."""


@dataclass(frozen=True)
class Keyring:
    active: str
    keys: dict[str, bytes]
    development: bool  # generated automatically for development: refused in production

    @staticmethod
    def load(path: Path) -> Keyring:
        try:
            doc = json.loads(path.read_text())
            assert doc["format"] == KEYRING_FORMAT
            keys = {k: base64.urlsafe_b64decode(v) for k, v in doc["keys"].items()}
            ring = Keyring(doc["active"], keys, bool(doc.get("development", False)))
        except FileNotFoundError:
            raise VaultError(f"no keyring at {path}") from None
        except (ValueError, KeyError, TypeError, AssertionError):
            raise VaultError(f"{path} is not a {KEYRING_FORMAT} keyring") from None
        if ring.active not in keys or any(len(k) != KEY_LEN for k in keys.values()):
            raise VaultError(f"{path}: the active key is missing or a key is not 32 bytes")
        return ring

    def save(self, path: Path) -> None:
        doc = {
            "format": KEYRING_FORMAT,
            "active": self.active,
            "development": self.development,
            "keys": {k: base64.urlsafe_b64encode(v).decode() for k, v in self.keys.items()},
        }
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(doc, f, indent=2)
        os.replace(tmp, path)

    @staticmethod
    def generate(*, development: bool) -> Keyring:
        kid = "k" + secrets.token_hex(4)
        return Keyring(kid, {kid: AESGCM.generate_key(bit_length=256)}, development)

    def rotated(self) -> Keyring:
        """A keyring with a new active key; old keys stay to open what they wrapped."""
        kid = "k" + secrets.token_hex(4)
        return Keyring(kid, {**self.keys, kid: AESGCM.generate_key(bit_length=256)},
                       self.development)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class EnvelopeVault:
    """Implements the services' `Sealer` port."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._mac_keys: dict[str, bytes] = {}

    def seal(self, plaintext: bytes, context: str) -> str:
        dek = AESGCM.generate_key(bit_length=256)
        n1 = os.urandom(NONCE_LEN)
        body = n1 + AESGCM(dek).encrypt(n1, plaintext, b"data:" + context.encode())
        return ".".join(("v1", self.keyring.active, self._wrap(dek, self.keyring.active, context),
                         _b64(body)))

    def open(self, sealed: str, context: str) -> bytes:
        kid, wrapped, body = self._parse(sealed)
        dek = self._unwrap(kid, wrapped, context)
        raw = _unb64(body)
        try:
            return AESGCM(dek).decrypt(raw[:NONCE_LEN], raw[NONCE_LEN:],
                                       b"data:" + context.encode())
        except InvalidTag:
            raise VaultError("sealed value does not open in this context") from None

    def keyed_hash(self, secret: str, context: str) -> str:
        """HMAC-SHA256 of a short secret (a six-digit code) under a key derived from the
        active master key: a stolen database alone cannot test guesses against it.
        Form ``h1.<master-id>.<b64url(mac)>`` (56 characters); old master keys stay in the
        keyring, so a hash made before a rotation still checks."""
        kid = self.keyring.active
        return f"h1.{kid}.{self._mac(kid, secret, context)}"

    def keyed_hash_matches(self, stored: str, secret: str, context: str) -> bool:
        parts = stored.split(".")
        if len(parts) != 3 or parts[0] != "h1" or parts[1] not in self.keyring.keys:
            return False
        return hmac.compare_digest(parts[2], self._mac(parts[1], secret, context))

    def _mac(self, kid: str, secret: str, context: str) -> str:
        key = self._mac_keys.get(kid)
        if key is None:  # derived, so the keyring file keeps one key per id
            key = HKDF(algorithm=hashes.SHA256(), length=KEY_LEN, salt=None,
                       info=MAC_KEY_INFO).derive(self.keyring.keys[kid])
            self._mac_keys[kid] = key
        message = context.encode() + b"\x00" + secret.encode()
        return _b64(hmac.new(key, message, hashlib.sha256).digest())

    def rewrap(self, sealed: str, context: str) -> str:
        """The same secret with its data key wrapped by the active master key."""
        kid, wrapped, body = self._parse(sealed)
        if kid == self.keyring.active:
            return sealed
        dek = self._unwrap(kid, wrapped, context)
        return ".".join(("v1", self.keyring.active, self._wrap(dek, self.keyring.active, context),
                         body))

    def _wrap(self, dek: bytes, kid: str, context: str) -> str:
        n = os.urandom(NONCE_LEN)
        aad = f"dek:{kid}:{context}".encode()
        return _b64(n + AESGCM(self.keyring.keys[kid]).encrypt(n, dek, aad))

    def _unwrap(self, kid: str, wrapped: str, context: str) -> bytes:
        master = self.keyring.keys.get(kid)
        if master is None:
            raise VaultError(f"master key {kid} is not in the keyring")
        raw = _unb64(wrapped)
        try:
            return AESGCM(master).decrypt(raw[:NONCE_LEN], raw[NONCE_LEN:],
                                          f"dek:{kid}:{context}".encode())
        except InvalidTag:
            raise VaultError("sealed value does not open in this context") from None

    @staticmethod
    def _parse(sealed: str) -> tuple[str, str, str]:
        parts = sealed.split(".")
        if len(parts) != 4 or parts[0] != "v1":
            raise VaultError("not a sealed value")
        return parts[1], parts[2], parts[3]


class EncryptedFileStore:
    """Uploads sealed by the vault and written under one directory (`FileStore` port)."""

    def __init__(self, root: Path, vault: EnvelopeVault) -> None:
        self.root = root
        self.vault = vault
        root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, ref: str) -> Path:
        if len(ref) != 32 or any(c not in "0123456789abcdef" for c in ref):
            raise VaultError("not a file reference")
        return self.root / ref[:2] / ref

    def put(self, data: bytes, context: str) -> str:
        ref = secrets.token_hex(16)
        path = self._path(ref)
        path.parent.mkdir(mode=0o700, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.vault.seal(data, context))
        os.replace(tmp, path)
        return ref

    def get(self, ref: str, context: str) -> bytes:
        return self.vault.open(self._path(ref).read_text(), context)

    def delete(self, ref: str) -> None:
        self._path(ref).unlink(missing_ok=True)
