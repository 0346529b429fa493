"""The composition root: the one place adapters are chosen and wired into services."""

from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy.engine import Engine

from corridor.platform.adapters import schema
from corridor.platform.adapters.db import SqlUnitOfWork, make_engine
from corridor.platform.adapters.system import Argon2Hasher, SystemClock, SystemRandomness
from corridor.platform.adapters.vault import EncryptedFileStore, EnvelopeVault, Keyring
from corridor.platform.config import ConfigError, Settings, production_problems
from corridor.platform.services.ports import Clock, Deps, Randomness


@dataclasses.dataclass
class Platform:
    settings: Settings
    engine: Engine
    deps: Deps
    vault: EnvelopeVault

    def close(self) -> None:
        self.engine.dispose()


def load_keyring(settings: Settings) -> Keyring:
    path = settings.keyring_path
    if path.exists():
        return Keyring.load(path)
    if settings.production:
        raise ConfigError(f"production needs a master keyring at {path} (corridor platform keys)")
    ring = Keyring.generate(development=True)
    ring.save(path)
    return ring


def build(
    settings: Settings,
    *,
    clock: Clock | None = None,
    rand: Randomness | None = None,
    extras: dict[str, Any] | None = None,
) -> Platform:
    """Opens (and migrates) the database and wires every port. Refuses unsafe production."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keyring = load_keyring(settings)
    problems = production_problems(settings, keyring_is_development=keyring.development)
    if problems:
        raise ConfigError("refusing to start in production: " + "; ".join(problems))
    engine = make_engine(settings.db_url)
    schema.upgrade(engine)
    clock = clock or SystemClock()
    vault = EnvelopeVault(keyring)
    deps = Deps(
        uow=lambda: SqlUnitOfWork(engine, clock),
        clock=clock,
        rand=rand or SystemRandomness(),
        hasher=Argon2Hasher(fast_for_tests=settings.fast_password_hashing),
        sealer=vault,
        files=EncryptedFileStore(settings.data_dir / "files", vault),
        settings=settings,
        extras=dict(extras or {}),
    )
    return Platform(settings, engine, deps, vault)
