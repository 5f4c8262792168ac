"""Several corps (schools) in one sandbox, as a vendor's deployment meets them.

    district = SandboxDistrict.generate(3, seed=1)      # three corps, the same ids in each
    with SandboxServer(district) as server:
        district.corp_ids                                # [first (default), second, third]
        district[corp_id].set_faults(busy=0.2, seed=7)   # one school's WeCom is unwell

Each corp is a whole SandboxState: its own corp id, app secret, agent id, callback Token and
EncodingAESKey, school, tokens, OAuth codes, tickets, faults, messages, notices, call log and
clock. The server finds the corp of a request by what WeCom would know it by (app.py): gettoken
by ``corpid`` (then ``corpsecret`` must be that corp's), the OAuth screen by ``appid``, every other
call by the corp that issued its access token; the control API by ``?corp=<corp id>``. A request
that names no corp, or one no corp knows, goes to the first (default) corp, whose checks refuse it
exactly as a one-corp sandbox does.

The generated schools share the layout and ``seed`` and differ by ``data_seed`` (school.py): every
corp has department 1, the same classes and the same teacher, student and parent userids, with
other names, contacts, lessons and watch data. A join that forgets the school shows at once.

Credentials are made up from ``seed``, so any process can make them again with the same call:
the first corp's id is plaintext-shaped (``ww`` and 16 hex digits, a school's self-built app),
the others encrypted-shaped (``wp`` and 30 letters and digits of both cases, a vendor's 代开发 app;
api.md §18.13: case-sensitive, never lower-cased). Agent ids are 1000002, 1000003, …
"""

import dataclasses
import random
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from . import names
from .school import SchoolConfig, generate_school
from .state import DEFAULT_AGENT_ID, SandboxState

_ALNUM = string.ascii_letters + string.digits
_TOKEN_ROUTES_KEPT = 100_000  # remembered token → corp routes before the memory starts again


@dataclass(frozen=True)
class CorpCredentials:
    """What a school's app is configured with (its School row in the product)."""

    corp_id: str
    agent_id: int
    school_name: str
    secret: str = field(repr=False)
    callback_token: str = field(repr=False)
    callback_aes_key: str = field(repr=False)


def district_credentials(count: int, *, seed: int = 1) -> list[CorpCredentials]:
    """Made-up credentials of ``count`` corps, the same for the same seed."""
    if count < 1:
        raise ValueError("a district needs at least one corp")
    rng = random.Random(f"district-{seed}")
    found: list[CorpCredentials] = []
    seen: set[str] = set()
    for index in range(count):
        corp_id = ""
        while not corp_id or corp_id in seen:
            if index == 0:
                corp_id = "ww" + "".join(rng.choices("0123456789abcdef", k=16))
            else:
                corp_id = "wp" + "".join(rng.choices(_ALNUM, k=30))
        seen.add(corp_id)
        found.append(
            CorpCredentials(
                corp_id=corp_id,
                agent_id=DEFAULT_AGENT_ID + index,
                school_name=names.school_name(index),
                secret="".join(rng.choices(_ALNUM + "-_", k=43)),  # a secret's length
                callback_token="".join(rng.choices(_ALNUM, k=32)),  # Token: ≤ 32 letters, digits
                callback_aes_key="".join(rng.choices(_ALNUM, k=43)),  # EncodingAESKey: 43
            )
        )
    return found


class SandboxDistrict:
    """The corps one SandboxServer serves, the first being the default one. Look a corp up by
    its id (``district[corp_id]``, exact: corp ids are case-sensitive) or iterate over them."""

    def __init__(self, states: Iterable[SandboxState]):
        self.states: list[SandboxState] = list(states)
        if not self.states:
            raise ValueError("a district needs at least one corp")
        self._by_corp: dict[str, SandboxState] = {}
        for state in self.states:
            if not isinstance(state, SandboxState):
                raise TypeError(f"a district holds SandboxStates, not {type(state).__name__}")
            if state.corp_id in self._by_corp:
                raise ValueError(f"two corps with the id {state.corp_id!r}: corp ids are unique")
            self._by_corp[state.corp_id] = state
        self._token_routes: dict[str, SandboxState] = {}
        self.credentials: list[CorpCredentials] = []
        # The vendor whose 代开发 app these corps may install (suite_vendor.SandboxVendor.attach).
        self.vendor = None

    @classmethod
    def generate(
        cls,
        count: int = 3,
        config: SchoolConfig | None = None,
        *,
        page_size: int = 100,
        token_ttl: int = 7200,
        credentials: list[CorpCredentials] | None = None,
        **overrides,
    ) -> "SandboxDistrict":
        """``count`` corps with generated schools of one layout (``config`` and ``overrides``,
        as generate_school takes them): the same department ids and userids in each, other
        names and watch data (data_seed 1, 2, …), each school named after its corp.
        ``credentials`` (one per corp) replace the made-up ones, e.g. the first corp's by the
        WECOM_* settings of a deployment's default school."""
        config = dataclasses.replace(config or SchoolConfig(), **overrides)
        if credentials is None:
            credentials = district_credentials(count, seed=config.seed)
        elif len(credentials) != count:
            raise ValueError(f"give credentials for each of the {count} corps")
        states = []
        for index, corp in enumerate(credentials):
            school = generate_school(config, data_seed=index + 1, school_name=corp.school_name)
            states.append(
                SandboxState(
                    school,
                    corp_id=corp.corp_id,
                    secret=corp.secret,
                    agent_id=corp.agent_id,
                    page_size=page_size,
                    token_ttl=token_ttl,
                    # The corp's fault draws and created lessons: its own, the same every run.
                    seed=config.seed * 1000 + index + 1,
                    callback_token=corp.callback_token,
                    callback_aes_key=corp.callback_aes_key,
                )
            )
        district = cls(states)
        district.credentials = credentials
        return district

    # -- the corps ------------------------------------------------------------------------------

    @property
    def default(self) -> SandboxState:
        return self.states[0]

    @property
    def corp_ids(self) -> list[str]:
        return [state.corp_id for state in self.states]

    def __getitem__(self, corp_id: str) -> SandboxState:
        return self._by_corp[corp_id]

    def get(self, corp_id: str) -> SandboxState | None:
        return self._by_corp.get(corp_id)

    def __iter__(self) -> Iterator[SandboxState]:
        return iter(self.states)

    def __len__(self) -> int:
        return len(self.states)

    def by_token(self, token: str) -> SandboxState | None:
        """The corp that issued this access token, if any did. A token is long and random, so it
        belongs to one corp for good: a route once found is remembered."""
        if not token:
            return None
        state = self._token_routes.get(token)
        if state is not None:
            return state
        state = next((s for s in self.states if s.has_token(token)), None)
        if state is not None:
            if len(self._token_routes) >= _TOKEN_ROUTES_KEPT:
                self._token_routes = {}
            self._token_routes[token] = state
        return state

    # -- every corp at once ---------------------------------------------------------------------

    def reset(self, *, livings: bool = True) -> None:
        """state.reset() for every corp."""
        for state in self.states:
            state.reset(livings=livings)

    def set_callbacks(self, url_template: str, **options) -> None:
        """Status callbacks for every corp to ``url_template`` with ``{corp_id}`` filled in
        (e.g. "http://127.0.0.1:8000/wecom/callback/{corp_id}/"), each sealed with its corp's
        own Token and EncodingAESKey unless ``token`` and ``aes_key`` are given."""
        if url_template and "{corp_id}" not in url_template:
            raise ValueError("the URL template must hold {corp_id}: each school has its own URL")
        for state in self.states:
            state.set_callbacks(url=url_template.format(corp_id=state.corp_id), **options)


def as_district(corps) -> SandboxDistrict:
    """A district from what SandboxServer and SandboxApp take: one SandboxState, several, or a
    SandboxDistrict."""
    if isinstance(corps, SandboxDistrict):
        return corps
    if isinstance(corps, SandboxState):
        return SandboxDistrict([corps])
    return SandboxDistrict(corps)
