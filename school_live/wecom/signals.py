"""Moments when WeCom showed that a part of the app's set-up works which no server call can
prove (api.md §20.5): a teacher signed in through WeCom's OAuth (the 可信域名 is right), a
callback passed its signature check (the 接收消息 URL, Token and key are right).

Sent with ``school``: the School it happened for, or None for the default school (the one the
WECOM_* settings define). The set-up check records when each last happened.
"""

from django.dispatch import Signal

wecom_signed_in = Signal()
wecom_callback_received = Signal()
