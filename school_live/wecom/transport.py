"""HTTP to WeCom below the API: the session, one request, the decoded answer.

The client (``client.py``) adds the access token, errcodes, the endpoints and the one retry loop
of a call; this module knows no token and no errcode, and retries nothing (no urllib3 ``Retry``).
Network failures become typed errors here, never chained: requests' exceptions carry the full
URL, with the access token in its query. Two of them say what the client may safely repeat: a
connection never made (``WeComConnectError``: nothing reached WeCom) and a gateway's 502/503/504
(``WeComGatewayError``).
"""

import json
import logging
from typing import Any

import requests
from django.views.decorators.debug import sensitive_variables
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

from school_live.wecom.errors import (
    HTTP_ERROR,
    NETWORK_ERROR,
    WeComDataError,
    WeComError,
    WeComTransientError,
)
from school_live.wecom.reader import Reader

logger = logging.getLogger(__name__)


class WeComConnectError(WeComTransientError):
    """The connection to WeCom was never made: nothing was sent, any call may be repeated."""


class WeComGatewayError(WeComTransientError):
    """HTTP 502, 503 or 504 from the gateway in front of WeCom."""


GATEWAY_STATUSES = (502, 503, 504)


def session_make() -> requests.Session:
    """One connection pool for the client; requests' adapter retries nothing by default."""
    session = requests.Session()
    session.headers["User-Agent"] = "school_live"
    return session


@sensitive_variables("token", "params", "data", "query")
def request_send(
    session: requests.Session,
    method: str,
    url: str,
    endpoint: str,
    *,
    params: dict,
    body: Any,
    timeout: tuple[float, float],
) -> requests.Response:
    """One request, never repeated here; ``body``, when not None, is sent as UTF-8 JSON."""
    try:
        if body is None:
            return session.request(method, url, params=params, timeout=timeout)
        return session.request(
            method,
            url,
            params=params,
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
            timeout=timeout,
        )
    except (requests.ConnectionError, requests.Timeout) as exc:
        # Never chain: requests' exceptions carry the full URL with the token in it.
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        timed_out = isinstance(exc, requests.Timeout) or isinstance(reason, Urllib3TimeoutError)
        kind = "timed out" if timed_out else "connection failed"
        never_sent = isinstance(exc, requests.ConnectTimeout) or isinstance(
            reason, NewConnectionError
        )
        error = WeComConnectError if never_sent else WeComTransientError
        raise error(NETWORK_ERROR, kind, endpoint) from None
    except requests.RequestException as exc:
        raise WeComError(NETWORK_ERROR, type(exc).__name__, endpoint) from None


def response_decode(response: requests.Response, endpoint: str, elapsed_ms: float) -> dict:
    """The JSON object of an HTTP 200 answer; any other status or body is a typed error."""
    status = response.status_code
    if status != 200:
        logger.info("WeCom %s HTTP %s %.0f ms", endpoint, status, elapsed_ms)
        if status in GATEWAY_STATUSES:
            raise WeComGatewayError(HTTP_ERROR, f"HTTP {status}", endpoint)
        error = WeComTransientError if status >= 500 or status == 429 else WeComError
        raise error(HTTP_ERROR, f"HTTP {status}", endpoint)
    try:
        data = json.loads(response.content)
    except ValueError:
        content_type = response.headers.get("Content-Type", "unknown").split(";")[0]
        raise WeComDataError(
            f"the response is not JSON (HTTP {status}, {content_type}, "
            f"{len(response.content)} bytes)",
            endpoint,
        ) from None
    return Reader.root(endpoint, data).data
