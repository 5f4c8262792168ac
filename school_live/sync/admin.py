"""What the admin can start: a sync of the chosen livings, and (through the template in
templates/admin/school/syncrun/) a "sync the whole school" button on the sync-run list.

The school app's admin knows nothing of syncing: this module adds its action to the living
admin that school/admin.py registered, so the layers import one way (sync → school).
"""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import PeriodicTask

from school_live.school.admin import LivingAdmin
from school_live.school.models import Living
from school_live.sync.triggers import manual_living_sync_request


@admin.action(description=_("Sync now from WeCom"), permissions=["view"])
def sync_livings_now(modeladmin, request, queryset):
    queued = running = too_soon = 0
    for living in queryset.select_related("school").only("school", "livingid"):
        run, created = manual_living_sync_request(
            school=living.school, livingid=living.livingid, user=request.user
        )
        if created:
            queued += 1
        elif run is None:
            too_soon += 1
        else:
            running += 1
    if queued:
        modeladmin.message_user(
            request,
            ngettext(
                "%(count)d living queued for sync.", "%(count)d livings queued for sync.", queued
            )
            % {"count": queued},
            messages.SUCCESS,
        )
    if running:
        modeladmin.message_user(
            request,
            ngettext(
                "%(count)d living was already being synced.",
                "%(count)d livings were already being synced.",
                running,
            )
            % {"count": running},
            messages.INFO,
        )
    if too_soon:
        modeladmin.message_user(
            request,
            ngettext(
                "%(count)d living was not synced again: you asked for it less than a minute "
                "ago. Wait a minute, then try again.",
                "%(count)d livings were not synced again: you asked for them less than a minute "
                "ago. Wait a minute, then try again.",
                too_soon,
            )
            % {"count": too_soon},
            messages.WARNING,
        )


class SyncingLivingAdmin(LivingAdmin):
    actions = [*LivingAdmin.actions, sync_livings_now]


admin.site.unregister(Living)
admin.site.register(Living, SyncingLivingAdmin)


class PeriodicTaskForm(beat_admin.PeriodicTaskForm):
    """django-celery-beat's form reads ``cleaned_data["task"]`` even when the task field has
    already failed its own validation (a KeyError, so a 500): then its error is the answer."""

    def clean(self):
        if "task" not in self.cleaned_data and not self.cleaned_data.get("regtask"):
            return self.cleaned_data
        return super().clean()


class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    form = PeriodicTaskForm


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)
