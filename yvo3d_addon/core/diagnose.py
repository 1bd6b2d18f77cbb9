"""Connection diagnosis for Test Connection: names the step that failed (DNS, proxy, TLS,
connection, authentication, permission, credits) and what to do about it.

Blender-free. One unauthenticated request proves the route (DNS, proxy, TLS, TCP) before one
authenticated, free request (the model record) proves the key.
"""

from __future__ import annotations

import os
import re
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from . import errors
from .client import MODEL_ID, RetryPolicy

if TYPE_CHECKING:
    from .client import ScenarioClient

PREFS_ADVANCED = "Preferences > Add-ons > YVO3D > Advanced"


def _proxy_for(client: ScenarioClient, url: str) -> str:
    """The proxy requests will use for `url` (environment and system settings), or ''."""
    import requests  # late: importing it costs ~90 ms (see client._network_error)

    settings = client.session.merge_environment_settings(url, {}, None, None, None)
    proxy = requests.utils.select_proxy(url, settings.get("proxies") or {})
    return str(proxy or "")


def _without_userinfo(url: str) -> str:
    """A proxy URL fit for a message: a user name and password in it are left out."""
    parts = urlsplit(url if "://" in url else "http://" + url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def _is_ip(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _ssl_reason(exc: BaseException) -> str:
    text = str(exc)
    found = re.search(r"\[SSL: ([A-Z0-9_]+)\]\s*([^()'\"\]]*)", text)
    if found:
        detail = found.group(2).strip().rstrip(".,") or found.group(1)
        return f"{found.group(1)}: {detail}" if detail != found.group(1) else detail
    found = re.search(r"(EOF occurred in violation of protocol|certificate verify failed)", text)
    return found.group(1) if found else type(exc).__name__


def _transport_problem(exc: BaseException, host: str, port: int, proxy: str, timeout: float) -> str:
    """What an exception from the unauthenticated probe says about the route, in user words."""
    import requests

    text = repr(exc)
    where = f"{host}:{port}"
    if isinstance(exc, requests.exceptions.ProxyError):
        status = re.search(r"Tunnel connection failed: (\d{3}[^'\")]*)", text)
        said = f" ({status.group(1).strip()})" if status else ""
        fix = (
            " Put the proxy's user name and password in HTTPS_PROXY "
            "(http://user:password@host:port)."
            if status and status.group(1).startswith("407")
            else " Check the proxy address in HTTPS_PROXY / HTTP_PROXY or your system settings."
        )
        return f"Proxy: the proxy {_without_userinfo(proxy)} failed to reach {where}{said}.{fix}"
    if isinstance(exc, requests.exceptions.SSLError):
        reason = _ssl_reason(exc)
        if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
            return (
                f"TLS: the certificate of {where} is not trusted ({reason}). Behind a company "
                "proxy that inspects TLS, choose your organisation's CA bundle (a .pem file) "
                f"in {PREFS_ADVANCED}."
            )
        return (
            f"TLS: the secure connection to {where} failed ({reason}). Check that the service "
            "URL is Scenario's (https), and the proxy and CA bundle settings."
        )
    if isinstance(exc, OSError) and "CA certificate bundle" in str(exc):
        return (
            f"TLS: the CA bundle cannot be used ({exc}). Choose a valid .pem file in "
            f"{PREFS_ADVANCED}, or clear the field."
        )
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        via = f" through the proxy {_without_userinfo(proxy)}" if proxy else ""
        return (
            f"Connection: no answer from {where}{via} within {timeout:g} s. A firewall may "
            "block it: check your network and proxy settings."
        )
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return (
            f"Connection: {where} accepted the connection but did not answer within "
            f"{timeout:g} s. Try again in a minute."
        )
    if "NameResolution" in text or "getaddrinfo" in text or "Name or service not known" in text:
        return (
            f"DNS: the name {host} cannot be resolved. Check your internet connection, or set "
            "HTTPS_PROXY if your network only reaches the internet through a proxy."
        )
    if "refused" in text.lower():
        return (
            f"Connection: {where} refused the connection. Check the service URL in "
            f"{PREFS_ADVANCED}."
        )
    return (
        f"Connection: the connection to {where} failed ({type(exc).__name__}). Check your "
        "network and proxy settings."
    )


def diagnose(client: ScenarioClient, model_id: str = MODEL_ID) -> tuple[bool, str]:
    """Check the route to the service and the key; (True, summary) or (False, what failed).

    Sends one unauthenticated GET of the service root and one GET of the model record; neither
    costs anything. Retries are off so a failure is reported at once.
    """
    import requests

    url = client.base_url
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    verify = client.session.verify
    if isinstance(verify, str) and verify and not os.path.isfile(verify):
        return False, (
            f"TLS: the CA bundle {verify!r} does not exist. Choose a .pem file in "
            f"{PREFS_ADVANCED}, or clear the field."
        )
    proxy = _proxy_for(client, url)
    # Behind a proxy, the proxy resolves the service's name: only the proxy's must resolve here.
    lookup = urlsplit(proxy if "://" in proxy else "http://" + proxy).hostname if proxy else host
    if lookup and not _is_ip(lookup):
        try:
            socket.getaddrinfo(lookup, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            what = f"the proxy's name {lookup}" if proxy else f"the name {host}"
            return False, (
                f"DNS: {what} cannot be resolved. Check your internet connection"
                + (" and the proxy address." if proxy else ", or your proxy settings.")
            )
    try:
        with client.session.get(
            url + "/", timeout=client.timeout, allow_redirects=False, stream=True
        ):
            pass  # any HTTP answer, even 401 or 404, proves DNS, proxy, TLS and TCP
    except (requests.RequestException, OSError) as exc:
        return False, _transport_problem(exc, host, port, proxy, float(client.timeout[0]))

    saved = client.retry
    client.retry = RetryPolicy(attempts=1, rate_limit_attempts=0)
    try:
        record = client.get_model(model_id)
    except errors.AuthError as exc:
        return False, f"Authentication (401): {exc.user_text()}"
    except errors.PermissionDeniedError as exc:
        return False, f"Permission (403): {exc.user_text()}"
    except errors.CreditsError as exc:
        return False, f"Credits (402): {exc.user_text()}"
    except errors.RateLimitedError as exc:
        return False, f"Rate limit (429): {exc.user_text()}"
    except errors.NotFoundError:
        return False, (
            f"Service: {host} answered but has no {model_id} (404). Check the service URL in "
            f"{PREFS_ADVANCED}: it must end in /v1."
        )
    except errors.InvalidResponseError:
        return False, (
            f"Service: {host} did not answer like Scenario's API. Check the service URL in "
            f"{PREFS_ADVANCED}."
        )
    except errors.ServerError as exc:
        return False, f"Service ({exc.status}): {exc.user_text()}"
    except errors.NetworkError as exc:
        return False, f"Connection: {exc.user_text()}"
    except errors.Yvo3dError as exc:
        return False, exc.user_text()
    finally:
        client.retry = saved
    model = record.get("model", record)
    name = model.get("name") if isinstance(model, dict) else None
    via = f" through the proxy {_without_userinfo(proxy)}" if proxy else ""
    return True, (
        f"Connected to {host}{via}: the key is accepted and {name or 'the YVO3D model'} "
        "is available."
    )
