"""What an admin can get wrong in WeCom's console (api.md §20), switched on per corp, and
``agent/get`` (doc 96448), the app's own settings, which the set-up check reads.

    state.set_setup(untrusted_ip="203.0.113.9")   # 60020 on every API but gettoken
    state.set_setup(living_list=False)            # not in 上课直播「可调用接口的应用」: 48002
    state.set_setup(contacts_list=False)          # not in 家校沟通「读取家校通讯录的应用」
    state.set_setup(parent_app=False)             # not in「家长可使用的应用」(notice_api.py)
    state.set_setup(wrong_agent=True)             # the secret is another app's: 301002
    state.set_setup(secret_reset=True)            # the secret was reset: 40001 at gettoken
    state.set_setup(customized_publish_status=1)  # a 代开发 app not yet live (上线)
    state.reset()                                 # every switch off again

The control API: ``GET /sandbox/setup`` shows the switches, ``POST /sandbox/setup {...}`` sets the
ones given (the others stay), both with ``?corp=``. Answers follow api.md §20.1-20.2:

- untrusted address: ``60020 not allow to access from your ip, …, from ip: <address>, …``, the
  address being the switch's value (a string) or the caller's (``true``). Every API but
  gettoken: §20.5 proves the address with ``agent/get`` after a token was issued, as peers
  report gettoken passing where message/send meets 60020.
- 上课直播 list: ``48002 api forbidden`` on living/* and school/living/* (§0, §5).
- 家校通讯录 reads (school/department/list, school/user/*) pass with **either** the read list or
  「家长可使用的应用」 (api.md §6); with neither, ``48002 api forbidden``.
- 「家长可使用的应用」: externalcontact/message/send answers WeCom's own variant
  ``48002 api forbidden:not in parent app list`` (§20.2), get_allow_scope ``48002``.
- wrong agent: the secret belongs to another app of the corp (agent id + 1): what names the
  configured agent id (agent/get, get_allow_scope, 学校通知) answers ``301002``.
- secret reset: the console issued a new secret; every token is revoked and gettoken with the
  old one answers ``40001 invalid credential``.
- 代开发 app: agent/get carries ``customized_publish_status`` (0 待开发, 1 开发中, 2 已上线,
  3 存在未上线版本); absent for a self-built app (the default, ``None``).
"""

import secrets
from dataclasses import asdict, dataclass, replace

from .replies import ApiError

LIVING_PATHS = ("/cgi-bin/living/", "/cgi-bin/school/living/")
CONTACT_PATHS = ("/cgi-bin/school/department/", "/cgi-bin/school/user/")
PUBLISH_STATUSES = (0, 1, 2, 3)
CALLER = "*"  # untrusted_ip true: the address WeCom names is the caller's own


@dataclass(frozen=True)
class SetupSwitches:
    """Off by default: a corp whose app is set up as the README says."""

    untrusted_ip: str = ""  # the address WeCom refuses ("*": the caller's); "" = trusted
    living_list: bool = True  # in 上课直播「可调用接口的应用」
    contacts_list: bool = True  # in 家校沟通「读取家校通讯录的应用」
    wrong_agent: bool = False
    secret_reset: bool = False
    customized_publish_status: int | None = None  # None: a self-built app
    redirect_domain: str = ""  # the app's 可信域名; "" = the site's host (SITE_URL)


class SetupMixin:
    """SandboxState's console settings (it provides lock, secret, agent_id and the notices)."""

    def _clear_setup(self) -> None:
        original = getattr(self, "_setup_original", None)
        if original is None:
            self._setup_original = (self.secret, self.agent_id)
        else:
            self.secret, self.agent_id = original
        self.setup = SetupSwitches()

    def set_setup(self, *, parent_app: bool | None = None, **switches) -> dict:
        """Set the switches given (see the module docstring); the others stay. TypeError for an
        unknown name, ValueError for a bad value. Returns every switch."""
        with self.lock:
            if "untrusted_ip" in switches:
                given = switches["untrusted_ip"]
                switches["untrusted_ip"] = CALLER if given is True else (given or "")
            setup = replace(self.setup, **switches)
            if not isinstance(setup.untrusted_ip, str):
                raise ValueError("untrusted_ip is an address, true or false")
            status = setup.customized_publish_status
            if status is not None and status not in PUBLISH_STATUSES:
                raise ValueError(f"customized_publish_status must be one of {PUBLISH_STATUSES}")
            original_secret, original_agent = self._setup_original
            if setup.secret_reset and not self.setup.secret_reset:
                self.secret = "reset-" + secrets.token_urlsafe(24)
                self.revoke_tokens()
            elif not setup.secret_reset:
                self.secret = original_secret
            self.agent_id = original_agent + 1 if setup.wrong_agent else original_agent
            self.setup = setup
            if parent_app is not None:
                self.set_parent_app(parent_app)
            return self.setup_json()

    def setup_json(self) -> dict:
        with self.lock:
            return {**asdict(self.setup), "parent_app": self.parent_app}

    def setup_refusal(self, path: str, remote_addr: str) -> None:
        """Raise what WeCom answers this call when the console is set up wrongly (after the
        access token was checked); nothing when it is set up right."""
        setup = self.setup
        if setup.untrusted_ip:
            ip = remote_addr if setup.untrusted_ip == CALLER else setup.untrusted_ip
            raise ApiError(60020, "not allow to access from your ip", from_ip=ip)
        if not setup.living_list and path.startswith(LIVING_PATHS):
            raise ApiError(48002, "api forbidden")
        if path.startswith(CONTACT_PATHS) and not (setup.contacts_list or self.parent_app):
            raise ApiError(48002, "api forbidden")


def agent_get(state, request) -> dict:
    # WeCom doc 96448: agent/get, the app's settings
    raw = request.query.get("agentid", "")
    if raw == "":
        raise ApiError(41011, "missing agentid")
    if not raw.strip().isdigit():
        raise ApiError(40056, "invalid agentid")
    if int(raw) != state.agent_id:
        # The corp may have such an app, but the token is not its (api.md §20.5, inference).
        raise ApiError(301002, "not allow operate another agent with this accesstoken.")
    setup = state.setup
    answer = {
        "agentid": state.agent_id,
        "name": "school_live",
        "square_logo_url": "",
        "description": "上课直播考勤",
        "allow_userinfos": {"user": []},
        "allow_partys": {"partyid": [1]},
        "allow_tags": {"tagid": []},
        "close": 0,
        "redirect_domain": setup.redirect_domain or _site_host(),
        "report_location_flag": 0,
        "isreportenter": 0,
        "home_url": "",
    }
    if setup.customized_publish_status is not None:
        answer["customized_publish_status"] = setup.customized_publish_status
    return answer


def _site_host() -> str:
    """The host of the site's SITE_URL when Django is configured, else 127.0.0.1."""
    try:
        from urllib.parse import urlsplit

        from django.conf import settings

        return urlsplit(settings.SITE_URL).hostname or "127.0.0.1"
    except Exception:  # Django not configured: the sandbox also runs without it
        return "127.0.0.1"


def control(state, request, body_of) -> dict:
    """GET /sandbox/setup: the switches; POST: set the ones given (see the module docstring)."""
    if request.method == "POST":
        return state.set_setup(**body_of(request))  # TypeError, ValueError: the caller's 400
    return state.setup_json()
