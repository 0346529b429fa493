"""Keys, signatures and addresses: BIP-340 Schnorr on secp256k1 (docs/keys.md).

The scheme was chosen by measurement (docs/decisions/0001-signature-scheme.md): libsecp256k1
through `coincurve` verifies faster here than libsodium Ed25519, and verification is the hot
path of the whole ledger. Everything here is deterministic. Making a seed needs randomness,
which the ledger does not have: the caller brings 32 random bytes (e.g. `os.urandom(32)`).

Text forms are Base58Check with a per-kind version prefix chosen so the first character says
what the text is: addresses start with `c`, public keys with `p`, seeds with `s`. A seed can
never be accepted where an address is expected, and a typo fails the 4-byte checksum.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Final

import base58
import coincurve

from corridor.ledger.errors import DecodeError, RejectCode

SEED_LEN: Final = 32  # a secp256k1 secret scalar, big-endian, 0 < seed < curve order
PUBLIC_KEY_LEN: Final = 32  # BIP-340 x-only public key
SIGNATURE_LEN: Final = 64  # BIP-340 signature: R.x || s
ADDRESS_LEN: Final = 20  # raw account address
SIGNED_MESSAGE_LEN: Final = 32  # KeyPair.sign takes a digest, never raw data

_ADDRESS_DOMAIN: Final = b"corridor:address:v1"
# BIP-340 lets the signer mix in fresh randomness; zeros make signatures deterministic, so golden
# vectors are stable and the core stays free of randomness. Nonces stay secret either way: they
# are derived from the seed and the message.
_AUX_RAND_ZERO: Final = bytes(32)

# Parsing an x-only key costs ~7 µs, a large share of a ~40 µs verification, and the same few
# thousand account keys sign over and over. The cache is a pure memo (parse is a function of
# its bytes), so it does not make the core impure. Cleared wholesale when full: simple, bounded.
_PUBLIC_KEY_CACHE_MAX: Final = 100_000
_PUBLIC_KEY_CACHE: dict[bytes, coincurve.PublicKeyXOnly] = {}

# Base58Check version prefixes. For a fixed payload length, every value of
# (version || payload || checksum) lies between version||00..00 and version||ff..ff; both ends
# encode to the same length and leading character, and base58 is monotonic at a fixed length, so
# every text of that kind does too (tests/ledger/test_keys.py checks both ends). One byte can fix
# the first character of a 20-byte payload (0x57 and 0x58 give `c`), but not of a 32-byte one:
# any single byte leaves the leading digit among `1`..`9`; two bytes are needed there.
_ADDRESS_VERSION: Final = b"\x57"  # -> "c", 34 characters
_PUBLIC_KEY_VERSION: Final = b"\x05\x89"  # -> "p", 51 characters (0x057b..0x0597 all work)
_SEED_VERSION: Final = b"\x05\xe2"  # -> "s", 51 characters (0x05d4..0x05f0 all work)

# Longest text of any kind is 51 characters; anything much longer is refused before base58
# decoding, whose cost grows with the square of the length.
_TEXT_LEN_MAX: Final = 64
_BASE58_ALPHABET: Final = frozenset(base58.BITCOIN_ALPHABET.decode("ascii"))
_BASE58_DIGITS: Final = {c: i for i, c in enumerate(base58.BITCOIN_ALPHABET.decode("ascii"))}

KEYFILE_FORMAT: Final = "corridor-key-v1"
_KEYFILE_FIELDS: Final = ("format", "address", "public_key", "seed")
_KEYFILE_CHARS_MAX: Final = 4096  # a real key file is ~250 characters


def address_of(public_key: bytes) -> bytes:
    """The 20-byte raw account address of an x-only public key.

    Only hashes: it does not check that the key is on the curve. Raises DecodeError(MALFORMED)
    for a public key of the wrong length.
    """
    if len(public_key) != PUBLIC_KEY_LEN:
        raise DecodeError(
            RejectCode.MALFORMED,
            f"public key must be {PUBLIC_KEY_LEN} bytes, got {len(public_key)}",
        )
    return hashlib.sha256(_ADDRESS_DOMAIN + public_key).digest()[:ADDRESS_LEN]


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A signing key: the 32-byte secret seed and its x-only public key.

    Build it with `KeyPair.from_seed`, which derives and checks the public key. The repr shows
    the address only: a seed must never reach a log line by accident.
    """

    seed: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        assert len(self.seed) == SEED_LEN, "use KeyPair.from_seed"
        assert len(self.public_key) == PUBLIC_KEY_LEN, "use KeyPair.from_seed"

    @classmethod
    def from_seed(cls, seed: bytes) -> KeyPair:
        """Derive the key pair of a seed; DecodeError(MALFORMED) if it is not a valid secret."""
        if len(seed) != SEED_LEN:
            raise DecodeError(
                RejectCode.MALFORMED, f"seed must be {SEED_LEN} bytes, got {len(seed)}"
            )
        try:
            public_key: bytes = coincurve.PublicKeyXOnly.from_secret(seed).format()
        except ValueError:
            raise DecodeError(
                RejectCode.MALFORMED,
                "seed is not a valid secp256k1 secret (zero, or not below the curve order)",
            ) from None
        return cls(seed=seed, public_key=public_key)

    @property
    def address(self) -> bytes:
        return address_of(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """BIP-340 signature of a 32-byte digest, deterministic (zero aux_rand).

        A message of another length is a bug in the caller: sign a hash of the data.
        """
        assert len(message) == SIGNED_MESSAGE_LEN, "sign a 32-byte digest"
        private_key = coincurve.PrivateKey(self.seed)
        signature: bytes = private_key.sign_schnorr(message, _AUX_RAND_ZERO)
        # Assert in pairs (STYLE 6): also catches a KeyPair built with a mismatched public key.
        assert verify(self.public_key, message, signature), "fresh signature does not verify"
        return signature

    def __repr__(self) -> str:
        return f"KeyPair(address={encode_address(self.address)})"


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True iff `signature` is a valid BIP-340 signature of `message` under `public_key`.

    Never raises on malformed bytes: wrong lengths, a key that is not an x coordinate on the
    curve, or garbage all give False. Messages of any length are accepted, as in BIP-340.
    The hot path: one dict lookup and one C call (cffi releases the GIL during it, so threads
    verify in parallel).
    """
    key = _PUBLIC_KEY_CACHE.get(public_key)
    if key is None:
        key = _parse_public_key(public_key)
        if key is None:
            return False
    if len(signature) != SIGNATURE_LEN:
        return False
    return key.verify(signature, message)


def _parse_public_key(public_key: bytes) -> coincurve.PublicKeyXOnly | None:
    """Parse and cache a valid x-only key; None for anything else (never cached)."""
    # The length check is not optional: libsecp256k1 reads exactly 32 bytes from the pointer.
    if len(public_key) != PUBLIC_KEY_LEN:
        return None
    try:
        key = coincurve.PublicKeyXOnly(public_key)
    except ValueError:
        return None
    if len(_PUBLIC_KEY_CACHE) >= _PUBLIC_KEY_CACHE_MAX:
        _PUBLIC_KEY_CACHE.clear()
    _PUBLIC_KEY_CACHE[public_key] = key
    return key


# --- Text forms ------------------------------------------------------------------------------

# kind -> (version prefix, payload length). The kind names appear in error messages.
_FORMS: Final[dict[str, tuple[bytes, int]]] = {
    "address": (_ADDRESS_VERSION, ADDRESS_LEN),
    "public key": (_PUBLIC_KEY_VERSION, PUBLIC_KEY_LEN),
    "seed": (_SEED_VERSION, SEED_LEN),
}


def _encode(kind: str, payload: bytes) -> str:
    version, length = _FORMS[kind]
    assert len(payload) == length, f"a raw {kind} is {length} bytes, got {len(payload)}"
    text: str = base58.b58encode_check(version + payload).decode("ascii")
    return text


def _decode(kind: str, text: str) -> bytes:
    """Decode a text form of `kind`, or raise DecodeError(BAD_ADDRESS) saying what is wrong.

    Error messages never quote the text: it may be a seed pasted in the wrong place.
    """
    if not text:
        raise DecodeError(RejectCode.BAD_ADDRESS, f"empty: no {kind} given")
    if len(text) > _TEXT_LEN_MAX:
        raise DecodeError(
            RejectCode.BAD_ADDRESS,
            f"wrong length: {len(text)} characters is far too long for {_article(kind)}",
        )
    # Checked here, not left to base58: it would strip trailing whitespace and accept the text.
    if not _BASE58_ALPHABET.issuperset(text):
        position, char = next((i, c) for i, c in enumerate(text) if c not in _BASE58_ALPHABET)
        raise DecodeError(
            RejectCode.BAD_ADDRESS,
            f"invalid character {char!r} at position {position + 1}: {_article(kind)} uses only"
            " base58 letters and digits (no 0, O, I or l)",
        )
    try:
        raw = _b58decode_check(text)
    except ValueError:
        raise DecodeError(
            RejectCode.BAD_ADDRESS, f"checksum mismatch: the {kind} is mistyped"
        ) from None
    for other, (version, length) in _FORMS.items():
        if raw.startswith(version) and len(raw) == len(version) + length:
            if other != kind:
                raise DecodeError(
                    RejectCode.BAD_ADDRESS,
                    f"not {_article(kind)}: wrong version (this looks like {_article(other)})",
                )
            return raw[len(version) :]
    version, length = _FORMS[kind]
    if raw.startswith(version):
        raise DecodeError(
            RejectCode.BAD_ADDRESS,
            f"wrong length: {_article(kind)} holds {length} bytes,"
            f" this holds {len(raw) - len(version)}",
        )
    raise DecodeError(RejectCode.BAD_ADDRESS, f"not {_article(kind)}: wrong version")


def _b58decode_check(text: str) -> bytes:
    """`base58.b58decode_check` for a text of base58 characters only, ~5x faster: the value is
    accumulated in one int and converted with `int.to_bytes`, not byte by byte with divmod.
    Parsing a genesis of 10^6 accounts decodes 10^6 keys (docs/decisions/0005-node-hot-path.md)."""
    value = 0
    for char in text:
        value = value * 58 + _BASE58_DIGITS[char]
    zeros = len(text) - len(text.lstrip("1"))
    raw = bytes(zeros) + value.to_bytes((value.bit_length() + 7) // 8, "big")
    payload, check = raw[:-4], raw[-4:]
    if hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4] != check:
        raise ValueError("Invalid checksum")
    return payload


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def encode_address(raw: bytes) -> str:
    """Text form of a 20-byte address: Base58Check, always 34 characters starting with `c`."""
    return _encode("address", raw)


def decode_address(text: str) -> bytes:
    """The 20-byte address in `text`; DecodeError(BAD_ADDRESS) with a readable reason if not."""
    return _decode("address", text)


def is_valid_address(text: str) -> bool:
    try:
        decode_address(text)
    except DecodeError:
        return False
    return True


def encode_public_key(pk: bytes) -> str:
    """Text form of an x-only public key: 51 characters starting with `p`."""
    return _encode("public key", pk)


def decode_public_key(text: str) -> bytes:
    """The 32 key bytes in `text`. Checks the encoding only, not that the key is on the curve."""
    return _decode("public key", text)


def encode_seed(seed: bytes) -> str:
    """Text form of a seed, the key export format: 51 characters starting with `s`."""
    return _encode("seed", seed)


def decode_seed(text: str) -> bytes:
    """The 32 seed bytes in `text`. `KeyPair.from_seed` then checks it is a valid secret."""
    return _decode("seed", text)


# --- Key files -------------------------------------------------------------------------------


def keyfile_json(kp: KeyPair) -> str:
    """The JSON key file of a key pair (docs/keys.md). Holds the seed in clear: encrypting it
    at rest is the node's job."""
    document = {
        "format": KEYFILE_FORMAT,
        "address": encode_address(kp.address),
        "public_key": encode_public_key(kp.public_key),
        "seed": encode_seed(kp.seed),
    }
    return json.dumps(document, indent=2) + "\n"


def keypair_from_keyfile_json(text: str) -> KeyPair:
    """Read a key file; DecodeError(MALFORMED) listing every problem if it is not consistent.

    The seed is the key; address and public key are there for people and tools, and must match
    what the seed derives, so a file edited by hand or mixed up with another is refused.
    """
    document = _load_keyfile_object(text)
    problems: list[str] = []
    for name in _KEYFILE_FIELDS:
        if name not in document:
            problems.append(f"{name}: missing")
        elif not isinstance(document[name], str):
            problems.append(f"{name}: must be a string")
    problems.extend(f"{name}: unknown field" for name in document if name not in _KEYFILE_FIELDS)
    if "format" in document and document["format"] != KEYFILE_FORMAT:
        problems.append(f"format: expected {KEYFILE_FORMAT!r}")

    decoded: dict[str, bytes] = {}
    for name, decode in (
        ("address", decode_address),
        ("public_key", decode_public_key),
        ("seed", decode_seed),
    ):
        value = document.get(name)
        if isinstance(value, str):
            try:
                decoded[name] = decode(value)
            except DecodeError as error:
                problems.append(f"{name}: {error.message}")

    kp: KeyPair | None = None
    if "seed" in decoded:
        try:
            kp = KeyPair.from_seed(decoded["seed"])
        except DecodeError as error:
            problems.append(f"seed: {error.message}")
    if kp is not None:
        if "public_key" in decoded and decoded["public_key"] != kp.public_key:
            problems.append("public_key: does not match the seed")
        if "address" in decoded and decoded["address"] != kp.address:
            problems.append("address: does not match the seed")

    if problems or kp is None:
        raise DecodeError(RejectCode.MALFORMED, "bad key file: " + "; ".join(problems))
    return kp


def _load_keyfile_object(text: str) -> dict[str, Any]:
    if len(text) > _KEYFILE_CHARS_MAX:
        raise DecodeError(
            RejectCode.MALFORMED,
            f"bad key file: {len(text)} characters, at most {_KEYFILE_CHARS_MAX}",
        )
    try:
        document = json.loads(text, object_pairs_hook=_reject_duplicate_fields)
    except (ValueError, RecursionError) as error:
        # ValueError covers JSONDecodeError and our duplicate-field refusal.
        raise DecodeError(RejectCode.MALFORMED, f"bad key file: not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise DecodeError(RejectCode.MALFORMED, "bad key file: not a JSON object")
    return document


def _reject_duplicate_fields(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    names = [name for name, _ in pairs]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"duplicate field {', '.join(duplicates)}")
    return dict(pairs)
