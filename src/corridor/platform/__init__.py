"""The payment institution's platform: customers, staff, KYC, custody, payments.

domain    pure business rules and records (no I/O)
services  use cases, each a function over one unit of work (one DB transaction)
adapters  SQLAlchemy tables and repositories, Alembic migrations, key vault, file store,
          node RPC client, notifier outbox
bootstrap the one composition root that wires adapters into services
"""
