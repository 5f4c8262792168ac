"""学校通知 to parents (api.md §17): the WeCom calls that reach families, not teachers.

A mixin of ``WeComClient``: the same session, token and errcode handling. Sending is never
repeated by this module on a transient error or a lost reply (a lost reply may mean it was
sent); ``enable_duplicate_check`` makes WeCom itself drop the same body sent again within the
interval, so a caller that retries by hand does not reach a family twice.
"""

from school_live.wecom.reader import Reader
from school_live.wecom.records import AllowScope, SchoolNoticeResult

SCHOOL_NOTICE = "externalcontact/message/send"
ALLOW_SCOPE = "school/agent/get_allow_scope"
MAX_RECIPIENTS = 1000  # per list (doc 92321)
DUPLICATE_CHECK_INTERVAL = 1800  # WeCom's default, seconds


class SchoolNotices:
    """externalcontact/message/send and school/agent/get_allow_scope."""

    # WeCom doc 92321: externalcontact/message/send (学校通知, text to parents)
    def send_school_notice(
        self,
        *,
        parent_userids: list[str],
        text: str,
        duplicate_check_interval: int = DUPLICATE_CHECK_INTERVAL,
        agentid: int | None = None,
    ) -> SchoolNoticeResult:
        """A text notice to these parents' WeChat; the result names the parents WeCom skipped.
        Every one of them invalid is errcode 81013 (a ``WeComError``)."""
        if not parent_userids:
            raise ValueError("parent_userids must name at least one parent")
        if len(parent_userids) > MAX_RECIPIENTS:
            raise ValueError(f"at most {MAX_RECIPIENTS} parents per notice")
        if not text.strip():
            raise ValueError("text must not be empty")
        body = {
            "recv_scope": 0,
            "to_parent_userid": list(parent_userids),
            "toall": 0,
            "msgtype": "text",
            "agentid": self._agentid(agentid),
            "text": {"content": text},
            "enable_id_trans": 0,
            "enable_duplicate_check": 1,
            "duplicate_check_interval": duplicate_check_interval,
        }
        reader = Reader.root(SCHOOL_NOTICE, self._call("POST", SCHOOL_NOTICE, body=body))
        return SchoolNoticeResult.from_wecom(reader)

    # WeCom doc 94895: school/agent/get_allow_scope
    def get_allow_scope(self, *, agentid: int | None = None) -> AllowScope:
        params = {"agentid": self._agentid(agentid)}
        reader = Reader.root(ALLOW_SCOPE, self._call("GET", ALLOW_SCOPE, params=params))
        return AllowScope.from_wecom(reader)
