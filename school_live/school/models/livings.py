"""Livings and what WeCom says about them: who watched, which visitors, who did not."""

import datetime as dt

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .fields import school_field, student_of_row_field, student_userid_field
from .org import Department


class Living(models.Model):
    class Status(models.IntegerChoices):
        """WeCom's status of a living (doc 94145), as our creation and its callbacks told us."""

        RESERVED = 0, _("reserved")  # 预约中
        LIVE = 1, _("live")  # 直播中
        ENDED = 2, _("ended")  # 已结束
        EXPIRED = 3, _("expired")  # 已过期
        CANCELLED = 4, _("cancelled")  # 已取消

    school = school_field()
    livingid = models.CharField(_("WeCom living id"), max_length=128)
    theme = models.CharField(_("theme"), max_length=255, blank=True)
    living_start = models.DateTimeField(_("start"), null=True, blank=True)
    living_duration = models.PositiveIntegerField(_("duration (s)"), default=0)
    anchor_userid = models.CharField(_("anchor userid"), max_length=64, blank=True, db_index=True)
    range_partyids = models.JSONField(_("range class ids"), default=list, blank=True)
    range_group_names = models.JSONField(_("range group names"), default=list, blank=True)
    classes = models.ManyToManyField(
        Department,
        verbose_name=_("classes"),
        related_name="livings",
        blank=True,
        help_text=_("The known classes among the living's range."),
    )
    planned_classes = models.ManyToManyField(
        Department,
        verbose_name=_("planned classes"),
        related_name="planned_livings",
        blank=True,
        help_text=_(
            "The classes the lesson was scheduled for in school_live. WeCom's living_range wins "
            "once it names classes."
        ),
    )
    status = models.PositiveSmallIntegerField(
        _("WeCom status"), choices=Status.choices, null=True, blank=True
    )
    status_changed_at = models.DateTimeField(_("status changed at"), null=True, blank=True)
    viewer_num = models.PositiveIntegerField(_("viewers"), default=0)
    comment_num = models.PositiveIntegerField(_("comments"), default=0)
    open_replay = models.BooleanField(_("replay open"), default=False)
    info_synced_at = models.DateTimeField(_("info synced at"), null=True, blank=True)
    stats_synced_at = models.DateTimeField(_("stats synced at"), null=True, blank=True)
    stats_complete = models.BooleanField(
        _("stats complete"),
        default=False,
        help_text=_("Set when the last sync read every page after the living had ended."),
    )

    class Meta:
        verbose_name = _("living")
        verbose_name_plural = _("livings")
        ordering = ["-living_start"]
        indexes = [models.Index(fields=["living_start"])]
        constraints = [
            models.UniqueConstraint(fields=["school", "livingid"], name="unique_livingid")
        ]

    def __str__(self):
        return self.theme or self.livingid

    @property
    def living_end(self) -> dt.datetime | None:
        if self.living_start is None:
            return None
        return self.living_start + dt.timedelta(seconds=self.living_duration)

    @property
    def has_ended(self) -> bool:
        end = self.living_end
        return end is not None and end <= timezone.now()


class StudentWatch(models.Model):
    """One row of get_watch_stat's ``stat_infoes.students``, as WeCom sent it."""

    # The living's school; indexed by the (school, student_userid) index below.
    school = school_field(db_index=False)
    living = models.ForeignKey(Living, on_delete=models.CASCADE, related_name="watches")
    student_userid = student_userid_field()
    student = student_of_row_field("watches")
    parent_userid = models.CharField(
        _("parent userid"),
        max_length=64,
        blank=True,
        help_text=_("Empty when the student watched on their own account."),
    )
    partyids = models.JSONField(_("class ids"), default=list)
    watch_time = models.PositiveIntegerField(_("watch time (s)"))
    enter_time = models.DateTimeField(_("first entry"), null=True, blank=True)
    leave_time = models.DateTimeField(_("last exit"), null=True, blank=True)
    is_comment = models.BooleanField(_("commented"), default=False)

    class Meta:
        verbose_name = _("student watch row")
        verbose_name_plural = _("student watch rows")
        constraints = [
            # The living is of one school: unique within the living is unique within the school.
            models.UniqueConstraint(
                fields=["living", "student_userid", "parent_userid"], name="unique_student_watch"
            )
        ]
        # The join to the roster (``student``), and a student's rows across livings.
        indexes = [
            models.Index(fields=["school", "student_userid"], name="studentwatch_school_student")
        ]

    def __str__(self):
        return f"{self.student_userid} @ {self.living_id}"


class VisitorWatch(models.Model):
    """One row of ``stat_infoes.visitors``. Nicknames are not unique; ``position`` is the key."""

    school = school_field()
    living = models.ForeignKey(Living, on_delete=models.CASCADE, related_name="visitors")
    position = models.PositiveIntegerField(_("position"))
    nickname = models.TextField(_("nickname"), blank=True)
    watch_time = models.PositiveIntegerField(_("watch time (s)"))
    enter_time = models.DateTimeField(_("first entry"), null=True, blank=True)
    leave_time = models.DateTimeField(_("last exit"), null=True, blank=True)
    is_comment = models.BooleanField(_("commented"), default=False)

    class Meta:
        verbose_name = _("visitor watch row")
        verbose_name_plural = _("visitor watch rows")
        ordering = ["living", "position"]
        constraints = [
            models.UniqueConstraint(fields=["living", "position"], name="unique_visitor_position")
        ]

    def __str__(self):
        return self.nickname


class StudentUnwatch(models.Model):
    """One row of get_unwatch_stat: a subscribed family whose student did not watch."""

    school = school_field(db_index=False)  # indexed by the (school, student_userid) index
    living = models.ForeignKey(Living, on_delete=models.CASCADE, related_name="unwatches")
    student_userid = student_userid_field()
    student = student_of_row_field("unwatches")
    parent_userid = models.CharField(_("parent userid"), max_length=64, blank=True)
    partyids = models.JSONField(_("class ids"), default=list)

    class Meta:
        verbose_name = _("unwatched row")
        verbose_name_plural = _("unwatched rows")
        constraints = [
            models.UniqueConstraint(
                fields=["living", "student_userid", "parent_userid"],
                name="unique_student_unwatch",
            )
        ]
        indexes = [
            models.Index(fields=["school", "student_userid"], name="studentunwatch_school_student")
        ]

    def __str__(self):
        return f"{self.student_userid} ✗ {self.living_id}"
