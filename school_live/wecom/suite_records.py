"""What the vendor's 代开发 calls answer (api.md §18), as small frozen records read at the boundary.

The school's secret, ``permanent_code``, is never in a repr. ``auth_user_info`` may be absent or
empty (peer WxJava), so the admin who scanned is ``None`` then. ``is_customized_app`` is read but
nothing relies on it: the official sample shows ``false`` for a 代开发 app (a copy-paste slip).
"""

from dataclasses import dataclass, field

from school_live.wecom.reader import Reader, Record, wecom


@dataclass(frozen=True, slots=True)
class AuthUrl(Record):
    """get_customized_auth_url (98744): the install QR's URL, to be drawn as a QR code."""

    qrcode_url: str = wecom("string", required=True)
    expires_in: int = wecom("integer", default=0)  # seconds; 864000 (10 days)


@dataclass(frozen=True, slots=True)
class AuthCorp(Record):
    # Exactly as WeCom gives it: an encrypted corp id is case-sensitive (api.md §18.13).
    corpid: str = wecom("string", required=True)
    corp_name: str = wecom("string")
    corp_full_name: str = wecom("string")


@dataclass(frozen=True, slots=True)
class Privilege(Record):
    """The app's 可见范围 in the school: departments, members and tags, and the contact level."""

    level: int = wecom("integer")
    allow_party: tuple[int, ...] = wecom("integers")
    allow_user: tuple[str, ...] = wecom("strings")
    allow_tag: tuple[int, ...] = wecom("integers")

    def as_json(self) -> dict:
        return {
            "level": self.level,
            "allow_party": list(self.allow_party),
            "allow_user": list(self.allow_user),
            "allow_tag": list(self.allow_tag),
        }


@dataclass(frozen=True, slots=True)
class AuthAgent:
    """One app of the authorisation (``auth_info.agent[]``): the school's 代开发 app."""

    agentid: int
    name: str
    auth_mode: int  # 0 管理员授权, 1 成员授权
    is_customized_app: bool
    privilege: Privilege

    @classmethod
    def from_wecom(cls, r: Reader) -> "AuthAgent":
        customized = r.data.get("is_customized_app", False)
        if not isinstance(customized, bool):
            raise r.fail("is_customized_app", "must be true or false", customized)
        return cls(
            agentid=r.integer("agentid", required=True),
            name=r.string("name"),
            auth_mode=r.integer("auth_mode"),
            is_customized_app=customized,
            privilege=Privilege.from_wecom(r.obj("privilege")),
        )


@dataclass(frozen=True, slots=True)
class AuthUser(Record):
    """The admin who scanned the QR (``auth_user_info``)."""

    userid: str = wecom("string")
    open_userid: str = wecom("string")
    name: str = wecom("string")


def _agents(r: Reader) -> tuple[AuthAgent, ...]:
    return tuple(AuthAgent.from_wecom(item) for item in r.obj("auth_info").objs("agent"))


@dataclass(frozen=True, slots=True)
class PermanentCode:
    """get_permanent_code (97163): the school's secret and who the school is."""

    permanent_code: str = field(repr=False)
    corp: AuthCorp
    agents: tuple[AuthAgent, ...]
    user: AuthUser | None  # None when WeCom named nobody
    state: str  # the install link's state, echoed

    @classmethod
    def from_wecom(cls, r: Reader) -> "PermanentCode":
        user = AuthUser.from_wecom(r.obj("auth_user_info"))
        return cls(
            permanent_code=r.string("permanent_code", required=True),
            corp=AuthCorp.from_wecom(r.obj("auth_corp_info")),
            agents=_agents(r),
            user=user if user.userid or user.open_userid else None,
            state=r.string("state"),
        )

    @property
    def agent(self) -> AuthAgent | None:
        """The installed app: one agent for a single-app authorisation."""
        return self.agents[0] if self.agents else None


@dataclass(frozen=True, slots=True)
class AuthInfo:
    """get_auth_info (100795): the authorisation as it is now."""

    corp: AuthCorp
    agents: tuple[AuthAgent, ...]

    @classmethod
    def from_wecom(cls, r: Reader) -> "AuthInfo":
        return cls(corp=AuthCorp.from_wecom(r.obj("auth_corp_info")), agents=_agents(r))

    @property
    def agent(self) -> AuthAgent | None:
        return self.agents[0] if self.agents else None
