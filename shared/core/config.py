"""Every setting of the shop, read from the environment in one place.

Nothing else in the code reads ``os.environ``; call :func:`get_settings`.
"""
from __future__ import annotations

import os
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

DEV_TOKEN_SECRET = "dev-token-secret-change-me-in-production"
DEV_MERCHANT_TOKEN = "dev-merchant-token"


class ConfigError(RuntimeError):
    """The settings are unusable (missing or dev values in production)."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

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
    TRUST_CLOUDBASE_IDENTITY: bool = False
    LOG_LEVEL: str = "INFO"
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
    # the deployed name of the batch function (scripts/deploy writes it and SCF_NAMESPACE)
    FANOUT_FUNCTION: str = Field(default="marketing_push_batch",
                                 pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,58}[A-Za-z0-9]$")
    LOGIN_RATE_LIMIT_PER_MINUTE: int = Field(default=30, ge=1)
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

    @property
    def is_production(self) -> bool:
        return self.SHOP_ENV == "production"

    @property
    def is_dev_or_test(self) -> bool:
        return self.SHOP_ENV in ("dev", "test")

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
        elif not (self.WXPAY_NOTIFY_URL and self.WXPAY_REFUND_NOTIFY_URL):
            problems.append("WXPAY_NOTIFY_URL and WXPAY_REFUND_NOTIFY_URL are required")
        if not self.S3_ENDPOINT_URL:
            problems.append("S3_ENDPOINT_URL is required (no moto object storage)")
        has_cloud_keys = bool(self.TENCENTCLOUD_SECRET_ID and self.TENCENTCLOUD_SECRET_KEY)
        if not (has_cloud_keys or (self.S3_ACCESS_KEY_ID and self.S3_SECRET_ACCESS_KEY)):
            problems.append("object storage credentials are required (TENCENTCLOUD_SECRET_ID/KEY "
                            "or S3_ACCESS_KEY_ID/S3_SECRET_ACCESS_KEY)")
        if self.FANOUT_RUNNER in ("auto", "scf") and not has_cloud_keys:
            problems.append("TENCENTCLOUD_SECRET_ID/KEY are required to invoke fan-out batches")
        if problems:
            raise ConfigError("production refuses to start: " + "; ".join(problems))


_settings: Optional[Settings] = None


def _from_environment() -> Settings:
    names = Settings.model_fields.keys()
    values = {name: os.environ[name] for name in names if os.environ.get(name, "") != ""}
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        fields = ", ".join(str(err["loc"][0]) for err in exc.errors())
        raise ConfigError(f"invalid settings: {fields}") from None
    settings.check_production()
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
