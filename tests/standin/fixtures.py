"""pytest fixture for the stand-in; import it into a test module (tests/conftest.py is shared)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import StandIn


@pytest.fixture
def standin() -> Iterator[StandIn]:
    """A started stand-in with default settings, stopped after the test; fails the test if the
    stand-in itself raised (a bug in it, not in the client under test)."""
    server = StandIn().start()
    try:
        yield server
    finally:
        server.stop()
    assert not server.errors, "stand-in internal error:\n" + "\n".join(server.errors)
