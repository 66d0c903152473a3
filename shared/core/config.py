"""Every setting of the shop, read from the environment in one place.

Nothing else in the code reads ``os.environ``; call :func:`get_settings`.

The settings are declared as a pydantic model would be (``NAME: type = Field(...)``, checked
the way pydantic's lax mode checks them: the same constraints, the same types), but parsed by
the few lines of ``shared.core.settingsmodel`` rather than by pydantic: every function loads
them at its first call, and building pydantic's validator of ~80 fields cost each cold start
about 8% of ``import pymongo`` (issue 14). tests/unit/test_settings_model.py checks that
pydantic would accept and refuse exactly what these do.
"""
from __future__ import annotations

import ipaddress
import logging
import os
from functools import lru_cache
from typing import Any, ClassVar, Literal, Optional, Union

from shared.core.settingsmodel import Field, InvalidSettings, SettingsModel, field_validator

DEV_TOKEN_SECRET = "dev-token-secret-change-me-in-production"
DEV_MERCHANT_TOKEN = "dev-merchant-token"


class ConfigError(RuntimeError):
    """The settings are unusable (missing or dev values in production)."""


Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


@lru_cache(maxsize=8)
def parse_networks(text: str) -> tuple[Network, ...]:
    """``"10.0.0.1, 10.1.0.0/16"`` as networks; ValueError on an entry that is neither."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False)
                 for part in text.split(",") if part.strip())


class Settings(SettingsModel):
    """Unknown names are ignored; the object is frozen."""

    SHOP_ENV: Literal["dev", "test", "production"] = "dev"
    MONGODB_URI: Optional[str] = Field(default=None, description="unset: embedded mongomock")
    MONGODB_DB: str = "shop"
    TOKEN_SECRET: str = DEV_TOKEN_SECRET
    TOKEN_TTL_SECONDS: int = Field(default=7 * 24 * 3600, ge=60)
    MERCHANT_TOKEN: str = DEV_MERCHANT_TOKEN
    WX_APPID: Optional[str] = None
    WX_SECRET: Optional[str] = None
    WECHAT_API_BASE: str = "https://api.weixin.qq.com"
    WECHAT_TIMEOUT_SECONDS: float = Field(default=5.0, gt=0)
    ORDER_PAY_TIMEOUT_SECONDS: int = Field(default=900, ge=60)
    # durable events: the order_events timer delivers what is still due after this long
    ORDER_EVENTS_GRACE_SECONDS: int = Field(default=30, ge=0, le=3600)
    # how a paid order's aftermath starts after the answer: "auto" is an SCF async invoke in
    # production, a thread in dev, nothing in tests (the order_events timer delivers it)
    ORDER_EVENTS_RUNNER: Literal["auto", "scf", "thread", "none"] = "auto"
    # fair stock: what one shopper may hold in unpaid orders (shared.orders.limits); a paid
    # order no longer counts
    MAX_UNPAID_UNITS_PER_SKU: int = Field(default=20, ge=1, le=100_000)
    MAX_UNPAID_ORDERS: int = Field(default=5, ge=1, le=1000)
    TRUST_CLOUDBASE_IDENTITY: bool = False
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    TIMER_BATCH_SIZE: int = Field(default=200, ge=1, le=5000)
    # WeChat Pay v3; WXPAY_MCHID unset in dev/test means the loopback sandbox
    WXPAY_MCHID: Optional[str] = None
    WXPAY_CERT_SERIAL_NO: Optional[str] = None
    WXPAY_PRIVATE_KEY_PATH: Optional[str] = None
    WXPAY_APIV3_KEY: Optional[str] = None
    WXPAY_PUBLIC_KEY_ID: Optional[str] = None
    WXPAY_PUBLIC_KEY_PATH: Optional[str] = None
    WXPAY_NOTIFY_URL: Optional[str] = None
    WXPAY_REFUND_NOTIFY_URL: Optional[str] = None
    WXPAY_API_BASE: str = "https://api.mch.weixin.qq.com"
    WXPAY_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    PAY_RECONCILE_AFTER_SECONDS: int = Field(default=60, ge=0)
    RETURN_WINDOW_DAYS: int = Field(default=7, ge=0, le=365)
    # object storage (S3 API; Tencent COS is S3-compatible); unset endpoint in dev/test: moto
    S3_ENDPOINT_URL: Optional[str] = None
    S3_BUCKET: str = "shop-media"
    S3_REGION: str = "ap-guangzhou"
    S3_ACCESS_KEY_ID: Optional[str] = None
    S3_SECRET_ACCESS_KEY: Optional[str] = None
    TENCENTCLOUD_SECRET_ID: Optional[str] = None
    TENCENTCLOUD_SECRET_KEY: Optional[str] = None
    UPLOAD_URL_TTL_SECONDS: int = Field(default=600, ge=60, le=86400)
    # presigned uploads: the size ceiling (signed into the URL, checked again when an image is
    # used) and the image types issued, a comma-separated subset of jpeg, png, webp, gif
    UPLOAD_MAX_BYTES: int = Field(default=5 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    UPLOAD_CONTENT_TYPES: str = Field(
        default="image/jpeg,image/png,image/webp,image/gif",
        pattern=r"^image/(jpeg|png|webp|gif)(,image/(jpeg|png|webp|gif))*$")
    # the dev gateway's embedded database kept across restarts in this file (unset: memory
    # only; `make run` sets it, `make reset` deletes it)
    DEV_SNAPSHOT_PATH: Optional[str] = None
    # marketing: the outbox of subscribe messages
    QUIET_HOURS: str = Field(default="22:00-08:00",  # "off": no quiet hours
                             pattern=r"^(off|([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d)$")
    OUTBOX_MAX_ATTEMPTS: int = Field(default=5, ge=1, le=50)
    OUTBOX_BATCH_SIZE: int = Field(default=500, ge=1, le=10_000)
    # marketing timers (shared.marketing.reminders): abandoned carts and birthdays; unset ids:
    # the timer is off
    CART_REMINDER_DELAY_SECONDS: int = Field(default=86400, ge=60, le=30 * 86400)
    CART_REMINDER_TEMPLATE_ID: Optional[str] = None
    BIRTHDAY_COUPON_ID: Optional[str] = Field(default=None, description="a coupon template id")
    BIRTHDAY_TEMPLATE_ID: Optional[str] = None
    # fan-out of big jobs in batches; "auto": SCF async invoke in production, threads elsewhere
    MARKETING_BATCH_SIZE: int = Field(default=500, ge=1, le=100_000)
    FANOUT_RUNNER: Literal["auto", "inprocess", "scf"] = "auto"
    FANOUT_WORKERS: int = Field(default=4, ge=1, le=64)
    SCF_REGION: str = "ap-guangzhou"
    SCF_NAMESPACE: str = "default"
    SCF_ENDPOINT: str = "scf.tencentcloudapi.com"
    # logins (shared.accounts.users): no bucket shared by unrelated shoppers. Successful logins
    # are bounded per client IP only, sized for carrier NAT (hundreds of phones behind one
    # address); failed code exchanges per caller (CloudBase openid, else IP) and per code
    LOGIN_PER_IP_PER_MINUTE: int = Field(default=600, ge=1)
    LOGIN_FAILURES_PER_MINUTE: int = Field(default=20, ge=1)
    # comma-separated IPs/CIDRs of the proxies in front of the WSGI app; X-Forwarded-For is
    # honoured only from these (empty: trust none, the client is the socket's peer)
    TRUSTED_PROXIES: str = ""
    # the deployed name of the batch function (scripts/deploy writes it and SCF_NAMESPACE)
    FANOUT_FUNCTION: str = Field(default="marketing_push_batch",
                                 pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]$")
    COUPON_CLAIM_RATE_LIMIT_PER_MINUTE: int = Field(default=20, ge=1)
    # helps one shopper may give per day (China time) to friends' bargains / assists
    BARGAIN_DAILY_HELP_LIMIT: int = Field(default=10, ge=1)
    ASSIST_DAILY_HELP_LIMIT: int = Field(default=10, ge=1)
    # mini-program codes of shares: which build they open (check_path is on for release only)
    WXACODE_ENV_VERSION: Literal["release", "trial", "develop"] = "release"
    # members and points (shared.loyalty.members): 1 point = 1 fen off at checkout (100 points = ¥1)
    POINTS_PER_YUAN: int = Field(default=1, ge=0, le=1000, description="earned per yuan paid")
    POINTS_MAX_SHARE_PERCENT: int = Field(default=50, ge=0, le=100,
                                          description="points pay at most this share of a total")
    SIGN_IN_POINTS: int = Field(default=10, ge=1, le=100_000)
    POINTS_VALIDITY_DAYS: int = Field(default=365, ge=1, le=3650)
    # coupons about to expire get one reminder (outbox purpose coupon_expiry) this long before
    COUPON_EXPIRY_REMIND_DAYS: int = Field(default=3, ge=1, le=30)
    COUPON_EXPIRY_TEMPLATE_ID: Optional[str] = None
    # performance (issue 14): how long a warm instance keeps the merchant's shop settings
    # (member levels, referral reward); 0: read them on every call
    SHOP_SETTINGS_CACHE_SECONDS: float = Field(default=10.0, ge=0, le=600)
    # how long a warm nearby instance trusts the stores' and deals' versions it read
    NEARBY_VERSIONS_CACHE_SECONDS: float = Field(default=1.0, ge=0, le=60)
    # traceability (shared.trace): the shop's Ed25519 signing key, base64 of the 32-byte raw
    # private key (unset: dev and test make one per database; production refuses to sign).
    # Anchoring on TBaaS (长安链) is on when TBAAS_CHAIN_ID is set (with the cluster, the
    # contract and TENCENTCLOUD_SECRET_ID/KEY); the daily root is recorded locally either way
    TRACE_SIGNING_KEY: Optional[str] = None
    TBAAS_CLUSTER_ID: Optional[str] = None
    TBAAS_CHAIN_ID: Optional[str] = None
    TBAAS_CONTRACT_NAME: str = Field(default="ShopTraceAnchor", min_length=1, max_length=64)
    TBAAS_REGION: str = "ap-guangzhou"
    TBAAS_ENDPOINT: str = "tbaas.tencentcloudapi.com"

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _level_in_capitals(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("TRUSTED_PROXIES")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        parse_networks(value)  # a ValueError here names the setting in the ConfigError
        return value

    @field_validator("WX_MESSAGE_AES_KEY")
    @classmethod
    def _aes_key_decodes(cls, value: Optional[str]) -> Optional[str]:
        # WeChat's EncodingAESKey: 43 base64 characters, a 32-byte AES-256 key with "=" added
        if value is None:
            return value
        import base64
        import binascii
        try:
            key = base64.b64decode(value + "=", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("WX_MESSAGE_AES_KEY must be the 43-character EncodingAESKey") \
                from None
        if len(value) != 43 or len(key) != 32:
            raise ValueError("WX_MESSAGE_AES_KEY must be the 43-character EncodingAESKey")
        return value

    @property
    def trusted_proxies(self) -> tuple[Network, ...]:
        return parse_networks(self.TRUSTED_PROXIES)

    @property
    def interest_weights(self) -> tuple[int, int, int]:
        """(view, add-to-cart, item ordered) of INTEREST_WEIGHTS."""
        view, cart, order = (int(part) for part in self.INTEREST_WEIGHTS.split(","))
        return view, cart, order

    @property
    def is_production(self) -> bool:
        return self.SHOP_ENV == "production"

    @property
    def is_dev_or_test(self) -> bool:
        return self.SHOP_ENV in ("dev", "test")

    @property
    def upload_content_types(self) -> frozenset[str]:
        return frozenset(self.UPLOAD_CONTENT_TYPES.split(","))

    @property
    def uses_wechat_sandbox(self) -> bool:
        return not (self.WX_APPID and self.WX_SECRET)

    @property
    def uses_pay_sandbox(self) -> bool:
        return not self.WXPAY_MCHID

    def check_production(self) -> None:
        """Refuse to run production on dev keys, the sandbox or the embedded database."""
        if not self.is_production:
            return
        problems = []
        if not self.MONGODB_URI:
            problems.append("MONGODB_URI must point at a real MongoDB (no embedded database)")
        if self.TOKEN_SECRET == DEV_TOKEN_SECRET or len(self.TOKEN_SECRET) < 32:
            problems.append("TOKEN_SECRET must be a random secret of 32+ characters")
        if self.MERCHANT_TOKEN == DEV_MERCHANT_TOKEN or len(self.MERCHANT_TOKEN) < 24:
            problems.append("MERCHANT_TOKEN must be a random secret of 24+ characters")
        if self.uses_wechat_sandbox:
            problems.append("WX_APPID and WX_SECRET are required (no login sandbox)")
        if self.uses_pay_sandbox:
            problems.append("WXPAY_MCHID and its keys are required (no WeChat Pay sandbox)")
        else:
            if not (self.WXPAY_NOTIFY_URL and self.WXPAY_REFUND_NOTIFY_URL):
                problems.append("WXPAY_NOTIFY_URL and WXPAY_REFUND_NOTIFY_URL are required")
            problems.extend(self._pay_key_problems())
        if not self.S3_ENDPOINT_URL:
            problems.append("S3_ENDPOINT_URL is required (no moto object storage)")
        has_cloud_keys = bool(self.TENCENTCLOUD_SECRET_ID and self.TENCENTCLOUD_SECRET_KEY)
        if not (has_cloud_keys or (self.S3_ACCESS_KEY_ID and self.S3_SECRET_ACCESS_KEY)):
            problems.append("object storage credentials are required (TENCENTCLOUD_SECRET_ID/KEY "
                            "or S3_ACCESS_KEY_ID/S3_SECRET_ACCESS_KEY)")
        if self.FANOUT_RUNNER in ("auto", "scf") and not has_cloud_keys:
            problems.append("TENCENTCLOUD_SECRET_ID/KEY are required to invoke fan-out batches")
        problems.extend(self._trace_problems(has_cloud_keys))
        if problems:
            raise ConfigError("production refuses to start: " + "; ".join(problems))

    # A/B tests (shared.insight.experiments): how long a warm instance keeps an experiment
    # (its variants and window; an unknown key too) for get_experiment_variant; 0: read it on
    # every call
    EXPERIMENTS_CACHE_SECONDS: float = Field(default=10.0, ge=0, le=600)

    # insight (tracking, profiles and tags; shared.insight): events are kept this long (a TTL
    # index on a real server, the insight_rollup timer on the embedded one)
    EVENTS_RETENTION_DAYS: int = Field(default=90, ge=1, le=3650)
    # interest per category: what a view, an add-to-cart and an item ordered weigh
    # ("view,cart,order"), halved every INTEREST_HALF_LIFE_DAYS of age
    INTEREST_WEIGHTS: str = Field(default="1,3,10", pattern=r"^\d{1,4},\d{1,4},\d{1,4}$")
    INTEREST_HALF_LIFE_DAYS: float = Field(default=14, gt=0, le=3650)
    # the insight_rollup timer reads this many events a chunk (at most 40 chunks a run); the
    # tags_refresh timer and merchant_refresh_tags evaluate at most this many users a run
    INSIGHT_ROLLUP_BATCH_SIZE: int = Field(default=5000, ge=10, le=100_000)
    TAGS_REFRESH_MAX_USERS: int = Field(default=20_000, ge=1, le=10_000_000)

    # forecasting and restock advice (shared.forecast); its other numbers are constants there:
    # the gateway function carries every setting and has room for few more (4 KB on SCF)
    RESTOCK_SERVICE_LEVEL: float = Field(default=0.95, ge=0.5, le=0.999,
                                         description="chance of not running out in a lead time")
    RESTOCK_LEAD_TIME_DAYS: int = Field(default=7, ge=1, le=365,
                                        description="lead time of a product without its own")

    # recommendation (shared.reco): how long a warm instance trusts the model version it read
    # before reading it again (a new model shows within this)
    RECO_MODEL_CHECK_SECONDS: float = Field(default=60.0, ge=0, le=3600)

    # assistant (issue 18, shared.assistant): conversations kept this long after their last
    # message; the WeChat customer-service push (GET|POST /wechat/message): its Token (unset:
    # no such route) and EncodingAESKey (43 characters; unset: plain mode only; JSON or XML
    # is read from the push itself); the optional LLM: a Tencent Hunyuan model (unset: off;
    # TENCENTCLOUD_SECRET_ID/KEY sign its calls)
    ASSISTANT_RETENTION_DAYS: int = Field(default=30, ge=1, le=365)
    WX_MESSAGE_TOKEN: Optional[str] = Field(default=None, min_length=3, max_length=32,
                                            pattern=r"^[A-Za-z0-9]+$")
    WX_MESSAGE_AES_KEY: Optional[str] = None
    HUNYUAN_MODEL: Optional[str] = Field(default=None, max_length=32,
                                         pattern=r"^[A-Za-z0-9._-]+$")

    # live commerce and community selling (shared.live): the live_sync timer pulls the
    # live-player plugin's rooms only for a shop that has the plugin; a shopper who subscribed
    # to a room gets its start reminder (10 minutes before) with this subscribe template.
    # Short names: the gateway's environment holds every setting within SCF's 4 KB
    LIVE_PLUGIN: bool = False
    LIVE_TEMPLATE_ID: Optional[str] = None

    # the mini-program's search page (issue 21, shared.insight.search): how long a warm
    # instance keeps the hot keywords (hot_searches) before counting them again
    HOT_SEARCHES_CACHE_SECONDS: float = Field(default=300.0, ge=0, le=3600)

    # checked at start only where a function is given them (a bad key refuses to start); not
    # required by every function, so the deploy hands them only to the functions that pay
    CHECKED_WHEN_SET: ClassVar[frozenset[str]] = frozenset(
        {"WXPAY_PRIVATE_KEY_PATH", "WXPAY_PUBLIC_KEY_PATH", "WXPAY_APIV3_KEY",
         "TRACE_SIGNING_KEY", "TBAAS_CHAIN_ID", "TBAAS_CLUSTER_ID", "WX_MESSAGE_AES_KEY"})

    def _trace_problems(self, has_cloud_keys: bool) -> list[str]:
        """The trace key and the TBaaS anchoring, where a function is given them: a function
        that signs refuses a malformed key at start, and signs nothing without one."""
        problems = []
        if self.TRACE_SIGNING_KEY is not None and not _is_raw_key(self.TRACE_SIGNING_KEY):
            problems.append("TRACE_SIGNING_KEY must be base64 of a 32-byte Ed25519 private key")
        if self.TBAAS_CHAIN_ID and not (self.TBAAS_CLUSTER_ID and has_cloud_keys):
            problems.append("TBAAS_CHAIN_ID needs TBAAS_CLUSTER_ID and "
                            "TENCENTCLOUD_SECRET_ID/KEY")
        return problems

    def _pay_key_problems(self) -> list[str]:
        """WeChat Pay's keys, checked at start rather than at the first payment."""
        problems = []
        for name in ("WXPAY_PRIVATE_KEY_PATH", "WXPAY_PUBLIC_KEY_PATH"):
            path = getattr(self, name)
            if path and not _is_pem_file(path):
                problems.append(f"{name} must name a readable PEM key file")
        if self.WXPAY_APIV3_KEY is not None and len(self.WXPAY_APIV3_KEY.encode()) != 32:
            problems.append("WXPAY_APIV3_KEY must be exactly 32 bytes "
                            f"(it is {len(self.WXPAY_APIV3_KEY.encode())})")
        return problems


def _is_pem_file(path: str) -> bool:
    try:
        with open(path, "rb") as file:
            head = file.read(4096)
    except OSError:
        return False
    return b"-----BEGIN " in head


def _is_raw_key(text: str) -> bool:
    import base64
    import binascii
    try:
        return len(base64.b64decode(text.strip(), validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


def _apply_log_level(settings: Settings) -> None:
    logging.getLogger("shop").setLevel(settings.LOG_LEVEL)


_settings: Optional[Settings] = None


def _from_environment() -> Settings:
    names = Settings.model_fields.keys()
    values = {name: os.environ[name] for name in names if os.environ.get(name, "") != ""}
    try:
        settings = Settings(**values)
    except InvalidSettings as exc:
        raise ConfigError(f"invalid settings: {', '.join(exc.fields)}") from None
    settings.check_production()
    _apply_log_level(settings)
    return settings


def get_settings() -> Settings:
    """The settings of this warm instance, read once."""
    global _settings
    if _settings is None:
        _settings = _from_environment()
    return _settings


def reset_settings() -> None:
    """Forget the cached settings (tests and the dev server change the environment)."""
    global _settings
    _settings = None
