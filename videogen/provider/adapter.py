"""The transport adapter of the client's session: ``requests``' own ``HTTPAdapter`` without
the per-request work whose answer never changes for the one API host.

A sweep's polls share one process and its GIL, so a poll's CPU is what bounds them. For every
request ``requests`` parses the URL again to pick the connection pool and the path, and runs
the cookie machinery on the response. The client talks to one origin with its proxies
resolved once (``_session_with_environment_resolved``), and keeps no cookies: the API sets
none, and one client shared by every thread and workspace must carry nothing from one answer
to the next request. ``send`` is ``requests``' own, untouched, so a test's ``responses`` mock
still answers every call.
"""

from __future__ import annotations

from typing import Any

from requests.adapters import HTTPAdapter
from requests.models import PreparedRequest, Response
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

# (origin, verify, cert) keys remembered; one base URL needs one or two.
POOL_KEYS_KEPT = 16


def origin_of(url: str) -> str:
    """``scheme://authority`` of an absolute URL, as written (the whole string otherwise)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = len(rest)
    for mark in "/?#":
        at = rest.find(mark, 0, end)
        if at != -1:
            end = at
    return f"{scheme}{sep}{rest[:end]}"


class ProviderAdapter(HTTPAdapter):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pool_keys: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, Any]]] = {}

    def build_connection_pool_key_attributes(
        self, request: PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``requests``' answer, remembered per origin, ``verify`` and ``cert`` (all it
        depends on); a URL ``requests`` refuses raises as before and is not remembered."""
        key = (origin_of(request.url or ""), verify, cert)
        known = self._pool_keys.get(key)
        if known is None:
            known = super().build_connection_pool_key_attributes(request, verify, cert)
            if len(self._pool_keys) >= POOL_KEYS_KEPT:
                self._pool_keys.clear()
            self._pool_keys[key] = known
        host_params, pool_kwargs = known
        return dict(host_params), dict(pool_kwargs)  # the caller's to keep

    def request_url(self, request: PreparedRequest, proxies: Any) -> str:
        """Without any proxy the path, as ``requests`` sends it (through a proxy, its rules)."""
        if not proxies:
            return request.path_url
        return super().request_url(request, proxies)

    def build_response(self, req: PreparedRequest, resp: Any) -> Response:
        """``HTTPAdapter.build_response`` without storing the answer's cookies."""
        response = Response()
        response.status_code = getattr(resp, "status", None)
        response.headers = CaseInsensitiveDict(getattr(resp, "headers", {}))
        response.encoding = get_encoding_from_headers(response.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url.decode() if isinstance(req.url, bytes) else req.url
        response.request = req
        response.connection = self
        return response
