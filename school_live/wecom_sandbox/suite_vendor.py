"""The vendor's WeCom for a 代开发 app (api.md §18.14): one 服务商 with one template (suite),
whose schools are the corps of a SandboxDistrict.

    vendor = SandboxVendor.attach(district)          # made-up credentials (vendor.credentials)
    with SandboxServer(district) as server:          # serves /cgi-bin/service/* (suite_api.py)
        vendor.configure(url=".../wecom/suite/callback/")   # a suite_ticket now, then every 600 s
        vendor.verify_url()                          # the GET echostr check WeCom makes on save
        vendor.scan(qrcode_url, corp=corp_id)        # the corp's admin scans: POST create_auth
        vendor.change(corp_id); vendor.reset(corp_id); vendor.cancel(corp_id)

WeCom's side as §18 describes it: tickets pushed to the command URL every ``ticket_interval``
seconds, the last two accepted; the suite and provider tokens the same for 7200 s; an install
QR's URL per ``state``; an AuthCode single-use and 600 s long (40078 after); get_permanent_code
in 97163's shape with ``is_customized_app: true``; after an install the corp's ``gettoken``
accepts (corpid, permanent_code) — the permanent code is the app's secret — and its agent id is
the corp's; after ``cancel`` that gettoken answers 40001 and get_auth_info 40084; after
``reset`` the old permanent code answers 40001. Every command event is POSTed at once from the
caller's thread, and the log keeps each answer, its HTTP status and how long it took (WeCom
wants ``success`` within 1000 ms).

Where §18 is UNVERIFIED the vendor is switchable (``configure``), and the product works with both:
- ``get_receive_id``: the GET URL check sealed for the provider's corp id ("provider", the
  default, WeCom staff's word) or for the SuiteID ("suite");
- ``post_receive_id``: events sealed for the SuiteID ("suite", the default, 97172) or for the
  provider's corp id ("provider", seen once on create_auth);
- ``auth_user``: get_permanent_code names the admin who scanned ("full"), names them without
  ``open_userid`` ("no_open_userid"), or has no ``auth_user_info`` ("absent");
- ``publish_status``: agent/get's ``customized_publish_status`` after an install (0–3; 1 开发中).
"""

import logging
import random
import secrets
import threading
import time
from collections import deque
from dataclasses import asdict, replace

import requests

from school_live.wecom.callback_crypto import CallbackCrypto
from school_live.wecom.suite_callback import (
    CANCEL_AUTH,
    CHANGE_AUTH,
    CREATE_AUTH,
    RESET_PERMANENT_CODE,
    SUITE_TICKET,
    CommandEvent,
    command_event_xml,
)

from .suite_model import (
    AUTH_CODE_TTL,
    AUTH_USERS,
    LOG_LIMIT,
    PUBLISH_STATUSES,
    QR_BASE,
    QR_TTL,
    RECEIVE_IDS,
    SEND_TIMEOUT,
    TOKEN_TTL,
    Install,
    Switches,
    VendorCredentials,
    vendor_credentials,
)

logger = logging.getLogger(__name__)


class SandboxVendor:
    def __init__(self, district, credentials: VendorCredentials | None = None):
        self.district = district
        self.credentials = credentials or vendor_credentials()
        self.lock = threading.RLock()
        self._session = requests.Session()
        self._session.trust_env = False  # loopback: never through a proxy
        self._pump: threading.Thread | None = None
        self._stop = threading.Event()
        self.clear()

    @classmethod
    def attach(cls, district, credentials: VendorCredentials | None = None) -> "SandboxVendor":
        """The vendor of ``district``'s corps, served by the district's SandboxServer."""
        vendor = cls(district, credentials)
        district.vendor = vendor
        return vendor

    def clear(self) -> None:
        """No URL, tickets, tokens, codes, QR URLs or log; installs stay (they are the corps'
        secrets, as credentials are)."""
        with self.lock:
            self.url = ""
            self.switches = Switches()
            self.tickets: deque[str] = deque(maxlen=2)  # the last two are accepted
            self._suite_token: tuple[str, float] | None = None
            self._provider_token: tuple[str, float] | None = None
            self._expired_suite_tokens: set[str] = set()
            self.codes: dict[str, tuple[str, str, float]] = {}  # code -> (corp, state, expires)
            self._scanned_by: dict[str, str] = {}  # create_auth's code -> the admin who scanned
            self.qr: dict[str, tuple[str, float]] = {}  # qrcode_url -> (state, expires)
            self.log: deque[dict] = deque(maxlen=LOG_LIMIT)
            self._sent: list[tuple[str, str]] = []  # (info_type, inner xml) of every POST
            self.installs: dict[str, Install] = getattr(self, "installs", {})

    # -- configuration -------------------------------------------------------------------------

    def configure(self, *, url: str | None = None, **switches) -> dict:
        """The command URL (a ticket is pushed at once, "" stops the pushes) and any of the
        switches (module docstring). ValueError for a bad value, TypeError for an unknown one."""
        with self.lock:
            new = replace(self.switches, **switches)
            if new.get_receive_id not in RECEIVE_IDS or new.post_receive_id not in RECEIVE_IDS:
                raise ValueError(f"receive ids are one of {RECEIVE_IDS}")
            if new.auth_user not in AUTH_USERS:
                raise ValueError(f"auth_user is one of {AUTH_USERS}")
            if new.publish_status not in PUBLISH_STATUSES:
                raise ValueError(f"publish_status is one of {PUBLISH_STATUSES}")
            if not 1 <= float(new.ticket_interval) <= 86400:
                raise ValueError("ticket_interval is 1 to 86400 seconds")
            if url is not None and url and not url.startswith(("http://", "https://")):
                raise ValueError("url must be an http:// or https:// URL")
            self.switches = new
            if url is not None:
                self.url = url
        if url:
            self.push_ticket()
        return self.snapshot()

    def snapshot(self) -> dict:
        """What the control API shows: never a secret, a ticket, a code or a token."""
        with self.lock:
            return {
                "url": self.url,
                "provider_corp_id": self.credentials.provider_corp_id,
                "suite_id": self.credentials.suite_id,
                "switches": asdict(self.switches),
                "tickets": len(self.tickets),
                "installs": [install.public() for install in self.installs.values()],
                "log": list(self.log),
            }

    # -- the pump: a suite_ticket every ticket_interval seconds --------------------------------

    def start(self) -> None:
        if self._pump is not None:
            return
        self._stop.clear()
        self._pump = threading.Thread(target=self._run, name="wecom-sandbox-vendor", daemon=True)
        self._pump.start()

    def stop(self) -> None:
        self._stop.set()
        if self._pump is not None:
            self._pump.join(SEND_TIMEOUT + 1)
        self._pump = None

    def _run(self) -> None:
        last = time.monotonic()
        while not self._stop.wait(0.5):
            if self.url and time.monotonic() - last >= self.switches.ticket_interval:
                last = time.monotonic()
                try:
                    self.push_ticket()
                except Exception:  # the pump must outlive any one push
                    logger.exception("sandbox vendor: a suite_ticket push failed")

    # -- tokens, codes and QR URLs (suite_api.py answers with them) ----------------------------

    def provider_token(self) -> tuple[str, int]:
        return self._token("_provider_token")

    def suite_token(self) -> tuple[str, int]:
        return self._token("_suite_token")

    def _token(self, attribute: str) -> tuple[str, int]:
        """The same token for its 7200 s, then a new one."""
        with self.lock:
            now = time.time()
            current = getattr(self, attribute)
            if current is None or current[1] <= now:
                current = (secrets.token_urlsafe(96), now + TOKEN_TTL)
                setattr(self, attribute, current)
            return current[0], int(current[1] - now)

    def token_status(self, token: str, *, kind: str) -> str:
        """ "ok", "expired" (42009, suite tokens) or "invalid" (40082)."""
        with self.lock:
            current = self._suite_token if kind == "suite" else self._provider_token
            if current is not None and token == current[0]:
                return "ok" if current[1] > time.time() else "expired"
            return "expired" if token in self._expired_suite_tokens else "invalid"

    def expire_suite_token(self) -> None:
        """The cached suite token is now past its expiry (42009), as after 2 hours."""
        with self.lock:
            if self._suite_token is not None:
                self._expired_suite_tokens.add(self._suite_token[0])
                self._suite_token = None

    def qrcode_url(self, state: str) -> tuple[str, int]:
        with self.lock:
            url = QR_BASE + secrets.token_urlsafe(24)
            self.qr[url] = (state, time.time() + QR_TTL)
            return url, QR_TTL

    def take_code(self, code: str) -> tuple[str, str] | None:
        """(corp, state) of an AuthCode, once, within its 600 s; None otherwise."""
        with self.lock:
            entry = self.codes.pop(code, None)
            if entry is None or entry[2] <= time.time():
                return None
            return entry[0], entry[1]

    def _issue_code(self, corp_id: str, state: str) -> str:
        code = secrets.token_urlsafe(48)  # 64 characters: auth_code is 64-512 bytes
        self.codes[code] = (corp_id, state, time.time() + AUTH_CODE_TTL)
        return code

    def corp(self, corp_id: str):
        state = self.district.get(corp_id)
        if state is None:
            raise ValueError(f"no corp {corp_id!r} in this sandbox")
        return state

    def admin_of(self, corp_id: str, admin: str | None) -> str:
        """The admin who scans: ``admin`` when given (a member of the corp), else its first
        teacher by userid."""
        school = self.corp(corp_id).school
        if admin:
            if admin not in school.teachers:
                raise ValueError(f"{admin!r} is not a member of corp {corp_id!r}")
            return admin
        return min(school.teachers)

    # -- what the school's admin and the vendor do ---------------------------------------------

    def scan(
        self, qrcode_url: str = "", *, corp: str, admin: str | None = None, state: str | None = None
    ) -> dict:
        """The admin of ``corp`` scans the install QR (its URL, or just its ``state``) and
        confirms: WeCom POSTs create_auth with a fresh AuthCode. Returns the log entry."""
        with self.lock:
            if state is None:
                found = self.qr.get(qrcode_url)
                if found is None:
                    raise ValueError("no such install QR URL (get_customized_auth_url makes one)")
                if found[1] <= time.time():
                    raise ValueError("this install QR expired (10 days)")
                state = found[0]
            admin = self.admin_of(corp, admin)
            code = self._issue_code(corp, state)
            self._scanned_by[code] = admin
        event = self._event(CREATE_AUTH, auth_code=code, state=state)
        return {**self._post(event, corp=corp), "auth_code": code}

    def install(self, code: str) -> tuple[Install, str] | None:
        """get_permanent_code's work: the AuthCode's install (created, or renewed by a reset),
        the corp's gettoken switched to the new permanent code. None for a bad, used or old
        code."""
        taken = self.take_code(code)
        if taken is None:
            return None
        corp_id, state = taken
        with self.lock:
            admin = self._scanned_by.pop(code, None)
            previous = self.installs.get(corp_id)
            permanent = "pc-" + secrets.token_urlsafe(32)
            install = Install(
                corp_id=corp_id,
                admin=admin or (previous.admin if previous else self.admin_of(corp_id, None)),
                state=state or (previous.state if previous else ""),
                installed_at=int(time.time()),
                permanent_code=permanent,
                publish_status=self.switches.publish_status,
            )
            self.installs[corp_id] = install
            corp_state = self.corp(corp_id)
            with corp_state.lock:
                corp_state.permanent_code = permanent
                # agent/get's customized_publish_status (setup_api.py)
                corp_state.set_setup(customized_publish_status=install.publish_status)
                corp_state.revoke_tokens()  # tokens of the old secret are refused now
            return install, state

    def change(self, corp_id: str) -> dict:
        """The school changed the app's visible range or permissions, or disabled and enabled
        it again: change_auth."""
        self._installed(corp_id)
        return self._post(self._event(CHANGE_AUTH, auth_corp_id=corp_id), corp=corp_id)

    def cancel(self, corp_id: str) -> dict:
        """The school removed the app: cancel_auth; its permanent code is refused from now on."""
        install = self._installed(corp_id)
        with self.lock:
            install.cancelled = True
            corp_state = self.corp(corp_id)
            with corp_state.lock:
                corp_state.permanent_code = ""
                corp_state.revoke_tokens()
        return self._post(self._event(CANCEL_AUTH, auth_corp_id=corp_id), corp=corp_id)

    def reset(self, corp_id: str) -> dict:
        """The vendor pressed 重新获取secret: reset_permanent_code with a fresh AuthCode (no
        AuthCorpId); get_permanent_code with it gives the new secret."""
        install = self._installed(corp_id)
        with self.lock:
            code = self._issue_code(corp_id, install.state)
        event = self._event(RESET_PERMANENT_CODE, auth_code=code)
        return {**self._post(event, corp=corp_id), "auth_code": code}

    def push_ticket(self) -> dict:
        with self.lock:
            ticket = secrets.token_urlsafe(48)
            self.tickets.append(ticket)
        return self._post(self._event(SUITE_TICKET, suite_ticket=ticket), corp="")

    def resend(self, index: int = -1) -> dict:
        """POST an event sent before once more, sealed afresh (WeCom's retry)."""
        with self.lock:
            info_type, inner = self._sent[index]
        return self._post_inner(info_type, inner, corp="(resent)")

    def _installed(self, corp_id: str) -> Install:
        with self.lock:
            install = self.installs.get(corp_id)
            if install is None or install.cancelled:
                raise ValueError(f"corp {corp_id!r} has not installed the app")
            return install

    # -- sending -------------------------------------------------------------------------------

    def _event(self, info_type: str, **fields) -> CommandEvent:
        return CommandEvent(info_type, self.credentials.suite_id, int(time.time()), **fields)

    def crypto(self, receive: str) -> CallbackCrypto:
        creds = self.credentials
        receive_id = creds.provider_corp_id if receive == "provider" else creds.suite_id
        return CallbackCrypto(
            token=creds.token, encoding_aes_key=creds.aes_key, receive_id=receive_id
        )

    def _post(self, event: CommandEvent, *, corp: str) -> dict:
        return self._post_inner(event.info_type, command_event_xml(event), corp=corp)

    def _post_inner(self, info_type: str, inner: str, *, corp: str) -> dict:
        with self.lock:
            url = self.url
            crypto = self.crypto(self.switches.post_receive_id)
            self._sent.append((info_type, inner))
        entry = {"info_type": info_type, "corp": corp, "at": int(time.time())}
        if not url:
            return {
                **entry,
                "http_status": None,
                "body": "",
                "elapsed_ms": 0,
                "ok": False,
                "error": "no command URL configured",
            }
        params, body = crypto.seal_post(
            inner,
            timestamp=str(int(time.time())),
            nonce=str(random.randrange(10**9, 10**10)),
            agent_id="",
        )
        entry.update(self._send("POST", url, params=params, data=body))
        with self.lock:
            self.log.append(entry)
        return entry

    def verify_url(self) -> dict:
        """What WeCom does when the vendor saves the command URL: GET it with an encrypted
        echostr and expect exactly the plaintext back within a second."""
        with self.lock:
            url = self.url
            crypto = self.crypto(self.switches.get_receive_id)
        if not url:
            raise ValueError("no command URL configured")
        message = str(random.randrange(10**18, 10**19))
        echostr = crypto.encrypt(message)
        timestamp, nonce = str(int(time.time())), str(random.randrange(10**9, 10**10))
        params = {
            "msg_signature": crypto.signature(timestamp, nonce, echostr),
            "timestamp": timestamp,
            "nonce": nonce,
            "echostr": echostr,
        }
        result = self._send("GET", url, params=params)
        result["ok"] = result["http_status"] == 200 and result["body"] == message
        result["ok"] = result["ok"] and result["elapsed_ms"] < 1000
        return result

    def _send(self, method: str, url: str, **kwargs) -> dict:
        started = time.monotonic()
        try:
            answer = self._session.request(
                method,
                url,
                timeout=SEND_TIMEOUT,
                allow_redirects=False,
                headers={"Content-Type": "text/xml; charset=utf-8"},
                **kwargs,
            )
        except requests.RequestException as error:
            elapsed = (time.monotonic() - started) * 1000
            return {
                "http_status": None,
                "body": "",
                "elapsed_ms": round(elapsed, 1),
                "ok": False,
                "error": type(error).__name__,
            }
        elapsed = (time.monotonic() - started) * 1000
        body = answer.text[:200]
        ok = answer.status_code == 200 and body == "success" and elapsed < 1000
        return {
            "http_status": answer.status_code,
            "body": body,
            "elapsed_ms": round(elapsed, 1),
            "ok": ok,
            "error": "",
        }
