"""Shared fixtures. Every module in tests/fixtures/ is a plugin: the people of a small school,
the WeCom sandbox as a real server on 127.0.0.1, and whatever later areas add."""

from pathlib import Path

pytest_plugins = sorted(
    f"tests.fixtures.{path.stem}"
    for path in (Path(__file__).parent / "fixtures").glob("*.py")
    if path.stem != "__init__"
)
