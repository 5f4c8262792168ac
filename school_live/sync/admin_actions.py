"""Admin actions that start syncs. LivingAdmin lists ``sync_livings_now`` in its ``actions``; the
sync-run list gets a "sync the whole school" button (templates/admin/school/syncrun/)."""

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from school_live.sync.triggers import living_sync_request


@admin.action(description=_("Sync now from WeCom"), permissions=["view"])
def sync_livings_now(modeladmin, request, queryset):
    queued = running = 0
    for livingid in queryset.values_list("livingid", flat=True):
        _run, created = living_sync_request(livingid=livingid, requested_by=request.user)
        if created:
            queued += 1
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
