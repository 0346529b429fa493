"""The p2p transport on localhost: mutual TLS with pinned certificates, framed messages,
de-duplication, and peers that send garbage (disconnected, refused for a while; the receiver
keeps working)."""

from __future__ import annotations

import asyncio
import json
import ssl
import stat
import struct
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest

from corridor.consensus.messages import PREVOTE, Proposal, Vote
from corridor.ledger.errors import DecodeError
from corridor.ledger.evidence import DuplicateVoteEvidence
from corridor.node import p2p
from corridor.node import p2p_messages as msgs
from corridor.node.limits import P2P_FRAME_BYTES_MAX
from corridor.node.p2p import (
    Identity,
    P2PConfigError,
    PeerInfo,
    Transport,
    ensure_identity,
    parse_peers,
    peer_entry,
)
from corridor.node.p2p_messages import (
    EvidenceMsg,
    P2PMessage,
    ProposalMsg,
    StatusMsg,
    SyncResponseMsg,
    TxMsg,
    VoteMsg,
    decode_payload,
    encode_frame,
)

from ..ledger.builders import CHAIN, key
from .conftest import free_port
from .test_storage import Chain


def _peer(identity: Identity, port: int, validator: bytes | None = None) -> PeerInfo:
    return PeerInfo(
        host="127.0.0.1",
        port=port,
        fingerprint=identity.fingerprint,
        certificate=identity.cert_pem,
        validator_public_key=validator,
    )


class Node:
    """A transport plus what it received."""

    def __init__(self, identity: Identity, peers: tuple[PeerInfo, ...]) -> None:
        self.got: list[tuple[str, P2PMessage]] = []
        self.transport = Transport(identity, peers, lambda fp, m: self.got.append((fp, m)))


def _identities(tmp_path: Path, n: int) -> list[Identity]:
    return [ensure_identity(tmp_path / f"n{i}") for i in range(n)]


async def _until(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.02)


async def _mesh(ids: list[Identity]) -> list[Node]:
    peers = tuple(_peer(i, free_port()) for i in ids)
    nodes = [Node(i, peers) for i in ids]
    for node in nodes:
        await node.transport.start()
    n = len(nodes)
    await _until(lambda: all(len(x.transport.connected()) == n - 1 for x in nodes))
    return nodes


async def _stop(nodes: list[Node]) -> None:
    for node in nodes:
        await node.transport.stop()


def _vote(round_: int = 0) -> Vote:
    return Vote.signed(
        CHAIN, key("v1"), vote_type=PREVOTE, height=1, round_=round_, block_hash=b"\x11" * 32
    )


def _double_vote() -> DuplicateVoteEvidence:
    other = Vote.signed(
        CHAIN, key("v1"), vote_type=PREVOTE, height=1, round_=0, block_hash=b"\x22" * 32
    )
    return DuplicateVoteEvidence.of(_vote(), other)


def run(coro: Callable[[], Coroutine[Any, Any, None]]) -> None:
    asyncio.run(asyncio.wait_for(coro(), 30))


# --- identity and peers.json -----------------------------------------------------------------


def test_identity_is_created_once_with_a_private_key_file(tmp_path: Path) -> None:
    a = ensure_identity(tmp_path)
    assert stat.S_IMODE(a.key_path.stat().st_mode) == 0o600
    assert ensure_identity(tmp_path) == a  # loaded, not regenerated
    assert a.fingerprint == p2p.fingerprint_of_pem(a.cert_pem) and len(a.fingerprint) == 64


def test_peers_json_round_trips_and_reports_every_problem(tmp_path: Path) -> None:
    (a,) = _identities(tmp_path, 1)
    peer = _peer(a, 4000, key("v1").public_key)
    assert parse_peers(json.dumps([peer_entry(peer)])) == (peer,)
    bad = [{"address": "nohost", "fingerprint": "00" * 32, "certificate": a.cert_pem}]
    with pytest.raises(P2PConfigError) as err:
        parse_peers(json.dumps(bad))
    assert "address" in str(err.value) and "does not match" in str(err.value)


# --- frames --------------------------------------------------------------------------------


def test_every_message_round_trips_through_its_frame() -> None:
    chain = Chain()
    step = chain.next(payments=2)
    proposal = Proposal.signed(CHAIN, key("v1"), height=1, round_=0, block_hash=step.block.hash())
    stx = step.block.txs[0]
    for msg in (
        VoteMsg(_vote()),
        ProposalMsg(proposal, step.block),
        TxMsg(stx),
        StatusMsg(7),
        msgs.SyncRequestMsg(3),
        SyncResponseMsg(((step.block, step.commit),)),
        EvidenceMsg(_double_vote()),
    ):
        frame = encode_frame(msg)
        (length,) = struct.unpack(">I", frame[:4])
        assert length == len(frame) - 4
        assert decode_payload(frame[4], frame[5:]) == msg


def test_an_evidence_frame_must_hold_evidence() -> None:
    good = _double_vote().encode()
    for payload in (b"", good[:-1], good + b"\x00", encode_frame(VoteMsg(_vote()))[5:]):
        with pytest.raises(DecodeError):
            decode_payload(msgs.MSG_EVIDENCE, payload)


# --- the transport ---------------------------------------------------------------------------


def test_three_transports_exchange_messages(tmp_path: Path) -> None:
    async def go() -> None:
        nodes = await _mesh(_identities(tmp_path, 3))
        try:
            assert nodes[0].transport.broadcast(VoteMsg(_vote())) == 2
            await _until(lambda: all(len(n.got) == 1 for n in nodes[1:]))
            sender = nodes[0].transport.identity.fingerprint
            assert nodes[1].got == [(sender, VoteMsg(_vote()))]
            to = nodes[1].transport.identity.fingerprint
            assert nodes[2].transport.send(to, StatusMsg(5))
            await _until(lambda: len(nodes[1].got) == 2)
            assert nodes[1].got[1][1] == StatusMsg(5)
            assert nodes[0].got == []
        finally:
            await _stop(nodes)

    run(go)


def test_gossip_is_deduplicated_but_status_is_not(tmp_path: Path) -> None:
    async def go() -> None:
        a, b = await _mesh(_identities(tmp_path, 2))
        try:
            for _ in range(3):
                a.transport.broadcast(VoteMsg(_vote()))
                a.transport.broadcast(StatusMsg(1))
            a.transport.broadcast(VoteMsg(_vote(round_=1)))
            await _until(lambda: len(b.got) == 5)
            await asyncio.sleep(0.1)
            assert [m for _, m in b.got].count(VoteMsg(_vote())) == 1
            assert b.transport.stats.duplicates == 2
        finally:
            await _stop([a, b])

    run(go)


def test_a_peer_restart_reconnects(tmp_path: Path) -> None:
    async def go() -> None:
        ids = _identities(tmp_path, 2)
        a, b = await _mesh(ids)
        peers = (*b.transport.peers.values(), _peer(ids[1], b.transport.listen_port))
        await b.transport.stop()
        await _until(lambda: a.transport.connected() == ())
        b2 = Node(ids[1], peers)
        await b2.transport.start()
        try:
            await _until(lambda: len(a.transport.connected()) == 1)
            a.transport.broadcast(StatusMsg(9))
            await _until(lambda: len(b2.got) == 1)
        finally:
            await _stop([a, b2])

    run(go)


def test_an_unpinned_certificate_is_refused(tmp_path: Path) -> None:
    async def go() -> None:
        good, stranger = _identities(tmp_path, 2)
        port = free_port()
        server = Node(good, (_peer(good, port),))
        await server.transport.start()
        try:
            # The stranger pins the server (so it would accept it) but the server does not
            # know the stranger: its handshake or first read fails, nothing is delivered.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.load_verify_locations(cadata=good.cert_pem)
            ctx.load_cert_chain(stranger.cert_path, stranger.key_path)
            with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=ctx)
                writer.write(encode_frame(StatusMsg(1)))
                await writer.drain()
                await reader.readexactly(1)
            assert server.got == [] and server.transport.connected() == ()
            # A client without any certificate is refused as well.
            bare = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            bare.check_hostname = False
            bare.load_verify_locations(cadata=good.cert_pem)
            with pytest.raises((ssl.SSLError, ConnectionError, asyncio.IncompleteReadError)):
                reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=bare)
                await reader.readexactly(1)
            assert server.got == []
        finally:
            await server.transport.stop()

    run(go)


def test_a_peer_impersonating_a_pinned_address_is_not_dialled(tmp_path: Path) -> None:
    async def go() -> None:
        a, b, impostor = _identities(tmp_path, 3)
        a, b = sorted((a, b), key=lambda i: i.fingerprint)  # the lower fingerprint dials
        port = free_port()
        # a pins b at `port`, but the impostor listens there (pinning a, so TLS would pass).
        peers_a = (_peer(a, free_port()), _peer(b, port))
        node = Node(a, peers_a)
        fake = Node(impostor, (_peer(impostor, port), _peer(a, peers_a[0].port)))
        await fake.transport.start()
        await node.transport.start()
        try:
            await asyncio.sleep(0.8)
            assert node.transport.connected() == ()
            assert node.transport.stats.refused + fake.transport.stats.refused >= 1
        finally:
            await _stop([node, fake])

    run(go)


@pytest.mark.parametrize(
    "garbage",
    [
        struct.pack(">I", P2P_FRAME_BYTES_MAX + 1),  # oversized length
        struct.pack(">I", 0),  # empty frame
        struct.pack(">I", 3) + bytes([99, 1, 2]),  # unknown type
        struct.pack(">I", 5) + bytes([msgs.MSG_VOTE, 1, 2, 3, 4]),  # undecodable vote
        struct.pack(">I", 9) + bytes([msgs.MSG_STATUS]) + bytes(8),  # well-formed: delivered
    ],
)
def test_garbage_disconnects_the_peer_and_the_receiver_keeps_working(
    tmp_path: Path, garbage: bytes
) -> None:
    async def go() -> None:
        ids = _identities(tmp_path, 3)
        nodes = await _mesh(ids)
        victim, bad, good = nodes
        bad_fp = bad.transport.identity.fingerprint
        try:
            # The bad node writes raw bytes on its connection to the victim.
            conn = bad.transport._conns[victim.transport.identity.fingerprint]
            conn.writer.write(garbage)
            await conn.writer.drain()
            well_formed = garbage[4:5] == bytes([msgs.MSG_STATUS])
            if well_formed:  # a valid status frame: delivered, not punished
                await _until(lambda: len(victim.got) == 1)
                return
            await _until(lambda: bad_fp not in victim.transport.connected())
            assert victim.transport.stats.misbehaved == 1
            # The bad peer is refused for a while: its reconnects do not come through.
            await asyncio.sleep(0.5)
            assert bad_fp not in victim.transport.connected()
            # The victim still talks to everyone else.
            good.transport.broadcast(VoteMsg(_vote()))
            await _until(lambda: any(isinstance(m, VoteMsg) for _, m in victim.got))
            victim.transport.broadcast(StatusMsg(2))
            await _until(lambda: (victim.transport.identity.fingerprint, StatusMsg(2)) in good.got)
        finally:
            await _stop(nodes)

    run(go)
