"""Results of applied transactions; their hashes form a block's result root."""

from __future__ import annotations

from typing import NamedTuple

from corridor.ledger.codec import Reader, Writer, decode_all
from corridor.ledger.limits import OPERATIONS_MAX
from corridor.ledger.tx import HASH_LEN

SUCCESS = 0  # the result code of every transaction in a committed block


class OpResult(NamedTuple):
    """What one operation did: the amount actually delivered (payments, clawbacks, escrow
    releases) and the id it created (an escrow id, a new account's address), if any.
    A NamedTuple: one is built per operation on the hot path (see records.Holding)."""

    delivered: int = 0
    created_id: bytes = b""


class TxResult(NamedTuple):
    """The result of one applied transaction (a NamedTuple: one per transaction, hot path)."""

    tx_id: bytes
    op_results: tuple[OpResult, ...]
    code: int = SUCCESS

    def encode(self) -> bytes:
        w = Writer().fixed(self.tx_id, HASH_LEN).u8(self.code).count(len(self.op_results))
        for r in self.op_results:
            w.u64(r.delivered).var(r.created_id)
        return w.getvalue()

    @staticmethod
    def decode(data: bytes) -> TxResult:
        def read_op(r: Reader) -> OpResult:
            return OpResult(r.u64(), r.var(HASH_LEN))

        def read(r: Reader) -> TxResult:
            tx_id = r.fixed(HASH_LEN)
            code = r.u8()
            return TxResult(tx_id, r.items(OPERATIONS_MAX, "results", read_op), code)

        return decode_all(data, read)
