from django.urls import path

from school_live.wecom import url_converters  # noqa: F401 (registers <livingid:>, <userid:>...)

from . import class_views, excuses, nicknames, rollcall, views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("classes/<department:class_id>/", class_views.class_detail, name="class"),
    path(
        "classes/<department:class_id>/download.<str:fmt>",
        class_views.class_export,
        name="class_export",
    ),
    path("livings/<livingid:livingid>/", views.living_detail, name="living"),
    path(
        "livings/<livingid:livingid>/rollcall.json", rollcall.living_rollcall_json, name="rollcall"
    ),
    path(
        "livings/<livingid:livingid>/classes/<department:class_id>/nicknames/",
        nicknames.nickname_claim_add,
        name="nickname_claim",
    ),
    path(
        "livings/<livingid:livingid>/classes/<department:class_id>/nicknames/<pk:claim_id>/remove/",
        nicknames.nickname_claim_remove,
        name="nickname_remove",
    ),
    path("students/<userid:student_userid>/", views.student_detail, name="student"),
    path("students/<userid:student_userid>/excuses/", excuses.excuse_add, name="excuse_add"),
    path(
        "students/<userid:student_userid>/excuses/<pk:excuse_id>/revoke/",
        excuses.excuse_revoke_view,
        name="excuse_revoke",
    ),
]
