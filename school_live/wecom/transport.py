"""HTTP to WeCom below the API: the session and its retries, one request, the decoded answer.

The client (``client.py``) adds the access token, errcodes and the endpoints; this module knows
no token and no errcode. Network failures become typed errors here, never chained: requests'
exceptions carry the full URL, with the access token in its query.
"""

import json
import logging
from typing import Any

import requests
from django.views.decorators.debug import sensitive_variables
from requests.adapters import HTTPAdapter
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError
from urllib3.util.retry import Retry

from school_live.wecom.errors import (
    HTTP_ERROR,
    NETWORK_ERROR,
    WeComDataError,
    WeComError,
    WeComTransientError,
)
from school_live.wecom.reader import Reader

logger = logging.getLogger(__name__)


def session_make(base_url: str, *, http_retries: int, backoff: float) -> requests.Session:
    """urllib3 retries connection errors and HTTP 502/503/504 with a small backoff, for POST too
    (the stat endpoints are reads); ``message/send`` only retries failed connects."""
    session = requests.Session()
    retry = Retry(
        total=http_retries,
        connect=http_retries,
        read=http_retries,
        status=http_retries,
        other=0,
        backoff_factor=backoff,
        backoff_max=5,
        status_forcelist=(502, 503, 504),
        allowed_methods=frozenset({"GET", "POST"}),
        raise_on_status=False,
        respect_retry_after_header=False,
    )
    session.mount(base_url + "/", HTTPAdapter(max_retries=retry))
    # A lost reply to message/send may mean the message went out: only retry failed connects.
    send_retry = Retry(
        total=http_retries,
        connect=http_retries,
        read=0,
        status=0,
        other=0,
        backoff_factor=backoff,
        backoff_max=5,
        allowed_methods=frozenset({"POST"}),
        raise_on_status=False,
    )
    session.mount(base_url + "/cgi-bin/message/", HTTPAdapter(max_retries=send_retry))
    session.mount(
        base_url + "/cgi-bin/externalcontact/message/", HTTPAdapter(max_retries=send_retry)
    )
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
    """One request (with urllib3's retries); ``body``, when not None, is sent as UTF-8 JSON."""
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
        raise WeComTransientError(NETWORK_ERROR, kind, endpoint) from None
    except requests.RequestException as exc:
        raise WeComError(NETWORK_ERROR, type(exc).__name__, endpoint) from None


def response_decode(response: requests.Response, endpoint: str, elapsed_ms: float) -> dict:
    """The JSON object of an HTTP 200 answer; any other status or body is a typed error."""
    status = response.status_code
    if status != 200:
        logger.info("WeCom %s HTTP %s %.0f ms", endpoint, status, elapsed_ms)
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
