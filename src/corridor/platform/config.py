"""Platform settings: safe defaults for development, read from the environment
(``CORRIDOR_*``) or a TOML file, and a refusal to run in production on development secrets.

| variable                    | default                              |
|-----------------------------|--------------------------------------|
| CORRIDOR_MODE               | development (or production)          |
| CORRIDOR_HOME               | .corridor/local (the `corridor up` home) |
| CORRIDOR_DATA_DIR           | <CORRIDOR_HOME>/platform, where `corridor up` keeps it |
| CORRIDOR_DATABASE_URL       | sqlite:///<data dir>/platform.db     |
| CORRIDOR_KEYRING            | <data dir>/master-keys.json          |
| CORRIDOR_NODE_RPC           | http://127.0.0.1:26657               |
| CORRIDOR_NODE_RPC_TOKEN     | (a client token of the node's RPC, if its access mode asks) |
| CORRIDOR_ISSUER_KEY         | (key file of the asset issuer)       |
| CORRIDOR_OPERATOR_KEY       | (key file of the account that opens customer accounts) |
| CORRIDOR_RAIL_WEBHOOK_SECRET | (dev: made in <data dir>/rail-webhook-secret; prod: needed) |
| CORRIDOR_DEV_SIM_BANK       | false (true: any user may play the bank at /v1/dev/sim-bank/*) |
| CORRIDOR_DB_POOL_MAX        | 30 PostgreSQL connections a process (serve shares 90 out) |
| CORRIDOR_TRUSTED_PROXIES    | (none) proxies whose X-Forwarded-For counts, e.g. 10.0.0.0/8 |
| CORRIDOR_ORGS_PER_CUSTOMER_MAX | 5 organisations a customer may create |
| CORRIDOR_WALLETS_PER_ORG_MAX | 10 wallets of one organisation       |
| CORRIDOR_RETENTION_YEARS    | 5 years records are kept after a relationship ends (5 at least) |
| CORRIDOR_REPORT_ENTITY_ID / _NAME | the reporting institution in suspicious-transaction reports |
| CORRIDOR_WEBHOOK_ALLOW_NETWORKS | (none) CIDRs webhooks may reach though internal (dev) |
| CORRIDOR_AUTHENTICITY_USD_MINOR | 500000 (US cents): trade payments abroad need documents |
| CORRIDOR_CASE_SLA           | high=4/24,normal=24/120,info_days=5: compliance case SLA hours |
| CORRIDOR_AML_MONITORING     | true (0: the AML rules engine off; screening stays on) |
| CORRIDOR_COMPLIANCE_OFF     | false (true: no monitor at all; the payments bench only) |
| CORRIDOR_CONFIG             | a TOML file with the same keys in lower case, no prefix |
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path

MODES = ("development", "production")
UPLOAD_BYTES_MAX = 5 * 1024 * 1024
RAIL_WEBHOOK_SECRET_LEN_MIN = 32
# Where development keeps the rail webhook secret it generated on first start (0600).
RAIL_WEBHOOK_SECRET_FILE = "rail-webhook-secret"
DB_POOL_MAX_DEFAULT = 30  # PostgreSQL connections one process may hold (SQLite: unused)
DB_POOL_MAX_MIN = 2  # a unit of work and a poll at the same time
# Each organisation and wallet opens an account on chain: bounded per customer (issue 14/9).
ORGS_PER_CUSTOMER_MAX = 5  # organisations one customer may create
WALLETS_PER_ORG_MAX = 10  # wallets (custodial or registered keys) of one organisation
RETENTION_YEARS_MIN = 5  # AML record keeping (FATF R.11): five years after the relationship


# The home `corridor up` runs in; its `platform` directory is the data directory by default,
# so every `corridor platform` command finds the database `up` made (issue 15).
HOME_ENV = "CORRIDOR_HOME"
HOME_DEFAULT = Path(".corridor/local")


class ConfigError(Exception):
    """Settings the platform refuses to start with."""


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    mode: str = "development"
    data_dir: Path = HOME_DEFAULT / "platform"
    database_url: str = ""  # empty: SQLite in data_dir
    keyring: Path | None = None  # None: data_dir/master-keys.json
    node_rpc: str = "http://127.0.0.1:26657"
    node_rpc_token: str = ""  # sent as a bearer token to the node (docs/node-rpc-access.md)
    issuer_key: Path | None = None
    operator_key: Path | None = None
    upload_bytes_max: int = UPLOAD_BYTES_MAX
    fast_password_hashing: bool = False  # tests only; refused in production
    # HMAC key of the rail's webhooks, shared with the bank. Empty: development generates
    # a random one on first start and keeps it in the data dir; production refuses to start.
    rail_webhook_secret: str = ""
    # Development only: any signed-in user may play the customer's bank (/v1/dev/sim-bank/*);
    # without it only staff may. Refused in production.
    dev_sim_bank: bool = False
    db_pool_max: int = DB_POOL_MAX_DEFAULT
    # Reverse proxies (addresses or networks) whose X-Forwarded-For names the client. None
    # by default: the client is the TCP peer, and a forged header changes nothing.
    trusted_proxies: tuple[str, ...] = ()
    orgs_per_customer_max: int = ORGS_PER_CUSTOMER_MAX
    wallets_per_org_max: int = WALLETS_PER_ORG_MAX
    # Internal networks (e.g. "127.0.0.1/32") webhooks may target anyway: a local receiver
    # in development and tests. Empty: only public addresses (refused in production).
    webhook_allow_networks: tuple[str, ...] = ()
    # The AML rules engine in the payment path (bootstrap.monitors_of), its window of
    # history rebuilt from the store at start. CORRIDOR_AML_MONITORING=0 turns it off.
    aml_monitoring: bool = True
    # No monitor at all (no screening, no AML): only for `corridor bench payments`' leg that
    # measures the platform without compliance, to report `compliance_ratio`. Refused in
    # production.
    compliance_off: bool = False
    # Suspicious-transaction reports (issue 16): the reporting institution, as the FIU knows it.
    report_entity_id: str = "corridor"
    report_entity_name: str = "Corridor"
    # Years CDD records, transactions and reports are kept after the relationship ends
    # (domain/retention.py): the law's five at least, configurable upward only.
    retention_years: int = RETENTION_YEARS_MIN
    # Cross-border payments of a trade or service purpose from this USD equivalent (cents)
    # are held for supporting documents (domain/authenticity.py; issue 16).
    authenticity_usd_minor: int = 500_000
    # Compliance cases' SLA (domain/cases.py parse_policy): hours to the first action and
    # to the resolution per severity, and the days a customer has to answer a request.
    case_sla: str = ""

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'platform.db'}"

    @property
    def keyring_path(self) -> Path:
        return self.keyring or self.data_dir / "master-keys.json"


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _convert(name: str, value: object) -> object:
    if name in ("data_dir", "keyring", "issuer_key", "operator_key"):
        return Path(str(value)) if value not in (None, "") else None
    if name in ("upload_bytes_max", "db_pool_max", "orgs_per_customer_max",
                "wallets_per_org_max", "retention_years", "authenticity_usd_minor"):
        try:
            return int(str(value))
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if name in ("fast_password_hashing", "dev_sim_bank", "aml_monitoring", "compliance_off"):
        return str(value).lower() in ("1", "true", "yes")
    if name in ("trusted_proxies", "webhook_allow_networks"):
        return _networks(name, value)
    return str(value)


def _networks(name: str, value: object) -> tuple[str, ...]:
    """A list of IP addresses or CIDR networks (a TOML list, or comma-separated text)."""
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    networks = tuple(str(i).strip() for i in items if str(i).strip())
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(f"CORRIDOR_{name.upper()}: {network!r} is not an IP address or "
                              "CIDR network") from None
    return networks


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Settings from (lowest first) defaults, CORRIDOR_CONFIG's TOML, the environment,
    then explicit overrides (the CLI's options)."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}
    config_file = env.get("CORRIDOR_CONFIG")
    if config_file:
        try:
            doc = tomllib.loads(Path(config_file).read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read {config_file}: {exc}") from None
        unknown = set(doc) - set(_FIELDS)
        if unknown:
            raise ConfigError(f"{config_file}: unknown settings {sorted(unknown)}")
        values.update(doc)
    for name in _FIELDS:
        key = f"CORRIDOR_{name.upper()}"
        if key in env:
            values[name] = env[key]
    values.update({k: v for k, v in overrides.items() if v is not None})
    values.setdefault("data_dir", default_data_dir(env))
    settings = Settings(**{k: _convert(k, v) for k, v in values.items()})  # type: ignore[arg-type]
    if settings.mode not in MODES:
        raise ConfigError(f"CORRIDOR_MODE must be one of {MODES}, not {settings.mode!r}")
    if settings.data_dir is None:
        raise ConfigError("CORRIDOR_DATA_DIR must not be empty")
    if settings.db_pool_max < DB_POOL_MAX_MIN:
        raise ConfigError(f"CORRIDOR_DB_POOL_MAX must be at least {DB_POOL_MAX_MIN}")
    if settings.retention_years < RETENTION_YEARS_MIN:
        raise ConfigError(f"CORRIDOR_RETENTION_YEARS must be at least {RETENTION_YEARS_MIN}")
    return settings


def default_data_dir(env: Mapping[str, str]) -> Path:
    """Where `corridor up` keeps the platform's data: `platform` in CORRIDOR_HOME (an empty
    value counts as unset)."""
    return Path(env.get(HOME_ENV) or HOME_DEFAULT) / "platform"


def sqlite_path(settings: Settings) -> Path | None:
    """The database file when the database is SQLite on disk, else None."""
    url = settings.db_url
    if not url.startswith("sqlite:///") or ":memory:" in url or "mode=memory" in url:
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0])


def private_paths(settings: Settings) -> list[Path]:
    """Files and directories holding secrets or personal data: only the platform's own
    user may read them (directories 0700, files 0600)."""
    paths = [settings.data_dir, settings.data_dir / "files", settings.keyring_path]
    db = sqlite_path(settings)
    if db is not None:
        paths += [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
    paths += [p for p in (settings.issuer_key, settings.operator_key) if p is not None]
    return paths


def permission_problems(settings: Settings) -> list[str]:
    """Private paths (see `private_paths`) that other users of the host can open."""
    problems = []
    for path in private_paths(settings):
        try:
            mode = path.stat().st_mode
        except OSError:
            continue  # not there (yet): created private
        if mode & 0o077:
            want = "700" if path.is_dir() else "600"
            problems.append(f"{path} is open to other users (mode {mode & 0o777:o}; "
                            f"run: chmod {want} {path})")
    return problems


def production_problems(settings: Settings, *, keyring_is_development: bool) -> list[str]:
    """Why these settings must not run in production (empty when they may)."""
    if not settings.production:
        return []
    problems = []
    if keyring_is_development:
        problems.append("the master keyring is a generated development keyring")
    if settings.fast_password_hashing:
        problems.append("fast (test) password hashing is on")
    if settings.db_url.startswith("sqlite") and ":memory:" in settings.db_url:
        problems.append("an in-memory database loses everything on restart")
    problems += permission_problems(settings)
    if settings.webhook_allow_networks:
        problems.append("webhook_allow_networks lets webhooks reach internal addresses "
                        "(development only)")
    if settings.dev_sim_bank:
        problems.append("the simulated bank is open to every user (dev_sim_bank)")
    if settings.compliance_off:
        problems.append("compliance monitoring is off (compliance_off: benchmarks only)")
    if not settings.rail_webhook_secret:
        problems.append("no rail webhook secret is set (CORRIDOR_RAIL_WEBHOOK_SECRET)")
    elif len(settings.rail_webhook_secret) < RAIL_WEBHOOK_SECRET_LEN_MIN:
        problems.append(f"the rail webhook secret is shorter than "
                        f"{RAIL_WEBHOOK_SECRET_LEN_MIN} characters")
    return problems
