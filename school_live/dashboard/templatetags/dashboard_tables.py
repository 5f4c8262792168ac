"""The cells of a django-tables2 row, rendered in Python: ``{% table_cells row %}`` writes exactly
what ``{% for column, cell in row.items %}<td {{ column.attrs.td.as_html }}>{{ cell }}</td>
{% endfor %}`` writes (with the whitespace of ``dashboard/tables/table.html``), faster.

Measured on the class page (50 students × 10 columns): that loop spent ~20 ms, three times the
page's CSV download of the same rows, mostly on work that is the same for every row of a column —
django-tables2 inspects the signature of the column's ``render`` for every cell and rebuilds the
column's attributes for every cell, and the template engine looks each of them up by name. Here
both are worked out once per column, and a plain value (a dict's key, a model's annotation or
field without choices) is read directly; any other goes through django-tables2
(``BoundRow._get_and_render_with``: the accessor, a model field's ``get_FOO_display``). The
output does not change: tests/test_table_cells.py compares it. ``{% table_row_attrs row %}``
does the same for ``{{ row.attrs.as_html }}``.
"""

import functools

from django import template
from django.db import models
from django.template.base import render_value_in_context
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django_tables2.columns.linkcolumn import BaseLinkColumn
from django_tables2.columns.manytomanycolumn import ManyToManyColumn
from django_tables2.utils import AttributeDict, signature

register = template.Library()

# The whitespace around each cell in dashboard/tables/table.html's row loop.
CELL = "\n              <td {attrs}>{cell}</td>\n            "


class _ColumnPlan:
    def __init__(self, table, bound_column):
        self.column = bound_column
        self.call, self.link = bound_column.render, bound_column.link
        self.args, self.kwargs_name = signature(self.call)
        sources = [bound_column.column.attrs, table.attrs]
        # Attributes computed from the record or the value: django-tables2 works them out per
        # cell, and so does this.
        self.per_cell = any(
            callable(value)
            for attrs in sources
            for key in ("td", "cell")
            for value in (attrs.get(key) or {}).values()
        )
        # The attributes are safe HTML: as the template writes them, in any context.
        self.td = None if self.per_cell else bound_column.attrs["td"].as_html()
        # A plain name, read straight off a dict or a model's loaded values (an annotation, a
        # field without choices); anything else goes through django-tables2's accessor.
        accessor = str(bound_column.accessor)
        self.name = accessor if "." not in accessor and "__" not in accessor else None
        self.empty_values = bound_column.column.empty_values
        self.plain = not isinstance(bound_column.column, ManyToManyColumn | BaseLinkColumn)

    def render(self, row, value=None):
        """``BoundRow._call_render`` with the signature (and the render function, and the link)
        read once per column."""
        kwargs = {
            "value": value,
            "record": row.record,
            "column": self.column.column,
            "bound_column": self.column,
            "bound_row": row,
            "table": row.table,
        }
        call = kwargs
        if not self.kwargs_name:
            call = {name: kwargs[name] for name in self.args if name in kwargs}
            if len(call) != len(self.args):
                return None
        content = self.call(**call)
        return self.link(content, **kwargs) if self.link else content

    def value(self, record):
        """The record's value for this column when it is a plain one, else _OTHER."""
        if self.name is None or not self.plain:
            return _OTHER
        if isinstance(record, dict):
            value = record.get(self.name, _OTHER)
        elif isinstance(record, models.Model) and self.name not in _choice_fields(type(record)):
            value = record.__dict__.get(self.name, _OTHER)
            if value is _OTHER and not hasattr(type(record), self.name):
                value = None  # nothing by that name: django-tables2's accessor gives None too
        else:
            return _OTHER
        return _OTHER if callable(value) else value


def _plans(table) -> list[_ColumnPlan]:
    plans = getattr(table, "_dashboard_column_plans", None)
    if plans is None:
        plans = [_ColumnPlan(table, column) for column in table.columns]
        table._dashboard_column_plans = plans
    return plans


_OTHER = object()


def _in_context(value, context) -> str:
    """``render_value_in_context``, whose localisation leaves text as it is: text is only
    escaped (when the context escapes)."""
    if isinstance(value, str):
        return conditional_escape(value) if context.autoescape else value
    return render_value_in_context(value, context)


@functools.cache
def _choice_fields(model) -> frozenset[str]:
    """Fields shown through ``get_FOO_display`` by django-tables2."""
    return frozenset(
        field.name for field in model._meta.get_fields() if getattr(field, "choices", None)
    )


@register.simple_tag(takes_context=True)
def table_cells(context, row):
    parts = []
    record = row.record
    for plan in _plans(row.table):
        column = plan.column
        value = plan.value(record)
        if value is _OTHER:
            cell = row._get_and_render_with(
                column,
                render_func=lambda _column, value=None, plan=plan: plan.render(row, value),
                default=column.default,
            )
        elif value in plan.empty_values:
            cell = column.default
        else:
            cell = plan.render(row, value)
        if plan.per_cell:
            column.current_value, column.current_record = cell, row.record
            td = render_value_in_context(column.attrs["td"].as_html(), context)
        else:
            td = plan.td
        parts.append(CELL.format(attrs=td, cell=_in_context(cell, context)))
    return mark_safe("".join(parts))  # noqa: S308 - every part escaped by render_value_in_context


@register.simple_tag
def table_row_attrs(row):
    """``{{ row.attrs.as_html }}``, with the signature of each computed attribute (such as
    ``data-verdict``) read once per table rather than once per row."""
    table = row.table
    plan = getattr(table, "_dashboard_row_attrs", None)
    if plan is None:
        plan = [
            (key, value, signature(value) if callable(value) else None)
            for key, value in table.row_attrs.items()
        ]
        table._dashboard_row_attrs = plan
    if any(isinstance(value, dict) for _key, value, _signature in plan):
        return row.attrs.as_html()
    available = {"table": table, "record": row.record}
    attrs = {}
    for key, value, called in plan:
        if called is not None:
            args, kwargs_name = called
            call = available if kwargs_name else {n: available[n] for n in args if n in available}
            value = value(**call) if kwargs_name or len(call) == len(args) else None
        attrs[key] = value
    parity = row.get_even_odd_css_class()
    attrs["class"] = f"{attrs['class']} {parity}" if attrs.get("class") else parity
    return AttributeDict(attrs).as_html()
