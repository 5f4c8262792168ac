"""The vendor's data in the sandbox (suite_vendor.py): its credentials, switches and installs."""

import random
import string
from dataclasses import asdict, dataclass, field

SEND_TIMEOUT = 5
AUTH_CODE_TTL = 600  # 90642: 临时授权码 10 分钟内有效
QR_TTL = 864000  # 98744: the URL expires after 10 days
TOKEN_TTL = 7200
LOG_LIMIT = 500
_ALNUM = string.ascii_letters + string.digits
RECEIVE_IDS = ("provider", "suite")
AUTH_USERS = ("full", "no_open_userid", "absent")
PUBLISH_STATUSES = (0, 1, 2, 3)
QR_BASE = "https://open.work.weixin.qq.com/sandbox/customized_install?qr="


@dataclass(frozen=True)
class VendorCredentials:
    """What the product's WECOM_PROVIDER_* and WECOM_SUITE_* settings hold."""

    provider_corp_id: str
    suite_id: str
    provider_secret: str = field(repr=False)
    suite_secret: str = field(repr=False)
    token: str = field(repr=False)
    aes_key: str = field(repr=False)

    def as_settings(self) -> dict[str, str]:
        return {
            "WECOM_PROVIDER_CORP_ID": self.provider_corp_id,
            "WECOM_PROVIDER_SECRET": self.provider_secret,
            "WECOM_SUITE_ID": self.suite_id,
            "WECOM_SUITE_SECRET": self.suite_secret,
            "WECOM_SUITE_TOKEN": self.token,
            "WECOM_SUITE_AES_KEY": self.aes_key,
        }


def vendor_credentials(seed: int = 1) -> VendorCredentials:
    rng = random.Random(f"vendor-{seed}")
    return VendorCredentials(
        provider_corp_id="ww" + "".join(rng.choices("0123456789abcdef", k=16)),
        suite_id="dk" + "".join(rng.choices(string.ascii_lowercase + string.digits, k=16)),
        provider_secret="".join(rng.choices(_ALNUM + "-_", k=43)),
        suite_secret="".join(rng.choices(_ALNUM + "-_", k=43)),
        token="".join(rng.choices(_ALNUM, k=32)),
        aes_key="".join(rng.choices(_ALNUM, k=43)),
    )


@dataclass(frozen=True)
class Switches:
    get_receive_id: str = "provider"
    post_receive_id: str = "suite"
    auth_user: str = "full"
    publish_status: int = 1
    ticket_interval: float = 600.0


@dataclass
class Install:
    """A corp's authorisation of the template."""

    corp_id: str
    admin: str
    state: str
    installed_at: int
    permanent_code: str = field(repr=False)
    cancelled: bool = False
    publish_status: int = 1

    def public(self) -> dict:
        data = asdict(self)
        data.pop("permanent_code")
        return data
