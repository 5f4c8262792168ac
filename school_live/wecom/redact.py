"""Keep WeCom credentials out of every log record.

urllib3 logs full request URLs at DEBUG, and WeCom puts the access token (and, for gettoken, the
secret) in the query string, so the filter rewrites the message of every record that passes it.
"""

import logging
import re

_SECRET_PARAM = re.compile(r"(access_token|corpsecret|secret)=([^&\s'\"]+)", re.IGNORECASE)


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1=[redacted]", text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True
