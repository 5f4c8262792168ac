"""The shapes of WeCom ids that every entry point checks before use (school_live/wecom/ids.py)."""

import pytest

from school_live.wecom import ids


@pytest.mark.parametrize(
    "value", ["lvEuavu2hKZwSG5aTSZg7EiACMA5vD2Q", "lv_a-b", "LIVINGID", "x" * 128, "a=b+c.d~"]
)
def test_livingid_shapes_wecom_gives_are_valid(value):
    assert ids.livingid_valid(value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x" * 129,
        "<script>alert(1)</script>",
        "a/b",
        "a b",
        "a%2Fb",
        "a?b",
        "a#b",
        "直播",
        None,
        7,
    ],
)
def test_livingid_with_another_shape_is_refused(value):
    assert not ids.livingid_valid(value)


@pytest.mark.parametrize("value", ["zhangwei", "zhang.wei@school", "s_01-a", "a" * 64])
def test_userid_shapes_are_valid(value):
    assert ids.userid_valid(value)


@pytest.mark.parametrize("value", ["", "a" * 65, "张伟", "a b", "a/b", "<b>", None])
def test_userid_with_another_shape_is_refused(value):
    assert not ids.userid_valid(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", 1), (" 42 ", 42), (4294967295, 4294967295), (13, 13)],
)
def test_department_id_in_range_is_read(value, expected):
    assert ids.department_id(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "0",
        "-1",
        "4294967296",
        "99999999999999999999999",
        "9223372036854775808",
        "-9223372036854775809",
        "1.5",
        "١٢",
        "abc",
        "",
        True,
        None,
        2**63,
    ],
)
def test_department_id_out_of_shape_is_none(value):
    assert ids.department_id(value) is None
