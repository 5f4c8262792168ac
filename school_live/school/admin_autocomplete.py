"""Autocomplete fields that survive a value their key cannot hold.

Django's ``AutocompleteSelect`` renders an invalid form again by looking up the posted values
(``optgroups`` filters the related model with them), so a posted ``abc`` or a number beyond the
key's range is a ``ValueError`` or ``OverflowError``: a 500 where the form should simply show its
error. These widgets drop such values before the lookup; the form's own validation has already
said what is wrong with them. Every admin with ``autocomplete_fields`` uses ``SafeAutocomplete``.
"""

from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError


class _Holdable:
    def _target_field(self):
        remote = self.field.remote_field
        opts = remote.model._meta
        return opts.get_field(getattr(remote, "field_name", None) or opts.pk.name)

    def optgroups(self, name, value, attr=None):
        target = self._target_field()
        held = []
        for item in value:
            if item in (None, ""):
                continue
            try:
                target.run_validators(target.to_python(item))
            except (ValidationError, ValueError, TypeError, OverflowError):
                continue
            held.append(item)
        return super().optgroups(name, held, attr)


class SafeAutocompleteSelect(_Holdable, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(_Holdable, AutocompleteSelectMultiple):
    pass


class SafeAutocomplete:
    """A ModelAdmin or inline mixin: its autocomplete fields use the widgets above."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)
