"""Operations on custody at rest: master key rotation (requirement L2).

`rotate_master_key` makes a new master key active and re-wraps every sealed column under
it: wallets.key_sealed (context "wallet:<id>") and users.totp_secret_enc ("totp:<id>").
Only the wrapped data keys change; the ciphertexts stay as they are.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from typing import Any, Protocol

from corridor.platform.adapters.vault import EnvelopeVault
from corridor.platform.domain.identity import User
from corridor.platform.domain.wallets import Wallet, wallet_context
from corridor.platform.services.ports import Deps

log = logging.getLogger("corridor.platform.custody")

REWRAP_PAGE = 500  # rows re-wrapped per query


class _Platform(Protocol):
    """What rotation needs of `bootstrap.Platform` (adapters do not import bootstrap)."""

    @property
    def settings(self) -> Any: ...
    @property
    def deps(self) -> Deps: ...
    @property
    def vault(self) -> EnvelopeVault: ...


def totp_context(user_id: str) -> str:
    return f"totp:{user_id}"


# (record type, sealed column, context of a row id)
SEALED_COLUMNS: tuple[tuple[type[Any], str, Callable[[str], str]], ...] = (
    (Wallet, "key_sealed", wallet_context),
    (User, "totp_secret_enc", totp_context),
)


def rotate_master_key(platform: _Platform) -> tuple[int, str]:
    """A new active master key, and every sealed value re-wrapped under it in one database
    transaction. The keyring (old keys included) is saved first: if anything fails after,
    every value still opens under the key it names. Returns (values re-wrapped, key id)."""
    vault = platform.vault
    ring = vault.keyring.rotated()
    ring.save(platform.settings.keyring_path)
    vault.keyring = ring
    count = 0
    with platform.deps.uow() as uow:
        for record_type, column, context in SEALED_COLUMNS:
            repo = uow.repo(record_type)
            offset = 0
            while True:
                rows = repo.many(limit=REWRAP_PAGE, offset=offset)
                for row in rows:
                    sealed = getattr(row, column)
                    if sealed is None:
                        continue
                    new = vault.rewrap(sealed, context(row.id))
                    if new != sealed:
                        repo.update(dataclasses.replace(row, **{column: new}))
                        count += 1
                offset += len(rows)
                if len(rows) < REWRAP_PAGE:
                    break
        uow.audit(actor_id=None, actor_kind="system", action="vault.rotate",
                  object_type="keyring", object_id=ring.active, after={"rewrapped": count})
        uow.commit()
    log.info("master key rotated to %s (%d values re-wrapped)", ring.active, count)
    return count, ring.active
