"""django-filter's own words, kept in our catalog.

django-filter ships a zh_CN catalog, but Django looks for zh_Hans when the page is zh-hans, so
those words would show in English. Listing them here with ``gettext_noop`` keeps them in
``locale/zh_Hans`` through every ``makemessages``; nothing imports this module at run time.
"""

from django.utils.translation import gettext_noop

DJANGO_FILTER_WORDS = [
    gettext_noop("All"),
    gettext_noop("Any date"),
    gettext_noop("Filter"),
    gettext_noop("Submit"),
    gettext_noop("Unknown"),
    gettext_noop("Yes"),
    gettext_noop("No"),
    gettext_noop("Ordering"),
    gettext_noop("%s (descending)"),
    gettext_noop("Today"),
    gettext_noop("Yesterday"),
    gettext_noop("Past 7 days"),
    gettext_noop("This month"),
    gettext_noop("This year"),
    gettext_noop("Select a lookup."),
    gettext_noop("Range query expects two values."),
    gettext_noop("Multiple values may be separated by commas."),
]
