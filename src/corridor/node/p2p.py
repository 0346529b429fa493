"""Peer-to-peer transport: TCP with mutual TLS 1.3, pinned identities, bounded frames.

Identity. Each node has a self-signed certificate over an EC P-256 key (HOME/p2p_key.pem,
mode 0600, and HOME/p2p_cert.pem). A peer *is* the SHA-256 fingerprint of its certificate's
DER encoding. HOME/peers.json lists the network's nodes:

    [{"address": "host:port", "fingerprint": hex, "validator_public_key": "p..." | null,
      "certificate": PEM}]

The pinned certificates are the TLS trust store on both sides (they are self-signed, so each
is its own anchor) and, after the handshake, the fingerprint of what the peer presented must
be one of the pinned ones: any other certificate is refused. Our own entry gives our listen
address.

Connections. Between two nodes the one with the lower fingerprint dials (with backoff) and
the other accepts, so each pair has one connection; an accepted connection from a peer that
already has one replaces it (the peer restarted).

Frames: u32 length (of what follows) + one type byte + payload, at most P2P_FRAME_BYTES_MAX.
Payloads are the canonical encodings (`node.p2p_messages`). Every frame is decoded before
use; a peer that sends an undecodable frame, an oversized length or an unknown type is
disconnected and refused for a while (P2P_BAN_MS_MIN, doubling per offence). Gossip
(proposals, votes, transactions, evidence) is de-duplicated by the hash of the frame in a
bounded LRU.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import hashlib
import json
import logging
import os
import secrets
import ssl
import time
from collections import OrderedDict
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from corridor.ledger import keys
from corridor.ledger.errors import DecodeError
from corridor.node.limits import (
    P2P_BAN_MS_MAX,
    P2P_BAN_MS_MIN,
    P2P_FRAME_BYTES_MAX,
    P2P_HANDSHAKE_TIMEOUT_S,
    P2P_PEERS_MAX,
    P2P_RECONNECT_MS_MAX,
    P2P_RECONNECT_MS_MIN,
    P2P_SEEN_MAX,
    P2P_SEND_QUEUE_MAX,
    P2P_WRITE_BYTES_MAX,
)
from corridor.node.p2p_messages import (
    FRAME_LEN,
    GOSSIP_TYPES,
    P2PMessage,
    decode_payload,
    encode_frame,
)

log = logging.getLogger("corridor.p2p")

KEY_FILE: Final = "p2p_key.pem"
CERT_FILE: Final = "p2p_cert.pem"
PEERS_FILE: Final = "peers.json"

# --- identity --------------------------------------------------------------------------------


class P2PConfigError(Exception):
    """A missing or malformed p2p identity or peers.json: one clear message for the user."""


@dataclass(frozen=True, slots=True)
class Identity:
    """This node's TLS identity: key and certificate files, and the certificate's pin."""

    key_path: Path
    cert_path: Path
    cert_pem: str
    fingerprint: str  # sha256 of the certificate's DER, lower-case hex


def fingerprint_of_pem(pem: str) -> str:
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def ensure_identity(home: Path) -> Identity:
    """Loads HOME's p2p identity, creating it on first use (key file mode 0600)."""
    key_path, cert_path = home / KEY_FILE, home / CERT_FILE
    if not cert_path.exists():
        _generate(key_path, cert_path)
    pem = cert_path.read_text()
    try:
        fp = fingerprint_of_pem(pem)
    except ValueError as exc:
        raise P2PConfigError(f"{cert_path}: not a PEM certificate ({exc})") from None
    return Identity(key_path=key_path, cert_path=cert_path, cert_pem=pem, fingerprint=fp)


def _generate(key_path: Path, cert_path: Path) -> None:
    # Imported here: only nodes that talk to peers need it.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    # A unique name: OpenSSL finds a trust anchor by subject, so pinned certificates that
    # shared one would shadow each other.
    cn = f"corridor-node-{secrets.token_hex(8)}"
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365 * 100))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The certificate is written last: its presence means the identity is complete (a key
    # left alone by a crash was never pinned anywhere and is replaced).
    key_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_key = key_path.with_suffix(".tmp")
    tmp_key.unlink(missing_ok=True)
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_pem)
    os.replace(tmp_key, key_path)
    tmp = cert_path.with_suffix(".tmp")
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp, cert_path)


# --- peers.json -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerInfo:
    """One node of the network as peers.json lists it."""

    host: str
    port: int
    fingerprint: str
    certificate: str  # PEM; its fingerprint is `fingerprint`
    validator_public_key: bytes | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


def peer_entry(peer: PeerInfo) -> dict[str, object]:
    vpk = peer.validator_public_key
    return {
        "address": peer.address,
        "fingerprint": peer.fingerprint,
        "validator_public_key": None if vpk is None else keys.encode_public_key(vpk),
        "certificate": peer.certificate,
    }


def parse_peers(text: str) -> tuple[PeerInfo, ...]:
    """peers.json -> peers; every problem at once in one P2PConfigError."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise P2PConfigError(f"not JSON: {exc}") from None
    if not isinstance(doc, list) or len(doc) > P2P_PEERS_MAX:
        raise P2PConfigError(f"expected a list of at most {P2P_PEERS_MAX} peers")
    problems: list[str] = []
    peers: list[PeerInfo] = []
    for i, entry in enumerate(doc):
        peer = _parse_peer(entry, f"[{i}]", problems)
        if peer is not None:
            peers.append(peer)
    if len({p.fingerprint for p in peers}) != len(peers):
        problems.append("a fingerprint is listed twice")
    if problems:
        raise P2PConfigError("; ".join(problems))
    return tuple(peers)


def _parse_peer(entry: object, where: str, problems: list[str]) -> PeerInfo | None:
    if not isinstance(entry, dict):
        problems.append(f"{where}: not an object")
        return None
    before = len(problems)
    address, fp, cert = entry.get("address"), entry.get("fingerprint"), entry.get("certificate")
    host, _, port_text = str(address).rpartition(":")
    if not isinstance(address, str) or not host or not port_text.isdigit():
        problems.append(f"{where}.address: expected host:port")
    elif not 0 < int(port_text) < 65536:
        problems.append(f"{where}.address: port out of range")
    if not isinstance(fp, str) or len(fp) != 64 or fp.lower() != fp:
        problems.append(f"{where}.fingerprint: expected 64 lower-case hex digits")
    if not isinstance(cert, str):
        problems.append(f"{where}.certificate: expected a PEM certificate")
    else:
        try:
            if fingerprint_of_pem(cert) != fp:
                problems.append(f"{where}.certificate: does not match the fingerprint")
        except ValueError:
            problems.append(f"{where}.certificate: not a PEM certificate")
    vpk_text, vpk = entry.get("validator_public_key"), None
    if vpk_text is not None:
        try:
            vpk = keys.decode_public_key(str(vpk_text))
        except DecodeError as exc:
            problems.append(f"{where}.validator_public_key: {exc.message}")
    if len(problems) > before:
        return None
    assert isinstance(fp, str) and isinstance(cert, str)
    return PeerInfo(
        host=host, port=int(port_text), fingerprint=fp, certificate=cert, validator_public_key=vpk
    )


def load_peers(home: Path) -> tuple[PeerInfo, ...] | None:
    """HOME/peers.json, or None when the home has none (a single-node network)."""
    path = home / PEERS_FILE
    if not path.exists():
        return None
    try:
        return parse_peers(path.read_text())
    except P2PConfigError as exc:
        raise P2PConfigError(f"{path}: {exc}") from None


# --- the transport ---------------------------------------------------------------------------


class Misbehaved(Exception):
    """A peer broke the protocol: disconnect it and refuse it for a while."""


@dataclass(slots=True)
class _Conn:
    fingerprint: str
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    queue: asyncio.Queue[bytes] = field(
        default_factory=lambda: asyncio.Queue(maxsize=P2P_SEND_QUEUE_MAX)
    )
    closed: bool = False


@dataclass(slots=True)
class TransportStats:
    frames_in: int = 0
    frames_out: int = 0
    duplicates: int = 0
    dropped_out: int = 0  # a slow peer's queue was full
    misbehaved: int = 0
    refused: int = 0  # connections refused (unpinned, banned, wrong peer)


MessageHandler = Callable[[str, P2PMessage], None]


class Transport:
    """Connections to the pinned peers; delivers decoded messages to `on_message(peer, msg)`
    on the event loop's thread, and `on_connect(peer)` when a peer connects."""

    def __init__(
        self,
        identity: Identity,
        peers: tuple[PeerInfo, ...],
        on_message: MessageHandler,
        *,
        on_connect: Callable[[str], None] | None = None,
        listen_host: str | None = None,
        listen_port: int | None = None,
    ) -> None:
        self.identity = identity
        self.peers = {p.fingerprint: p for p in peers if p.fingerprint != identity.fingerprint}
        me = next((p for p in peers if p.fingerprint == identity.fingerprint), None)
        self.listen_host = listen_host or (me.host if me else "127.0.0.1")
        self.listen_port = listen_port if listen_port is not None else (me.port if me else 0)
        self.on_message = on_message
        self.on_connect = on_connect
        pinned = "".join(p.certificate for p in peers)
        self._server_ctx = self._context(ssl.PROTOCOL_TLS_SERVER, pinned)
        self._client_ctx = self._context(ssl.PROTOCOL_TLS_CLIENT, pinned)
        self._conns: dict[str, _Conn] = {}
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._banned_until: dict[str, float] = {}
        self._ban_ms: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self.stats = TransportStats()
        self.failure: BaseException | None = None
        self._stopping = False

    def _context(self, protocol: int, pinned: str) -> ssl.SSLContext:
        ctx = ssl.SSLContext(protocol)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False  # identities are pinned by fingerprint, not named
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_cert_chain(self.identity.cert_path, self.identity.key_path)
        if pinned:
            ctx.load_verify_locations(cadata=pinned)
        return ctx

    # --- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept,
            self.listen_host,
            self.listen_port,
            ssl=self._server_ctx,
            ssl_handshake_timeout=P2P_HANDSHAKE_TIMEOUT_S,
        )
        self.listen_port = self._server.sockets[0].getsockname()[1]
        for fp in self.peers:
            if self.identity.fingerprint < fp:
                self._spawn(self._dial_loop(fp))

    async def stop(self) -> None:
        self._stopping = True  # 3.11's wait_for can swallow a cancel: loops check this too
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for conn in list(self._conns.values()):
            await self._close(conn)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2)

    def connected(self) -> tuple[str, ...]:
        return tuple(fp for fp, c in self._conns.items() if not c.closed)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- sending -------------------------------------------------------------------------

    def broadcast(self, msg: P2PMessage) -> int:
        """Queue `msg` to every connected peer; returns to how many."""
        frame = encode_frame(msg)
        return sum(self._enqueue(conn, frame) for conn in list(self._conns.values()))

    def send(self, peer: str, msg: P2PMessage) -> bool:
        conn = self._conns.get(peer)
        return conn is not None and self._enqueue(conn, encode_frame(msg))

    def _enqueue(self, conn: _Conn, frame: bytes) -> bool:
        if conn.closed:
            return False
        try:
            conn.queue.put_nowait(frame)
        except asyncio.QueueFull:
            self.stats.dropped_out += 1
            return False
        return True

    async def _write_loop(self, conn: _Conn) -> None:
        try:
            while not conn.closed:
                # Whatever queued meanwhile goes out in one write: one TLS record and one
                # send for a burst of gossip (a block's worth of transactions), not one each.
                frames = [await conn.queue.get()]
                size = len(frames[0])
                while size < P2P_WRITE_BYTES_MAX and not conn.queue.empty():
                    frames.append(conn.queue.get_nowait())
                    size += len(frames[-1])
                conn.writer.write(b"".join(frames))
                self.stats.frames_out += len(frames)
                await conn.writer.drain()
        except (OSError, RuntimeError):  # the peer went away (the reader notices and closes)
            conn.writer.close()

    # --- connecting ----------------------------------------------------------------------

    def _banned(self, fp: str) -> bool:
        return self._banned_until.get(fp, 0.0) > time.monotonic()

    async def _dial_loop(self, fp: str) -> None:
        peer = self.peers[fp]
        delay_ms = P2P_RECONNECT_MS_MIN
        while not self._stopping:
            if fp in self._conns or self._banned(fp):
                await asyncio.sleep(P2P_RECONNECT_MS_MIN / 1000)
                continue
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        peer.host,
                        peer.port,
                        ssl=self._client_ctx,
                        ssl_handshake_timeout=P2P_HANDSHAKE_TIMEOUT_S,
                    ),
                    P2P_HANDSHAKE_TIMEOUT_S * 2,
                )
            except (OSError, TimeoutError) as exc:  # ssl.SSLError is an OSError
                if isinstance(exc, ssl.SSLError):
                    self.stats.refused += 1  # e.g. an unpinned certificate
                log.debug("dial %s failed: %r", peer.address, exc)
                await asyncio.sleep(delay_ms / 1000)
                delay_ms = min(delay_ms * 2, P2P_RECONNECT_MS_MAX)
                continue
            if self._peer_fingerprint(writer) != fp:
                self.stats.refused += 1
                log.warning("%s presented a certificate other than the pinned one", peer.address)
                writer.close()
                await asyncio.sleep(delay_ms / 1000)
                delay_ms = min(delay_ms * 2, P2P_RECONNECT_MS_MAX)
                continue
            delay_ms = P2P_RECONNECT_MS_MIN
            await self._run(fp, reader, writer)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        fp = self._peer_fingerprint(writer)
        if self._stopping or fp is None or fp not in self.peers or self._banned(fp):
            self.stats.refused += 1
            log.warning("refused a connection from %s", writer.get_extra_info("peername"))
            writer.close()
            return
        await self._run(fp, reader, writer)

    @staticmethod
    def _peer_fingerprint(writer: asyncio.StreamWriter) -> str | None:
        ssl_object = writer.get_extra_info("ssl_object")
        der = None if ssl_object is None else ssl_object.getpeercert(binary_form=True)
        return None if der is None else hashlib.sha256(der).hexdigest()

    async def _run(
        self, fp: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        old = self._conns.get(fp)
        if old is not None:
            await self._close(old)  # the peer reconnected: the old connection is stale
        conn = _Conn(fp, reader, writer)
        self._conns[fp] = conn
        writing = asyncio.ensure_future(self._write_loop(conn))
        try:
            if self.on_connect is not None:
                self.on_connect(fp)
            await self._read_loop(conn)
        except Misbehaved as exc:
            self._punish(fp, str(exc))
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the peer went away
        finally:
            writing.cancel()
            await self._close(conn)

    async def _read_loop(self, conn: _Conn) -> None:
        while not conn.closed:
            (length,) = FRAME_LEN.unpack(await conn.reader.readexactly(4))
            if not 1 <= length <= P2P_FRAME_BYTES_MAX:
                raise Misbehaved(f"frame length {length}")
            body = await conn.reader.readexactly(length)
            self.stats.frames_in += 1
            kind = body[0]
            if kind in GOSSIP_TYPES:
                digest = hashlib.sha256(body).digest()
                if digest in self._seen:
                    self._seen.move_to_end(digest)
                    self.stats.duplicates += 1
                    continue
                self._seen[digest] = None
                while len(self._seen) > P2P_SEEN_MAX:
                    self._seen.popitem(last=False)
            try:
                msg = decode_payload(kind, body[1:])
            except (DecodeError, ValueError) as exc:
                raise Misbehaved(f"undecodable frame of type {kind}: {exc}") from None
            try:
                self.on_message(conn.fingerprint, msg)
            except Exception as exc:  # a bug in the node, not the peer's fault: stop the node
                log.error("message handler failed", exc_info=exc)
                self.failure = exc
                raise

    def _punish(self, fp: str, why: str) -> None:
        self.stats.misbehaved += 1
        ban_ms = min(self._ban_ms.get(fp, P2P_BAN_MS_MIN // 2) * 2, P2P_BAN_MS_MAX)
        self._ban_ms[fp] = ban_ms
        self._banned_until[fp] = time.monotonic() + ban_ms / 1000
        log.warning("peer %s misbehaved (%s): refused for %d ms", fp[:12], why, ban_ms)

    async def _close(self, conn: _Conn) -> None:
        if conn.closed:
            return
        conn.closed = True
        if self._conns.get(conn.fingerprint) is conn:
            del self._conns[conn.fingerprint]
        conn.writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(conn.writer.wait_closed(), 1)
