"""TLS certificate: connect, complete the handshake, read the peer's certificate.
[CERTIFICATE_EXPIRATION] in milliseconds, [CONNECTED], [RESPONSE_TIME].

verify (default true) checks the chain and the name against the system's CAs, or
against `ca_pem` when given (a private CA)."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from typing import Any

from cryptography import x509

from health import net
from health.probes._common import need_host_port, optional_bool, optional_str

PLACEHOLDERS = {"CERTIFICATE_EXPIRATION", "CONNECTED", "RESPONSE_TIME", "IP"}
DEFAULT_CONDITIONS = ["[CERTIFICATE_EXPIRATION] > 72h"]
SECRET_KEYS: tuple[str, ...] = ()


def validate(target: dict[str, Any], credentials: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    need_host_port(target, errors, default_port=443)
    optional_str(target, "server_name", errors, limit=253)
    optional_bool(target, "verify", errors)
    optional_str(target, "ca_pem", errors, limit=20_000)
    if isinstance(target.get("ca_pem"), str):
        try:
            ssl.create_default_context(cadata=target["ca_pem"])
        except (ssl.SSLError, ValueError):
            errors["target.ca_pem"] = ["Not a PEM certificate."]
    return errors


def context_for(target: dict[str, Any]) -> ssl.SSLContext:
    if target.get("verify", True):
        return ssl.create_default_context(cadata=target["ca_pem"]) if target.get("ca_pem") else ssl.create_default_context()
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


async def run(spec: Any, context: Any) -> dict[str, Any]:
    target = spec.target
    host = target["host"]
    server_name = target.get("server_name") or (None if net.is_ip(host) else host)
    _reader, writer, address = await net.open_connection(
        host, int(target.get("port", 443)), ssl=context_for(target), server_hostname=server_name or ""
    )
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
    certificate = x509.load_der_x509_certificate(der)
    remaining = certificate.not_valid_after_utc - datetime.now(UTC)
    return {
        "CERTIFICATE_EXPIRATION": remaining.total_seconds() * 1000,
        "CONNECTED": True,
        "IP": address,
        "not_after": certificate.not_valid_after_utc.isoformat(),
    }
