"""Session layer: the HTTP session every client of this Blender session uses.

It sends nothing once Blender's online access is off (the runtime tells it at every snapshot),
even for a client made before: a running job stops at its next request and stays resumable.
A shutdown cuts the connections of in-flight free requests, never the paid one, so a worker
blocked on a stalled answer ends at once instead of outliving the add-on.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import weakref
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ...core import errors

if TYPE_CHECKING:
    import requests

ONLINE_HINT = "Enable Preferences > System > Network > Allow Online Access"

_lock = threading.Lock()
_online = False


def set_online(online: bool) -> None:
    """What Blender's online access is now (main thread, at every credentials snapshot)."""
    global _online
    with _lock:
        _online = online


def _is_paid(request: requests.PreparedRequest) -> bool:
    """The generation request itself (not its dry run): never cut, its answer is the job id."""
    parts = urlsplit(str(request.url or ""))
    return request.method == "POST" and "/generate/" in parts.path and "dryRun=" not in parts.query


class _InFlight:
    """The connections one session's free requests are using right now, so that a shutdown
    can cut them: a worker blocked reading a stalled answer then ends at once instead of
    outliving the add-on (the job stays resumable)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self.local = threading.local()
        self.aborted = False

    def cut(self) -> None:
        with self.lock:
            self.aborted = True
            connections = list(self.connections)
        for connection in connections:
            sock = getattr(connection, "sock", None)
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def _tracking_pool(base: type[Any], in_flight: _InFlight) -> type[Any]:
    class Pool(base):  # type: ignore[misc]
        def _get_conn(self, timeout: float | None = None) -> Any:
            connection = super()._get_conn(timeout)
            if getattr(in_flight.local, "free", False):
                with in_flight.lock:
                    in_flight.connections.add(connection)
            return connection

        def _put_conn(self, connection: Any) -> None:
            if connection is not None:
                with in_flight.lock:
                    in_flight.connections.discard(connection)
            super()._put_conn(connection)

    return Pool


_sessions: weakref.WeakSet[Any] = weakref.WeakSet()


_session_type: type[requests.Session] | None = None


def online_only_session_type() -> type[requests.Session]:
    """The session class, made on the first client: it subclasses `requests` classes, and
    importing `requests` at load time would slow every Blender start."""
    global _session_type
    if _session_type is not None:
        return _session_type
    import requests
    import urllib3
    from requests.adapters import HTTPAdapter

    class _CuttableAdapter(HTTPAdapter):
        def __init__(self, in_flight: _InFlight) -> None:
            self.in_flight = in_flight  # before super().__init__, which makes the pool manager
            super().__init__()

        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            # Direct connections only: through a proxy a shutdown waits as before.
            self.poolmanager.pool_classes_by_scheme = {
                "http": _tracking_pool(urllib3.HTTPConnectionPool, self.in_flight),
                "https": _tracking_pool(urllib3.HTTPSConnectionPool, self.in_flight),
            }

        def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> Any:
            free = not _is_paid(request)
            if free and self.in_flight.aborted:
                raise requests.ConnectionError("The add-on is stopping.")
            self.in_flight.local.free = free
            return super().send(request, *args, **kwargs)

    class _OnlineOnlySession(requests.Session):
        """Sends nothing once online access is off, even for a client made before: a running
        job stops at its next request (and stays resumable) instead of going on polling. Its
        free requests can be cut by `shutdown`."""

        def __init__(self) -> None:
            super().__init__()
            self.in_flight = _InFlight()
            adapter = _CuttableAdapter(self.in_flight)
            self.mount("http://", adapter)
            self.mount("https://", adapter)
            with _lock:
                _sessions.add(self)

        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
            with _lock:
                online = _online
            if not online:
                raise errors.ConfigError("Blender's online access is off.", fix=ONLINE_HINT + ".")
            return super().request(method, url, *args, **kwargs)

    with _lock:
        if _session_type is None:
            _session_type = _OnlineOnlySession
        return _session_type


def cut_free_requests() -> None:
    with _lock:
        sessions = list(_sessions)
    for session in sessions:
        session.in_flight.cut()
