from django.urls import path

from . import class_views, excuses, nicknames, rollcall, views

app_name = "dashboard"

urlpatterns = [
    path("", views.home, name="home"),
    path("classes/<int:class_id>/", class_views.class_detail, name="class"),
    path(
        "classes/<int:class_id>/download.<str:fmt>",
        class_views.class_export,
        name="class_export",
    ),
    path("livings/<str:livingid>/", views.living_detail, name="living"),
    path("livings/<str:livingid>/rollcall.json", rollcall.living_rollcall_json, name="rollcall"),
    path(
        "livings/<str:livingid>/classes/<int:class_id>/nicknames/",
        nicknames.nickname_claim_add,
        name="nickname_claim",
    ),
    path(
        "livings/<str:livingid>/classes/<int:class_id>/nicknames/<int:claim_id>/remove/",
        nicknames.nickname_claim_remove,
        name="nickname_remove",
    ),
    path("students/<str:student_userid>/", views.student_detail, name="student"),
    path("students/<str:student_userid>/excuses/", excuses.excuse_add, name="excuse_add"),
    path(
        "students/<str:student_userid>/excuses/<int:excuse_id>/revoke/",
        excuses.excuse_revoke_view,
        name="excuse_revoke",
    ),
]
