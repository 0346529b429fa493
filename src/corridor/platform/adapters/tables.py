"""Imports every table module so `db.metadata` is complete (migrations, schema set-up).
Each area adds its own line."""
# ruff: noqa: F401, I001

from corridor.platform.adapters import tables_core
from corridor.platform.adapters import tables_orgs
from corridor.platform.adapters import tables_wallets
from corridor.platform.adapters import tables_kyc
from corridor.platform.adapters import tables_payments
from corridor.platform.adapters import tables_refunds
from corridor.platform.adapters import tables_rails
from corridor.platform.adapters import tables_webhooks
from corridor.platform.adapters import tables_holds
from corridor.platform.adapters import tables_idempotency
from corridor.platform.adapters import tables_notifications
from corridor.platform.adapters import tables_screening
from corridor.platform.adapters import tables_freezes
from corridor.platform.adapters import tables_compliance
from corridor.platform.adapters import tables_reports
from corridor.platform.adapters import tables_risk
from corridor.platform.adapters import tables_authenticity
from corridor.platform.adapters import tables_cases
from corridor.platform.adapters import tables_aml
from corridor.platform.adapters import tables_apikeys
from corridor.platform.adapters import tables_collections
from corridor.platform.adapters import tables_approvals
from corridor.platform.adapters import tables_batches
