"""Starting a node process: storage, core, consensus runner and RPC server on one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Generator
from dataclasses import dataclass, field

import uvicorn

from corridor.node.core import NodeCore
from corridor.node.gc_policy import gc_paused
from corridor.node.home import Home, HomeError
from corridor.node.rpc import create_app
from corridor.node.rpc_access import AccessConfigError, RpcAccess, ensure_access
from corridor.node.runner import NodeRunner, RunnerConfig
from corridor.node.storage import SqliteStore


class NodeFailed(Exception):
    """A node task died; the process must exit non-zero so a supervisor notices."""


class _Server(uvicorn.Server):
    """The node owns SIGINT/SIGTERM (a clean stop of consensus and storage); uvicorn's own
    capture would re-raise the signal after shutdown and end the process uncleanly."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@dataclass(frozen=True)
class NodeOptions:
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 26657
    runner: RunnerConfig = field(default_factory=RunnerConfig)
    debug_invariants: bool = False
    rpc_access: str | None = None  # the access mode for this run; None: HOME's setting


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop where it is installed (uvicorn[standard] brings it), else asyncio's.

    On asyncio's own selector loop, writing the RPC's responses (`_SelectorSocketTransport.
    write`) took a third of the node's time under one-transaction requests (py-spy,
    docs/decisions/0005-node-hot-path.md); uvloop's transports are C over libuv.
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without uvloop
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def load_rpc_access(home: Home, options: NodeOptions) -> RpcAccess:
    """HOME/rpc_access.json (created with the default mode if missing), its mode replaced by
    `options.rpc_access` when given."""
    try:
        access = ensure_access(home.path)
        return access if options.rpc_access is None else access.with_mode(options.rpc_access)
    except AccessConfigError as exc:
        raise HomeError(str(exc)) from None


def open_core(home: Home, options: NodeOptions) -> NodeCore:
    with gc_paused():  # millions of records and no garbage (NodeCore then freezes them)
        return _open_core(home, options)


def _open_core(home: Home, options: NodeOptions) -> NodeCore:
    genesis = home.genesis()
    home.db_path.parent.mkdir(parents=True, exist_ok=True)
    tree = genesis.tree()  # one state-tree build, shared by the store and the core
    header = genesis.header(tree)
    store = SqliteStore(home.db_path, genesis=header)
    return NodeCore(
        genesis,
        store,
        store,
        key=home.validator_key(),
        debug_invariants=options.debug_invariants,
        genesis_header=header,
        genesis_tree=tree,
    )


def make_runner(home: Home, core: NodeCore, options: NodeOptions) -> NodeRunner:
    """One validator alone, or a node among the peers of HOME/peers.json (over p2p)."""
    from corridor.node import p2p
    from corridor.node.consensus_driver import ConsensusWal, NetworkRunner

    try:
        peers = p2p.load_peers(home.path)
        if peers is None:
            return NodeRunner(core, options.runner)
        identity = p2p.ensure_identity(home.path)
        me = next((p for p in peers if p.fingerprint == identity.fingerprint), None)
        if me is None:
            raise p2p.P2PConfigError(f"{home.path / p2p.PEERS_FILE} does not list this node")
        own_key = None if core.key is None else core.key.public_key
        if me.validator_public_key != own_key:
            raise p2p.P2PConfigError(f"{home.path / p2p.PEERS_FILE}: not our validator key")
    except p2p.P2PConfigError as exc:
        raise HomeError(str(exc)) from None
    runner = NetworkRunner(
        core, options.runner, wal=ConsensusWal(home.path / "data" / "consensus.wal")
    )
    runner.attach(
        p2p.Transport(identity, peers, runner.on_message, on_connect=runner.on_peer_connected)
    )
    return runner


async def serve(
    home: Home, options: NodeOptions, on_ready: Callable[[NodeCore, str], None] | None = None,
    before_stop: Callable[[], None] | None = None,
) -> None:
    """Runs until SIGINT/SIGTERM; then stops accepting, and closes storage cleanly. With
    `before_stop` (blocking; run in a thread while the node still serves), the first signal
    runs it and then stops the node: what depends on the node stops first. A second signal
    stops the node at once."""
    access = load_rpc_access(home, options)
    core = open_core(home, options)
    runner = make_runner(home, core, options)
    app = create_app(runner, access)
    server = _Server(
        uvicorn.Config(
            app,
            host=options.rpc_host,
            port=options.rpc_port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
    )
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Future[None]] = []

    def stop() -> None:
        if before_stop is None or stopping:
            runner.stop()
            return
        stopping.append(loop.run_in_executor(None, before_stop))
        stopping[0].add_done_callback(lambda _: runner.stop())

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop)
    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.02)
    if serving.done():
        serving.result()  # raises the bind error, if that is what happened
    logging.getLogger("corridor.node").info(
        "RPC access mode %s, %d client token(s)", access.mode, len(access.tokens)
    )
    if on_ready is not None:
        on_ready(core, f"http://{options.rpc_host}:{options.rpc_port}")
    try:
        await runner.run()
    finally:
        server.should_exit = True
        await serving
        core.blocks.close()
        logging.getLogger("corridor.node").info("stopped at height %d", core.head.height)
    if runner.failure is not None:
        raise NodeFailed(f"the node stopped on an internal error: {runner.failure!r}")
