"""The repositories' statements run straight on the driver (sqlite3, psycopg:
adapters/direct_sql.py) read and write exactly what SQLAlchemy does: JSON, booleans and
nulls round-trip, filters by tuples of any length, bounds, paging, counts and tallies agree
with a plain SQLAlchemy query, and the driver's errors come out as SQLAlchemy's."""

from __future__ import annotations

import dataclasses

import psycopg
import pytest
import sqlalchemy as sa

from corridor.platform import bootstrap
from corridor.platform.adapters.db import IN_FAST_MAX, SqlUnitOfWork, table_of
from corridor.platform.adapters.record_codec import codec
from corridor.platform.domain.errors import PlatformError
from corridor.platform.domain.payments import Payment
from corridor.platform.domain.wallets import Wallet
from corridor.platform.services import retention
from tests.platform.payment_records import make_payment, make_wallet


def _plain(platform: bootstrap.Platform, record_type: type,
           **eq: object) -> list[dict[str, object]]:
    """Rows as SQLAlchemy itself reads them (no repository involved)."""
    table = table_of(record_type)
    query = sa.select(table).order_by(table.c.id)
    for name, value in eq.items():
        query = query.where(table.c[name] == value)
    with platform.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(query)]


def test_values_round_trip_as_through_sqlalchemy(platform: bootstrap.Platform) -> None:
    payer = make_wallet(platform, "u1")
    observer = make_wallet(platform, "u2", custodial=False)
    p = make_payment(platform, payer, status="failed", recipient_address="cX",
                     recipient_bank={"name": "Ann", "iban": "DE89370400440532013000"})
    with platform.deps.uow() as uow:
        got = uow.repo(Payment).get(p.id)
        assert got == p and isinstance(got.history, tuple)
        assert uow.repo(Wallet).get(observer.id) == observer  # False and None come back
        assert uow.repo(Wallet).one(custodial=False) == observer
        changed = dataclasses.replace(p, recipient_bank=None, history=(), memo="é ✓")
        uow.repo(Payment).update(changed)
        uow.commit()
    [row] = _plain(platform, Payment, id=p.id)
    assert row == codec(Payment).values(changed)  # what SQLAlchemy reads is what was written
    [w] = _plain(platform, Wallet, id=observer.id)
    assert w["custodial"] is False and w["key_sealed"] is None


def test_filters_bounds_paging_and_tallies_agree(platform: bootstrap.Platform) -> None:
    payer = make_wallet(platform, "u1")
    statuses = ["credited", "failed", "submitted", "ready", "draft", "final", "included",
                "cancelled", "expired", "rejected"]
    made = [make_payment(platform, payer, status=s, created_ms=1_000 + i)
            for i, s in enumerate(statuses)]
    with platform.deps.reader() as uow:
        repo = uow.repo(Payment)
        assert isinstance(uow, SqlUnitOfWork)
        for n in (1, 2, IN_FAST_MAX, IN_FAST_MAX + 1, len(statuses)):
            wanted = tuple(statuses[:n])  # past IN_FAST_MAX: the SQLAlchemy path
            got = repo.many(status=wanted, order_by="created_ms")
            assert [p.id for p in got] == [p.id for p in made[:n]]
            assert repo.count(status=wanted) == n
        page = repo.many(owner_id="u1", order_by="created_ms", descending=True, limit=3,
                         offset=2)
        assert [p.id for p in page] == [p.id for p in reversed(made)][2:5]
        window = repo.many(above={"created_ms": 1_002}, below={"created_ms": 1_006},
                           order_by="created_ms")
        assert [p.created_ms for p in window] == [1_003, 1_004, 1_005]
        assert repo.one(tx_id=None, status="failed") == made[1]
        assert repo.one(status="nothing") is None
        tally = dict(repo.tally(("status", "sell_code"), owner_id="u1",
                                above={"created_ms": 1_007}))
        assert tally == {("expired", "USD"): 1, ("rejected", "USD"): 1}
    # a payment is in the retention scope: a plain delete is refused and changes nothing
    with platform.deps.uow() as uow, pytest.raises(PlatformError) as refused:
        uow.repo(Payment).delete(made[0].id)
    assert refused.value.code == "RETENTION_HELD"
    assert len(_plain(platform, Payment)) == len(statuses)
    # the guard's own permit lets the adapter delete it (what the retention purge does)
    with platform.deps.uow() as uow, retention._permit(Payment, made[0].id):
        uow.repo(Payment).delete(made[0].id)
        uow.commit()
    assert len(_plain(platform, Payment)) == len(statuses) - 1


def test_a_driver_error_comes_out_as_sqlalchemys(platform: bootstrap.Platform) -> None:
    """A duplicate key is SQLAlchemy's IntegrityError (the API answers it with 409), and
    the transaction is left to roll back as through SQLAlchemy."""
    wallet = make_wallet(platform, "u1")
    with (SqlUnitOfWork(platform.engine, platform.deps.clock) as uow,
          pytest.raises(sa.exc.IntegrityError)):
        uow.repo(Wallet).add(wallet)
    with SqlUnitOfWork(platform.engine, platform.deps.clock) as uow:
        assert uow.repo(Wallet).get(wallet.id) == wallet


def test_a_connection_the_server_dropped_fails_once_then_the_pool_opens_a_new_one(
    platform: bootstrap.Platform,
) -> None:
    """PostgreSQL without pre-ping: the server ends every connection (as a restart does);
    the first statement to meet a dead one fails as SQLAlchemy's disconnect error, and the
    next unit of work gets a working connection."""
    engine = platform.engine
    if engine.dialect.name == "sqlite":
        pytest.skip("no server to drop the connection")
    wallet = make_wallet(platform, "u1")
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:  # not one of the pool's
        admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                      "WHERE datname = current_database() AND pid <> pg_backend_pid()")
    with (SqlUnitOfWork(engine, platform.deps.clock, read_only=True) as uow,
          pytest.raises(sa.exc.DBAPIError) as caught):
        uow.repo(Wallet).get(wallet.id)
    assert caught.value.connection_invalidated
    with SqlUnitOfWork(engine, platform.deps.clock, read_only=True) as uow:
        assert uow.repo(Wallet).get(wallet.id) == wallet
