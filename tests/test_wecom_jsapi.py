"""JS-SDK signatures (api.md §15): the doc's example, and tickets cached for their lifetime."""

from django.core.cache import cache

from school_live.wecom.jsapi import AGENT, CORP, HOURLY_LIMITS, TicketStore, jsapi_signature


def test_signature_matches_the_docs_example():
    assert (
        jsapi_signature(
            ticket="sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
            noncestr="Wm3WZYTPz0wzccnW",
            timestamp=1414587457,
            url="http://mp.weixin.qq.com?params=value",
        )
        == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    )


def test_the_fragment_is_not_signed():
    args = {"ticket": "t", "noncestr": "n", "timestamp": 1}
    assert jsapi_signature(url="https://a.example/p?x=1#top", **args) == jsapi_signature(
        url="https://a.example/p?x=1", **args
    )


class CountingClient:
    """Stands in for the WeCom client at the one seam TicketStore uses, counting fetches."""

    base_url = "http://sandbox.invalid"
    corp_id = "wwcorp"
    agent_id = 1000002

    def __init__(self):
        self.cache = cache
        self.fetches = {CORP: 0, AGENT: 0}

    def get_jsapi_ticket(self, *, agent: bool):
        kind = AGENT if agent else CORP
        self.fetches[kind] += 1
        return f"{kind}-ticket-{self.fetches[kind]}", 7200


def test_tickets_are_fetched_once_for_their_lifetime(db):
    client = CountingClient()
    store = TicketStore(client)
    for _ in range(20):
        store.sign("https://school.example/l/1", kind=CORP)
        store.sign("https://school.example/l/1", kind=AGENT)
    assert client.fetches == {CORP: 1, AGENT: 1}
    # Another process (another store on the same cache) reuses them too.
    TicketStore(client).sign("https://school.example/l/2", kind=AGENT)
    assert client.fetches[AGENT] == 1


def test_never_more_fetches_than_the_hourly_limit(db):
    import pytest

    from school_live.wecom.errors import WeComTransientError

    client = CountingClient()
    store = TicketStore(client)
    for _ in range(HOURLY_LIMITS[AGENT]):
        cache.delete(store._key(AGENT, "ticket"))  # a cache emptied again and again
        store.ticket(AGENT)
    cache.delete(store._key(AGENT, "ticket"))
    with pytest.raises(WeComTransientError) as caught:
        store.ticket(AGENT)
    assert caught.value.errcode == 45009
    assert client.fetches[AGENT] == HOURLY_LIMITS[AGENT]
