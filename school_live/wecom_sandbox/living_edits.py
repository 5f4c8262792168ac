"""How tests and the demo change livings while the sandbox runs: watch rows added, changed or
removed, a living started or ended now, the demo lesson scheduled. Methods of SandboxState,
behind its lock; see state.py."""

import dataclasses
import random
import secrets

from .model import ROW_FIELDS, Living, Student, Viewer
from .replies import ApiError
from .watch import ARRIVAL_SPREAD, MIN_SEGMENT, arriving_viewers


class LivingEditsMixin:
    """SandboxState's livings as Python callers read and change them (it provides lock, clock,
    seed and school)."""

    # -- livings ------------------------------------------------------------------------------

    def living(self, livingid: str) -> Living:
        """The living for Python callers; KeyError if the sandbox has none by that id."""
        return self.school.livings[livingid]

    def owned_living(self, livingid: str) -> Living:
        """The living as this app may read it: WeCom answers 92008 both for another app's
        living and for an id it does not know (it does not tell them apart)."""
        living = self.school.livings.get(livingid)
        if living is None or living.foreign:
            raise ApiError(92008, "current app has no permission to operate this living")
        return living

    def roster(self, living: Living) -> list[Student]:
        cached = self._rosters.get(living.livingid)
        if cached is None or cached[0] != living.partyids:
            cached = (living.partyids, self.school.roster(living.partyids))
            self._rosters[living.livingid] = cached
        return cached[1]

    def update_watch(
        self, livingid: str, student_userid: str, *, match_parent: object = ..., **fields
    ) -> int:
        """Change what WeCom reports for a student's rows, e.g. update_watch(lid, "wangwei",
        watch_time=1200, is_comment=1). match_parent="x_mama" picks one of two parents' rows
        (None: the row of the student's own account). Returns the number of rows changed."""
        unknown = set(fields) - ROW_FIELDS
        if unknown:
            raise TypeError(f"unknown watch fields: {sorted(unknown)}")
        with self.lock:
            living = self.living(livingid)
            changed = 0
            for i, viewer in enumerate(living.viewers):
                if viewer.student_userid.lower() != student_userid.lower():
                    continue
                if match_parent is not ... and viewer.parent_userid != match_parent:
                    continue
                living.viewers[i] = _apply(viewer, fields)
                changed += 1
            if not changed:
                raise LookupError(f"{student_userid} has no watch row in {livingid}")
            living.sort_viewers()
            return changed

    def add_watcher(
        self,
        livingid: str,
        student_userid: str,
        *,
        parent_userid: str | None = None,
        enter_time: int | None = None,
        leave_time: int | None = None,
        watch_time: int | None = None,
        is_comment: int = 0,
        partyids: tuple[int, ...] | None = None,
    ) -> None:
        """A new row; by default present for the whole living. The student need not be on the
        roster (WeCom can report a student the contact book sync has not seen yet)."""
        with self.lock:
            living = self.living(livingid)
            student = self.school.students.get(student_userid.lower())
            if partyids is None:
                partyids = student.departments if student else living.partyids[:1]
            viewer = _new_viewer(living, enter_time, leave_time, watch_time, is_comment)
            living.viewers.append(
                dataclasses.replace(
                    viewer,
                    student_userid=student_userid,
                    parent_userid=parent_userid,
                    partyids=tuple(partyids),
                )
            )
            living.sort_viewers()

    def add_visitor(self, livingid: str, nickname: str, **times) -> None:
        with self.lock:
            living = self.living(livingid)
            viewer = _new_viewer(
                living,
                times.get("enter_time"),
                times.get("leave_time"),
                times.get("watch_time"),
                times.get("is_comment", 0),
            )
            living.viewers.append(dataclasses.replace(viewer, nickname=nickname))
            living.sort_viewers()

    def remove_watcher(self, livingid: str, student_userid: str) -> int:
        with self.lock:
            living = self.living(livingid)
            before = len(living.viewers)
            living.viewers = [
                v for v in living.viewers if v.student_userid.lower() != student_userid.lower()
            ]
            living.sort_viewers()
            return before - len(living.viewers)

    def arrivals(self, livingid: str) -> list[dict]:
        """Each student row's first entry by the sandbox clock (``arrival``, Unix seconds), in
        order of arrival, whether or not it has come yet: what a benchmark compares the site's
        roll call with. Visitors are left out (a roll call has no place for them)."""
        with self.lock:
            living = self.living(livingid)
            return [
                {
                    "student_userid": viewer.student_userid,
                    "parent_userid": viewer.parent_userid or "",
                    "arrival": viewer.first_enter,
                    "live": viewer.first_enter < living.living_end,
                }
                for viewer in living.viewers
                if not viewer.is_visitor
            ]

    def watcher_arrive(
        self, livingid: str, student_userid: str, *, parent_userid: str | None = None
    ) -> int:
        """The student enters the living now, on ``parent_userid``'s account (None: their own)
        and stays to the end: a row of that account that has not come yet comes now instead,
        one that is already in stays as it is. Returns the arrival (the sandbox's now)."""
        with self.lock:
            living = self.living(livingid)
            now = self.clock()
            end = max(living.living_end, now + MIN_SEGMENT)
            for i, viewer in enumerate(living.viewers):
                same = viewer.student_userid.lower() == student_userid.lower()
                if not same or (viewer.parent_userid or None) != (parent_userid or None):
                    continue
                if viewer.first_enter <= now:
                    return viewer.first_enter
                living.viewers[i] = dataclasses.replace(viewer, segments=((now, end),))
                break
            else:
                self.add_watcher(
                    livingid,
                    student_userid,
                    parent_userid=parent_userid,
                    enter_time=now,
                    leave_time=end,
                )
            living.sort_viewers()
            return now

    def start_living_now(self, livingid: str, *, duration: int | None = None) -> Living:
        """The living starts at the sandbox's now; its viewers' times move with it."""
        with self.lock:
            living = self.living(livingid)
            delta = self.clock() - living.living_start
            living.living_start += delta
            if duration is not None:
                living.living_duration = int(duration)
            living.viewers = [v.shifted(delta) for v in living.viewers]
            living.sort_viewers()
            self.callbacks.poke()
            return living

    def end_living_now(self, livingid: str) -> Living:
        """The anchor ends the living now: whoever is in the room leaves, nobody else joins
        live; replay viewing (after the old end) moves to after the new end."""
        with self.lock:
            living = self.living(livingid)
            now = max(self.clock(), living.living_start + 1)
            old_end = living.living_end
            viewers = []
            for viewer in living.viewers:
                segments = []
                for s, e in viewer.segments:
                    if s >= old_end:
                        segments.append((s - old_end + now, e - old_end + now))
                    elif s < now:
                        segments.append((s, min(e, now)))
                if segments:
                    viewers.append(dataclasses.replace(viewer, segments=tuple(segments)))
            living.viewers = viewers
            living.living_duration = now - living.living_start
            living.sort_viewers()
            self.callbacks.poke()
            return living

    def schedule_demo_living(
        self,
        *,
        start_in: int = 120,
        duration: int = 600,
        anchor_userid: str | None = None,
        partyids: tuple[int, ...] | None = None,
        theme: str = "数学：认识钟表（演示直播）",
        spread: float = ARRIVAL_SPREAD,
    ) -> Living:
        """A living that starts `start_in` seconds from the sandbox's now and lasts `duration`
        seconds; its class joins by the clock over the first `spread` of it (watch.py), so stats
        grow while it is live."""
        duration = max(int(duration), 120)
        with self.lock:
            if anchor_userid is None or partyids is None:
                klass = next(d for d in self.school.departments.values() if d.type == 1)
                head = next(a for a in klass.admins if a.type == 3)
                anchor_userid = anchor_userid or head.userid
                partyids = partyids or (klass.id,)
            self._demo_count += 1
            rng = random.Random(f"demo-{self.seed}-{self._demo_count}")
            start = self.clock() + int(start_in)
            living = Living(
                livingid="lv" + secrets.token_urlsafe(22).replace("-", "x").replace("_", "y"),
                theme=theme,
                anchor_userid=anchor_userid,
                living_start=start,
                living_duration=duration,
                partyids=tuple(partyids),
                subscribe_count=rng.randint(5, 20),
            )
            living.viewers = arriving_viewers(
                rng,
                start=start,
                duration=duration,
                roster=self.school.roster(living.partyids),
                open_replay=True,
                nicknames=("小明妈妈", "<script>alert(1)</script>"),
                spread=float(spread),
            )
            living.sort_viewers()
            self.school.livings[living.livingid] = living
            return living


def _new_viewer(living, enter_time, leave_time, watch_time, is_comment) -> Viewer:
    enter = living.living_start if enter_time is None else int(enter_time)
    leave = living.living_end if leave_time is None else int(leave_time)
    overrides = []
    if watch_time is not None and watch_time != leave - enter:
        overrides.append(("watch_time", int(watch_time)))
    return Viewer(
        segments=((enter, max(leave, enter)),),
        comments=1 if is_comment else 0,
        overrides=tuple(overrides),
    )


def _apply(viewer: Viewer, fields: dict) -> Viewer:
    changes: dict = {}
    overrides = dict(viewer.overrides)
    for name, value in fields.items():
        if name == "is_comment":
            changes["comments"] = max(1, viewer.comments) if value else 0
        elif name == "parent_userid":
            changes["parent_userid"] = value or None
        elif name == "partyids":
            changes["partyids"] = tuple(value)
        else:
            overrides[name] = value
    return dataclasses.replace(viewer, overrides=tuple(overrides.items()), **changes)
