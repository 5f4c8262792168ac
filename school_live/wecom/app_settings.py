"""The app's own settings in WeCom (agent/get) and a fresh token: what the set-up check
(setup_probes.py) reads to prove the console is set up right.

A mixin of ``WeComClient``: the same session, token, budget and errcode handling (``_call``).
"""

from school_live.wecom.reader import Reader
from school_live.wecom.records import AgentInfo

AGENT_GET = "agent/get"


class AppSettings:
    """agent/get, and gettoken on demand."""

    # WeCom doc 91039: gettoken, whatever the cache holds
    def fetch_access_token(self) -> str:
        """A token fetched from WeCom now (and shared like any other): proves the corp id and
        the secret today, where a cached token would only prove that they once did."""
        return self._fetch_and_store_token()

    # WeCom doc 96448: agent/get
    def get_agent(self, *, agentid: int | None = None) -> AgentInfo:
        params = {"agentid": self._agentid(agentid)}
        reader = Reader.root(AGENT_GET, self._call("GET", AGENT_GET, params=params))
        return AgentInfo.from_wecom(reader)
