"""Typed reads of WeCom's JSON, each error naming the endpoint and the field path.

The records (``records.py``) are built through it: their fields are declared with ``wecom`` or
``nested``, and ``Record.from_wecom`` reads them; the client reads errcodes and tokens with it.
Rules: unknown fields are ignored; a missing or null array is empty; a missing optional string is
"" and a missing optional number 0; ints must be JSON integers (``true`` is not 1); WeCom's 0/1
flags become bools.
"""

import dataclasses
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Self

from school_live.wecom.errors import WeComDataError


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


@dataclass(frozen=True, slots=True)
class Reader:
    """Reads typed fields of one JSON object, naming ``endpoint`` and ``path`` in every error."""

    endpoint: str
    data: dict
    path: str = ""

    @classmethod
    def root(cls, endpoint: str, data: Any) -> "Reader":
        if not isinstance(data, dict):
            raise WeComDataError(f"the response must be a JSON object, got {_show(data)}", endpoint)
        return cls(endpoint, data)

    def _where(self, key: str | int) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str | int, problem: str, value: Any) -> WeComDataError:
        return WeComDataError(f"{self._where(key)} {problem}, got {_show(value)}", self.endpoint)

    def _get(self, key: str, required: bool) -> Any:
        value = self.data.get(key)
        if value is None and required:
            raise WeComDataError(f"{self._where(key)} is missing", self.endpoint)
        return value

    def integer(self, key: str, *, required: bool = False, default: int = 0) -> int:
        value = self._get(key, required)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, "must be an integer", value)
        return value

    def optional_int(self, key: str) -> int | None:
        if self.data.get(key) is None:
            return None
        return self.integer(key)

    def flag(self, key: str, *, required: bool = False) -> bool:
        """WeCom's 0/1 integers; any other value is a data error."""
        value = self.integer(key, required=required)
        if value not in (0, 1):
            raise self.fail(key, "must be 0 or 1", value)
        return value == 1

    def string(self, key: str, *, required: bool = False) -> str:
        value = self._get(key, required)
        if value is None:
            return ""
        if not isinstance(value, str):
            raise self.fail(key, "must be a string", value)
        if required and not value:
            raise WeComDataError(f"{self._where(key)} is empty", self.endpoint)
        return value

    def _list(self, key: str) -> list:
        value = self._get(key, False)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(key, "must be an array", value)
        return value

    def integers(self, key: str) -> tuple[int, ...]:
        items = self._list(key)
        inner = Reader(self.endpoint, {}, self._where(key))
        for index, item in enumerate(items):
            if isinstance(item, bool) or not isinstance(item, int):
                raise inner.fail(index, "must be an integer", item)
        return tuple(items)

    def strings(self, key: str) -> tuple[str, ...]:
        items = self._list(key)
        inner = Reader(self.endpoint, {}, self._where(key))
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise inner.fail(index, "must be a string", item)
        return tuple(items)

    def obj(self, key: str) -> "Reader":
        """A nested object; missing or null reads as an empty object."""
        value = self._get(key, False)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise self.fail(key, "must be an object", value)
        return Reader(self.endpoint, value, self._where(key))

    def objs(self, key: str) -> list["Reader"]:
        readers = []
        base = self._where(key)
        for index, item in enumerate(self._list(key)):
            if not isinstance(item, dict):
                raise Reader(self.endpoint, {}, base).fail(index, "must be an object", item)
            readers.append(Reader(self.endpoint, item, f"{base}[{index}]"))
        return readers

    def records(self, key: str, record: type["Record"]) -> tuple:
        """An array of objects, each read as ``record``."""
        return tuple(record.from_wecom(item) for item in self.objs(key))

    def pipe_list(self, key: str) -> tuple[str, ...]:
        """message/send's ``"a|b|c"`` lists."""
        return tuple(part for part in self.string(key).split("|") if part)


def wecom(read: str, key: str | None = None, *, default: Any = dataclasses.MISSING, **options):
    """A record field read with ``Reader.<read>`` from ``key`` (the field's name unless given);
    ``options`` (``required=True``) go to that method."""
    if not callable(getattr(Reader, read, None)):
        raise TypeError(f"Reader has no {read!r}")
    return dataclasses.field(default=default, metadata={"wecom": (read, key, options)})


def nested(record: type["Record"], key: str | None = None):
    """A record field holding a tuple of ``record``, read from an array of objects."""
    return dataclasses.field(metadata={"wecom": (record, key, {})})


class Record:
    """The base of a frozen dataclass whose fields are all declared with ``wecom`` or ``nested``.
    ``from_wecom`` reads them in their order, so an error names the first wrong field."""

    __slots__ = ()

    @classmethod
    def from_wecom(cls, r: Reader) -> Self:
        return cls(*[read(r) for read in _field_reads(cls)])


# A record's fields, each as a function of the Reader (prepared once per record class).
_READS: dict[type, tuple[Callable[[Reader], Any], ...]] = {}


def _field_reads(cls: type[Record]) -> tuple[Callable[[Reader], Any], ...]:
    reads = _READS.get(cls)
    if reads is None:
        reads = _READS[cls] = tuple(_field_read(f) for f in dataclasses.fields(cls))
    return reads


def _field_read(field: dataclasses.Field) -> Callable[[Reader], Any]:
    how, key, options = field.metadata["wecom"]
    if isinstance(how, str):
        return operator.methodcaller(how, key or field.name, **options)
    return operator.methodcaller("records", key or field.name, how)
