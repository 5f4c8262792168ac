"""Refuse a query string that carries a NUL character, before any view sees it.

PostgreSQL cannot store or compare a string with NUL in it, so a NUL that reaches a filter (the
admin's search box and list filters, any view's lookup) is a database error. Forms already
refuse NUL field by field (Django's ProhibitNullCharactersValidator); query strings have no such
guard, and no page of this site has a use for the character. The answer is a plain 400 that says
what to change.
"""

from django.http import HttpResponseBadRequest
from django.utils.translation import gettext as _


class NulInQueryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if any("\x00" in key or "\x00" in value for key, value in _pairs(request.GET)):
            return HttpResponseBadRequest(
                _("The address contains a NUL character (%00). Remove it and try again."),
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


def _pairs(query):
    for key, values in query.lists():
        for value in values:
            yield key, value
