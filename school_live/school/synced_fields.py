"""The fields of the roster models that WeCom owns, after each model's natural key.

The roster sync (sync/roster.py) overwrites exactly these on every run; the admin shows them,
with the key, read-only, since an edit would not survive the next sync. One list for both, so a
field WeCom starts to own cannot be editable in the admin yet overwritten by the sync.
"""

# Stamped by every sync on each row WeCom still lists; the rest are marked as having left.
PRESENCE = ("is_active", "synced_at")

DEPARTMENT = (
    "name",
    "parent",
    "type",
    "register_year",
    "standard_grade",
    "graduated",
    "order",
    *PRESENCE,
)
TEACHER = PRESENCE  # the name and email are the school's, kept in its admin
STUDENT = ("name", *PRESENCE)
PARENT = ("mobile", "is_subscribed", "external_userid", *PRESENCE)
