"""Real local servers for the probe tests, each on 127.0.0.1 in a thread of its own.

- `HealthServer`: HTTP serving the health documents teams expose (healthy, degraded,
  unhealthy, slow, wrong JSON, 500, redirects) and a stub Kubernetes API that speaks
  apps/v1 Deployment JSON.
- `tls_server`: a TLS listener with a short-lived self-signed certificate.
- `DnsServer`: dnslib answering from a zone dictionary.
- a plain TCP listener.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import datetime as dt
import json
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

DOCUMENTS = {
    "healthy": {"status": "healthy", "checks": {"database": {"status": "healthy"}, "redis": {"status": "healthy"}}},
    "degraded": {"status": "degraded", "checks": {"database": {"status": "healthy"}, "redis": {"status": "degraded"}}},
    "unhealthy": {"status": "unhealthy", "checks": {"database": {"status": "unhealthy", "error": "timeout"}, "redis": {"status": "healthy"}}},
}

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "api", "namespace": "shop", "generation": 4, "uid": "6c0f2f8e-0d8b-4d54-9b0c-4a4b3b7f9a11",
                 "resourceVersion": "81234", "labels": {"app": "api"}},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "api"}},
             "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
             "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "api", "image": "shop/api:1.4.2"}]}}},
    "status": {"observedGeneration": 4, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
               "conditions": [
                   {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable",
                    "lastUpdateTime": "2026-11-25T10:00:00Z", "lastTransitionTime": "2026-11-25T10:00:00Z"},
                   {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                    "message": 'ReplicaSet "api-7d9c" has successfully progressed.',
                    "lastUpdateTime": "2026-11-25T10:00:00Z", "lastTransitionTime": "2026-11-25T09:58:00Z"}]},
}  # fmt: skip


class _Threaded:
    """An asyncio server running in a loop of its own thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class HealthServer(_Threaded):
    def __init__(self) -> None:
        super().__init__()
        self.mode = "healthy"
        self.delay = 0.0
        self.deployment: dict[str, Any] = copy.deepcopy(DEPLOYMENT)
        self.requests: list[dict[str, Any]] = []
        app = web.Application()
        app.router.add_route("*", "/health", self.health)
        app.router.add_get("/redirect", self.redirect)
        app.router.add_get("/redirect-to-metadata", self.redirect_metadata)
        app.router.add_get("/apis/apps/v1/namespaces/{namespace}/deployments/{name}", self.deployment_view)
        self.runner = web.AppRunner(app)
        self.call(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.call(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def health(self, request: web.Request) -> web.Response:
        self.requests.append({"method": request.method, "headers": dict(request.headers), "body": await request.text()})
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.mode in DOCUMENTS:
            status = 503 if self.mode == "unhealthy" else 200
            return web.json_response(DOCUMENTS[self.mode], status=status)
        if self.mode == "wrong_json":
            return web.Response(text='{"status": "healthy", "checks": ', content_type="application/json")
        if self.mode == "error":
            return web.Response(status=500, text="Internal Server Error")
        raise AssertionError(self.mode)

    async def redirect(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("/health")

    async def redirect_metadata(self, request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def deployment_view(self, request: web.Request) -> web.Response:
        self.requests.append({"path": request.path, "headers": dict(request.headers)})
        if request.headers.get("Authorization") != "Bearer stub-token":
            return web.json_response({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Unauthorized", "code": 401}, status=401)
        name, namespace = request.match_info["name"], request.match_info["namespace"]
        if (namespace, name) != (self.deployment["metadata"]["namespace"], self.deployment["metadata"]["name"]):
            return web.json_response(
                {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": f'deployments.apps "{name}" not found', "reason": "NotFound",
                 "details": {"name": name, "group": "apps", "kind": "deployments"}, "code": 404}, status=404)  # fmt: skip
        return web.json_response(self.deployment)

    def tls_site(self, host: str) -> tuple[int, bytes]:
        """The same routes over TLS, with a certificate for `host`: (port, certificate PEM)."""
        cert, key = self_signed(host)
        with tempfile.NamedTemporaryFile(suffix=".pem") as cert_file, tempfile.NamedTemporaryFile(suffix=".pem") as key_file:
            cert_file.write(cert)
            cert_file.flush()
            key_file.write(key)
            key_file.flush()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert_file.name, key_file.name)
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=context)
        self.call(site.start())
        return site._server.sockets[0].getsockname()[1], cert  # type: ignore[union-attr]

    def kubeconfig(self, token: str = "stub-token", server: str = "", ca: bytes = b"") -> str:
        cluster: dict[str, str] = {"server": server or self.url}
        if ca:
            cluster["certificate-authority-data"] = base64.b64encode(ca).decode()
        return json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "stub",
            "clusters": [{"name": "stub", "cluster": cluster}],
            "users": [{"name": "probe", "user": {"token": token}}],
            "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "probe"}}],
        })  # fmt: skip

    def stop(self) -> None:
        self.call(self.runner.cleanup())
        super().stop()


def self_signed(host: str = "localhost", *, days: float = 2.0) -> tuple[bytes, bytes]:
    """A certificate valid for `days` from now, and its key, in PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


@contextmanager
def tls_server(*, days: float = 2.0) -> Iterator[tuple[int, str]]:
    """A TLS listener with a fresh certificate for localhost: (port, certificate PEM)."""
    cert, key = self_signed(days=days)
    with tempfile.NamedTemporaryFile(suffix=".pem") as cert_file, tempfile.NamedTemporaryFile(suffix=".pem") as key_file:
        cert_file.write(cert)
        cert_file.flush()
        key_file.write(key)
        key_file.flush()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert_file.name, key_file.name)
    server = _Threaded()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read(1)
        except (ConnectionError, ssl.SSLError):
            pass
        writer.close()

    listener = server.call(asyncio.start_server(handle, "127.0.0.1", 0, ssl=context))
    try:
        yield listener.sockets[0].getsockname()[1], cert.decode()
    finally:
        listener.close()
        server.stop()


@contextmanager
def tcp_listener() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class DnsServer:
    """dnslib's server on 127.0.0.1 (UDP), answering from `zone`: {(name, type): [rdata text]}."""

    def __init__(self, zone: dict[tuple[str, str], list[str]]) -> None:
        from dnslib import QTYPE, RCODE, RR
        from dnslib.server import BaseResolver, DNSLogger, DNSServer

        class ZoneResolver(BaseResolver):
            def resolve(self, request: Any, handler: Any) -> Any:
                reply = request.reply()
                qname = str(request.q.qname).rstrip(".")
                qtype = QTYPE[request.q.qtype]
                records = zone.get((qname, qtype))
                if records is None:
                    if not any(name == qname for name, _ in zone):
                        reply.header.rcode = RCODE.NXDOMAIN
                    return reply
                for text in records:
                    reply.add_answer(*RR.fromZone(f"{qname}. 60 IN {qtype} {text}"))
                return reply

        self.port = free_port()
        self.server = DNSServer(ZoneResolver(), address="127.0.0.1", port=self.port, logger=DNSLogger("-request,-reply,-truncated,-error,-recv,-send,-data"))
        self.server.start_thread()

    def stop(self) -> None:
        self.server.stop()
