"""Talking to the server: which product a URL serves, and one client for both (``elasticsearch`` to Elasticsearch,
``opensearch-py`` to OpenSearch); server errors as :class:`ServerError`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from core.errors import BackendError

if TYPE_CHECKING:
    pass


PRODUCTS = ("elasticsearch", "opensearch")


RETRY_STATUS = (429, 502, 503, 504)


# -- the transport ----------------------------------------------------------------------------------------------
class ServerError(Exception):
    """An error answer of the server (``status`` 0: it could not be reached)."""

    def __init__(self, status: int, kind: str, reason: str) -> None:
        super().__init__(f"{status} {kind}: {reason}" if status else reason)
        self.status, self.kind, self.reason = status, kind, reason


def server_hosts(url: str | Sequence[str] | None) -> list[str]:
    hosts = (
        [u.strip() for u in url.split(",")] if isinstance(url, str) else [str(u).strip() for u in url or []]
    )
    hosts = [h for h in hosts if h]
    if not hosts:
        raise BackendError(
            "the elasticsearch/opensearch backend needs elasticsearch_url (e.g. http://127.0.0.1:9200)"
        )
    return hosts


def detect_product(url: str, timeout: float = 10.0) -> str:
    """``opensearch`` or ``elasticsearch``, from the server's answer to ``GET /``; a :class:`BackendError`
    naming the URL when nothing answers."""
    import urllib.error
    import urllib.request

    def answer(resp: Any) -> str | None:
        if "elasticsearch" in str(resp.headers.get("X-Elastic-Product", "")).lower():
            return "elasticsearch"
        try:
            info = json.loads(resp.read() or b"{}")
        except ValueError:
            return None
        dist = str(((info or {}).get("version") or {}).get("distribution") or "")
        return "opensearch" if dist == "opensearch" else ("elasticsearch" if info.get("version") else None)

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/", timeout=timeout) as resp:  # noqa: S310 - the setting's URL
            found = answer(resp)
    except urllib.error.HTTPError as exc:  # Elastic's server core answers GET / with 405, with its header
        found = answer(exc)
    except (OSError, ValueError) as exc:
        raise BackendError(f"search server {url} is not reachable: {getattr(exc, 'reason', exc)}") from None
    if found is None:
        raise BackendError(f"{url} answers, but not as Elasticsearch or OpenSearch")
    return found


class SearchClient:
    """One REST surface over the product's official client: ``request(method, path, params, body)``."""

    def __init__(
        self, url: str | Sequence[str], product: str | None = None, *, timeout: float = 30.0
    ) -> None:
        self.hosts = server_hosts(url)
        self.url = self.hosts[0]
        self.product = product or detect_product(self.url)
        if self.product not in PRODUCTS:
            raise BackendError(f"unknown search server product {self.product!r}")
        retry: dict[str, Any] = {"max_retries": 2, "retry_on_timeout": True, "retry_on_status": RETRY_STATUS}
        if self.product == "opensearch":
            from opensearchpy import OpenSearch

            self._client: Any = OpenSearch(self.hosts, timeout=timeout, **retry)
        else:
            from elasticsearch import Elasticsearch

            self._client = Elasticsearch(self.hosts, request_timeout=timeout, **retry)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        ndjson: bool = False,
    ) -> dict[str, Any]:
        """Send one request; the decoded JSON answer, or :class:`ServerError`."""
        params = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        if self.product == "opensearch":
            return self._opensearch(method, path, params, body, ndjson)
        return self._elasticsearch(method, path, params, body, ndjson)

    def _opensearch(
        self, method: str, path: str, params: dict[str, Any], body: Any, ndjson: bool
    ) -> dict[str, Any]:
        from opensearchpy import exceptions as ex

        headers = {"content-type": "application/x-ndjson"} if ndjson else None
        if ndjson:
            body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in body)
        try:
            resp = self._client.transport.perform_request(
                method, path, params=params, body=body, headers=headers
            )
        except ex.ConnectionError as exc:
            raise ServerError(
                0, "connection", f"{self.url} is not reachable: {exc.info or exc.error}"
            ) from None
        except ex.TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            raise _server_error(status, exc.info, str(exc.error)) from None
        if isinstance(resp, bool):  # HEAD: opensearch-py answers True/False instead of raising on 404
            if not resp:
                raise ServerError(404, "not_found", f"{path} not found")
            return {}
        return resp if isinstance(resp, dict) else {"result": resp}

    def _elasticsearch(
        self, method: str, path: str, params: dict[str, Any], body: Any, ndjson: bool
    ) -> dict[str, Any]:
        from elastic_transport import ConnectionError as EsConnectionError
        from elastic_transport import TransportError as EsTransportError
        from elasticsearch import ApiError

        mime = (
            "application/vnd.elasticsearch+x-ndjson; compatible-with=9"
            if ndjson
            else ("application/vnd.elasticsearch+json; compatible-with=9")
        )
        headers = {"accept": "application/vnd.elasticsearch+json; compatible-with=9"}
        if body is not None:
            headers["content-type"] = mime
        try:
            resp = self._client.perform_request(method, path, params=params, headers=headers, body=body)
        except ApiError as exc:
            raise _server_error(int(exc.meta.status), exc.body, str(exc.message)) from None
        except EsConnectionError as exc:
            raise ServerError(0, "connection", f"{self.url} is not reachable: {exc}") from None
        except EsTransportError as exc:
            raise ServerError(0, "transport", f"{self.url}: {exc}") from None
        status = int(getattr(getattr(resp, "meta", None), "status", 200))
        if status >= 400:  # HEAD answers come back without raising
            raise ServerError(status, "not_found" if status == 404 else "", f"{path}: HTTP {status}")
        data = resp.body
        return data if isinstance(data, dict) else {"result": data}

    def close(self) -> None:
        self._client.close()


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)


def _server_error(status: int, info: Any, fallback: str) -> ServerError:
    err = info.get("error") if isinstance(info, dict) else None
    if isinstance(err, dict):
        root = (err.get("root_cause") or [err])[0]
        return ServerError(
            status,
            str(root.get("type") or err.get("type") or ""),
            str(root.get("reason") or err.get("reason") or ""),
        )
    return ServerError(status, "", str(err or info or fallback)[:500])


def host_of(url: str) -> str:
    return urlsplit(url).netloc
