"""What a sandbox handler can answer besides a JSON body: a WeCom errcode, or a raw HTTP reply
(a gateway's HTML 502, a cut-off body, a redirect, the stand-in OAuth page)."""

import random
import time

# WeCom's errmsg carries a hint and a link; clients must branch on errcode only (doc 90313).
_MORE_INFO = "more info at https://open.work.weixin.qq.com/devtool/query?e={code}"


def errmsg(code: int, reason: str, ip: str = "127.0.0.1") -> str:
    if code == 0:
        return "ok"
    # WeCom's hint is a long run of digits, e.g. "hint: [1779418056016361205083783]".
    hint = f"{int(time.time())}{random.randrange(10**15):015d}"
    return f"{reason}, hint: [{hint}], from ip: {ip}, {_MORE_INFO.format(code=code)}"


class ApiError(Exception):
    """Answer HTTP 200 {"errcode": errcode, "errmsg": ...} plus `extra` fields."""

    def __init__(self, errcode: int, reason: str, *, from_ip: str = "", **extra):
        super().__init__(f"{errcode} {reason}")
        self.errcode = errcode
        self.reason = reason
        self.from_ip = from_ip  # the address the errmsg names, when not the caller's
        self.extra = extra


class RawReply(Exception):
    """Answer exactly these bytes: used for faults that are not WeCom JSON at all."""

    def __init__(self, status: str, content_type: str, body: bytes, headers=()):
        super().__init__(status)
        self.status = status
        self.content_type = content_type
        self.body = body
        self.headers = list(headers)


BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>stgw</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


def bad_gateway() -> RawReply:
    return RawReply("502 Bad Gateway", "text/html", BAD_GATEWAY_HTML)


def cut_off_json() -> RawReply:
    # A body that stops mid-way: the connection dropped after the headers promised JSON.
    return RawReply(
        "200 OK", "application/json; charset=utf-8", b'{"errcode":0,"errmsg":"ok","ending":0,"ne'
    )


def html_page_200() -> RawReply:
    # A proxy or WAF in front of WeCom answering its own page with HTTP 200: not WeCom JSON.
    return RawReply(
        "200 OK",
        "text/html; charset=utf-8",
        "<!DOCTYPE html><html><head><title>访问受限</title></head>"
        "<body><p>Request blocked.</p></body></html>".encode(),
    )


def html(body: str, status: str = "200 OK") -> RawReply:
    return RawReply(status, "text/html; charset=utf-8", body.encode())


def redirect(location: str) -> RawReply:
    return RawReply("302 Found", "text/html; charset=utf-8", b"", [("Location", location)])
