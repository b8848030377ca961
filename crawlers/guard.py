"""The outbound-URL guard of the crawler: no request reaches a private, loopback, link-local, shared (CGNAT),
multicast or reserved address (IPv4, IPv6, and IPv6 forms carrying an IPv4 address) unless ``allow_private_urls``
is set. The rule itself is :mod:`core.netguard`'s; this module applies it at every point a crawl goes out:

* :class:`OutboundGuardMiddleware` (downloader middleware, before robots.txt) checks every request — start URLs,
  followed links and each redirect hop, which Scrapy schedules as a new request — after resolving its host, and
  refuses it with the error kind ``blocked-private``. IP literals and the numeric forms ``inet_aton`` accepts
  (``2130706433``, ``0x7f.1``, ``127.1``) are read as the address they mean. It also refuses a rendered page
  whose answer came from a blocked address (``Response.ip_address``: the browser resolves names itself);
* :class:`GuardedResolver` (Scrapy's ``TWISTED_DNS_RESOLVER``) is the only name resolution of the crawl's
  connections: it hands Twisted only addresses that passed the check — the very answer the middleware checked,
  kept for :data:`ANSWER_SECONDS` — so the connection goes to the address that was checked and a second DNS answer
  (rebinding) can never slip in between;
* :func:`browser_request_blocked` (scrapy-playwright's ``PLAYWRIGHT_ABORT_REQUEST``) checks every request a
  rendered page makes — its subresources, its scripts' requests and the redirect hops the browser follows — and
  aborts the blocked ones. (The browser resolves names itself; the answer's address is checked again on the
  response, so a rebinding browser fetch is never stored.)

For tests, the environment variable ``TECHSCOUT_TEST_NETWORK`` emulates a network: ``{"hosts": {name:
[address, …]}, "routes": {address: local address}}`` — ``hosts`` are DNS answers (checked like any other),
``routes`` deliver connections to a checked address to a local one instead (as a NAT would). It is read here
only, and is never set outside the test suite.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import os
import threading
import time
from typing import Any

from scrapy.exceptions import IgnoreRequest
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver, IHostResolution
from twisted.internet.threads import deferToThread, deferToThreadPool
from zope.interface import implementer

from core import netguard
from core.errors import BlockedUrl, UrlError
from core.settings import Settings
from crawlers.settings import settings_of

log = logging.getLogger("techscout.guard")

ANSWER_SECONDS = 300.0  # how long a checked DNS answer is used for the connections to its host
TEST_NETWORK_ENV = "TECHSCOUT_TEST_NETWORK"


class BlockedRequest(IgnoreRequest):
    """A request refused by the outbound-URL guard (error kind ``blocked-private``)."""

    kind = "blocked-private"


class InvalidUrl(IgnoreRequest):
    """A request whose URL cannot be requested (error kind ``invalid-url``)."""

    kind = "invalid-url"


class _Guard:
    """The process's policy (``allow_private_urls``), its checked DNS answers and the test network."""

    def __init__(self) -> None:
        self.allow_private = False
        self.routes: dict[str, str] = {}
        self._answers: dict[str, tuple[float, list[str]]] = {}
        self.browser_blocked: dict[str, str] = {}  # URL a page was navigated to → why a hop of it was aborted
        self._lock = threading.Lock()
        self._configured = False

    def configure(self, settings: Settings) -> None:
        """Take the policy from the crawl's settings (and the test network from the environment, once)."""
        self.allow_private = bool(settings.allow_private_urls)
        if self._configured:
            return
        self._configured = True
        raw = os.environ.get(TEST_NETWORK_ENV, "")
        if not raw:
            return
        spec = json.loads(raw)
        # a name's answers: a list of addresses, or a list of successive answers (the last one repeats)
        answers: dict[str, list[list[str]]] = {}
        for name, value in (spec.get("hosts") or {}).items():
            value = value if isinstance(value, list) else [value]
            successive = all(isinstance(v, list) for v in value)
            answers[str(name).lower()] = [[str(a) for a in v] for v in value] if successive else [[str(a) for a in value]]
        self.routes = {str(k): str(v) for k, v in (spec.get("routes") or {}).items()}
        if answers:
            system = netguard.set_resolver(None)

            def resolver(host: str, port: int) -> list[str]:
                queue = answers.get(host.lower())
                if queue is None:
                    return system(host, port)
                return queue.pop(0) if len(queue) > 1 else queue[0]

            netguard.set_resolver(resolver)

    def addresses(self, host: str, port: int) -> list[str]:
        """The checked addresses of ``host`` (:class:`BlockedUrl` / :class:`UrlError` otherwise), reusing an
        answer checked in the last :data:`ANSWER_SECONDS` seconds."""
        key = host.lower().rstrip(".")
        now = time.monotonic()
        with self._lock:
            cached = self._answers.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        addresses = netguard.resolve(key, port, allow_private=self.allow_private)
        with self._lock:
            self._answers[key] = (now + ANSWER_SECONDS, addresses)
        return addresses

    def connect_to(self, address: str) -> str:
        return self.routes.get(address, address)

    def literal_reason(self, url: netguard.Url) -> str | None:
        """Why a URL is blocked without resolving anything (an IP literal, a numeric host, a local name)."""
        if self.allow_private:
            return None
        if url.ip is not None:
            why = netguard.blocked_reason(url.ip)
            return f"不允许访问{why}: {url.host}" if why else None
        if netguard.is_blocked_name(url.host):
            return f"不允许访问内网或本机地址: {url.host}"
        return None


GUARD = _Guard()


def check_url(url: str) -> None:
    """Raise :class:`BlockedRequest` (or :class:`InvalidUrl`) when the crawl must not request ``url``; resolves
    the host (blocking: call it off the reactor). A host that does not resolve passes: the request fails with
    ``dns``."""
    try:
        parsed = netguard.parse_url(url, field="URL", schemes=("http", "https"))
    except UrlError as exc:
        raise InvalidUrl(str(exc)) from None
    why = GUARD.literal_reason(parsed)
    if why:
        raise BlockedRequest(why)
    if GUARD.allow_private or parsed.ip is not None:
        return
    try:
        GUARD.addresses(parsed.host, parsed.effective_port)
    except BlockedUrl as exc:
        raise BlockedRequest(str(exc)) from None
    except UrlError:
        return


class OutboundGuardMiddleware:
    """Downloader middleware: every request (and redirect hop) checked before it is sent, every answer checked
    for the address it came from."""

    def __init__(self, settings: Settings) -> None:
        GUARD.configure(settings)

    @classmethod
    def from_crawler(cls, crawler: Any) -> OutboundGuardMiddleware:
        return cls(settings_of(crawler))

    async def process_request(self, request: Any) -> None:
        from scrapy.utils.defer import maybe_deferred_to_future

        if request.url.startswith(("data:", "file:")):
            raise InvalidUrl(f"URL: scheme not accepted: {request.url[:40]!r}")
        if GUARD.allow_private:
            return
        await maybe_deferred_to_future(deferToThread(check_url, request.url))

    def process_response(self, request: Any, response: Any) -> Any:
        # Scrapy's own connections only ever reach checked addresses (GuardedResolver); the browser resolves
        # names itself, so the address its answer came from is checked here
        ip = getattr(response, "ip_address", None) if request.meta.get("playwright") else None
        if ip is not None and not GUARD.allow_private:
            why = netguard.blocked_reason(str(ip))
            if why:
                raise BlockedRequest(f"不允许访问{why}: 应答来自 {ip}")
        return response


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:  # resolution runs in a thread; its answer is simply not used
        pass


@implementer(IHostnameResolver)
class GuardedResolver:
    """Scrapy's ``TWISTED_DNS_RESOLVER``: names resolved through :mod:`core.netguard`, only checked addresses
    handed to Twisted (a blocked name resolves to nothing: the connection cannot be made)."""

    def __init__(self, reactor: Any, settings: Settings) -> None:
        self.reactor = reactor
        GUARD.configure(settings)

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> GuardedResolver:
        return cls(reactor, settings_of(crawler))

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(  # noqa: N802 - Twisted's interface
        self,
        resolutionReceiver: Any,  # noqa: N803 - an IResolutionReceiver
        hostName: str,  # noqa: N803
        portNumber: int = 0,  # noqa: N803
        addressTypes: Any = None,  # noqa: N803
        transportSemantics: str = "TCP",  # noqa: N803
    ) -> Any:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        d = deferToThreadPool(self.reactor, self.reactor.getThreadPool(), GUARD.addresses, hostName, portNumber)

        def resolved(addresses: list[str]) -> None:
            for address in addresses:
                target = GUARD.connect_to(address)
                ip = ipaddress.ip_address(target.split("%", 1)[0])
                kind = IPv4Address if ip.version == 4 else IPv6Address
                if addressTypes and kind not in addressTypes:
                    continue
                resolutionReceiver.addressResolved(kind("TCP", target, portNumber))
            resolutionReceiver.resolutionComplete()

        def failed(failure: Any) -> None:
            if failure.check(BlockedUrl):
                log.warning("connection to %s refused: %s", hostName, failure.value)
            resolutionReceiver.resolutionComplete()

        d.addCallbacks(resolved, failed)
        return resolution


async def browser_request_blocked(request: Any) -> bool:
    """scrapy-playwright's ``PLAYWRIGHT_ABORT_REQUEST``: whether a request a rendered page makes must be
    aborted (checked like every other request of the crawl)."""
    url = str(getattr(request, "url", ""))
    if GUARD.allow_private or not url.startswith(("http://", "https://")):
        return False  # data:, blob:, about: never leave the browser
    try:
        await asyncio.to_thread(check_url, url)
    except BlockedRequest as exc:
        first = request
        while getattr(first, "redirected_from", None) is not None:
            first = first.redirected_from
        GUARD.browser_blocked[str(first.url)] = str(exc)  # the navigation it belongs to fails blocked-private
        log.warning("browser request to %s aborted: %s", netguard.parse_url(url).redacted(), exc)
        return True
    except InvalidUrl:
        return True
    return False
