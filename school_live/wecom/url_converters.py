"""URL converters for WeCom's ids and our own keys: ``<livingid:…>``, ``<userid:…>``,
``<department:…>`` (a class id) and ``<pk:…>`` (a row of ours). Importing this module registers
them; every urls.py that takes such an id in its path imports it.

Resolving checks the shape (wecom/ids.py) and the range: a hand-edited URL with a bad id, or with
an integer no column can hold (``/classes/99999999999999999999999/``), is a 404 before any view
or query runs.

Reversing never fails: a stored value of another shape (a hostile id that reached the database
before these checks, or by hand) gives a link that cannot resolve (``!`` and the value quoted,
so no ``/`` is left in it) instead of a ``NoReverseMatch`` that would break the whole page for
everyone who sees that lesson or student. Following such a link is a 404.
"""

from urllib.parse import quote

from django.urls import register_converter

from school_live.wecom import ids

# Our own primary keys (auto fields): 1 to the largest 64-bit signed integer.
PK_MAX = 2**63 - 1


def unreachable(value: object) -> str:
    """A path segment that no converter below accepts: ``!`` is in no id's shape."""
    return "!" + quote(str(value), safe="")


class _TextIdConverter:
    # Any segment: the shape is checked in to_python, so a link to a bad id still reverses.
    regex = "[^/]+"
    valid = staticmethod(lambda value: False)

    def to_python(self, value: str) -> str:
        if not self.valid(value):
            raise ValueError(value)
        return value

    def to_url(self, value: object) -> str:
        return value if self.valid(value) else unreachable(value)


class LivingIdConverter(_TextIdConverter):
    valid = staticmethod(ids.livingid_valid)


class UserIdConverter(_TextIdConverter):
    valid = staticmethod(ids.userid_valid)


class _IntConverter:
    regex = "[0-9]+"

    def read(self, value: object) -> int | None:
        raise NotImplementedError

    def to_python(self, value: str) -> int:
        number = self.read(value)
        if number is None:
            raise ValueError(value)
        return number

    def to_url(self, value: object) -> str:
        number = self.read(value)
        return str(number) if number is not None else unreachable(value)


class DepartmentIdConverter(_IntConverter):
    def read(self, value: object) -> int | None:
        return ids.department_id(value)


class PkConverter(_IntConverter):
    def read(self, value: object) -> int | None:
        if isinstance(value, str) and (len(value) > 19 or not value.isascii()):
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            return None
        return number if 1 <= number <= PK_MAX and not isinstance(value, bool) else None


CONVERTERS = {
    "livingid": LivingIdConverter,
    "userid": UserIdConverter,
    "department": DepartmentIdConverter,
    "pk": PkConverter,
}

for _name, _converter in CONVERTERS.items():
    register_converter(_converter, _name)
