"""A school installs school_live through WeCom's 代开发 flow (api.md §18, issue 23).

An operator makes an install link (a pending school and WeCom's QR); the school's admin scans
it; WeCom tells /wecom/suite/callback/ (``create_auth``), and a task turns the AuthCode into the
school's secret, its first school admin and its first roster sync. Later events re-read the
authorisation (``change_auth``), uninstall the school (``cancel_auth``: its data kept
``SCHOOL_PURGE_AFTER_DAYS``, then purged, an audit line left) or store a new secret
(``reset_permanent_code``). Without the vendor settings (``WECOM_SUITE_*``) none of it is on.
"""
