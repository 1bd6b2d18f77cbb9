"""Local stand-in of Scenario's cloud API and the test media it serves (standard library only)."""

from .server import StandIn

__all__ = ["StandIn"]
