"""DNS: a query of a record type to a name server; [DNS_RCODE], [DNS_ANSWERS] (a list),
[RESPONSE_TIME]. An expected answer or rcode in the target becomes a default condition."""

from __future__ import annotations

from typing import Any

import dns.asyncquery
import dns.message
import dns.rcode
import dns.rdatatype
import dns.resolver

from health import net

PLACEHOLDERS = {"DNS_RCODE", "DNS_ANSWERS", "RESPONSE_TIME", "CONNECTED"}
SECRET_KEYS: tuple[str, ...] = ()
TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "TXT", "SOA", "SRV", "PTR", "CAA")


def DEFAULT_CONDITIONS(target: dict[str, Any]) -> list[str]:  # noqa: N802
    conditions = [f"[DNS_RCODE] == {target.get('expected_rcode') or 'NOERROR'}"]
    if target.get("expected_answer"):
        conditions.append(f"[DNS_ANSWERS] contains {_quote(target['expected_answer'])}")
    return conditions


def _quote(value: str) -> str:
    import json

    return json.dumps(value)


def validate(target: dict[str, Any], credentials: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    name = target.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 253:
        errors["target.name"] = ["The name to query is required."]
    if target.get("record_type", "A") not in TYPES:
        errors["target.record_type"] = [f"One of {', '.join(TYPES)}."]
    server = target.get("nameserver")
    if server is not None and (not isinstance(server, str) or not net.is_ip(server)):
        errors["target.nameserver"] = ["The name server's IP address (leave it out for the system's)."]
    port = target.get("port", 53)
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        errors["target.port"] = ["A port between 1 and 65535."]
    rcode = target.get("expected_rcode")
    if rcode is not None:
        try:
            dns.rcode.from_text(str(rcode))
        except dns.rcode.UnknownRcode:
            errors["target.expected_rcode"] = ["A DNS response code such as NOERROR or NXDOMAIN."]
    if target.get("expected_answer") is not None and not isinstance(target.get("expected_answer"), str):
        errors["target.expected_answer"] = ["A string, as the answer is written (1.2.3.4, mail.example.com.)."]
    return errors


async def run(spec: Any, context: Any) -> dict[str, Any]:
    target = spec.target
    server = target.get("nameserver") or dns.resolver.get_default_resolver().nameservers[0]
    net.check_address(str(server))
    query = dns.message.make_query(target["name"], dns.rdatatype.from_text(target.get("record_type", "A")))
    response = await dns.asyncquery.udp(query, str(server), timeout=spec.timeout, port=int(target.get("port", 53)))
    if response.flags & dns.flags.TC:
        response = await dns.asyncquery.tcp(query, str(server), timeout=spec.timeout, port=int(target.get("port", 53)))
    answers = [rdata.to_text().strip('"') if rrset.rdtype == dns.rdatatype.TXT else rdata.to_text()
               for rrset in response.answer for rdata in rrset]  # fmt: skip
    return {"DNS_RCODE": dns.rcode.to_text(response.rcode()), "DNS_ANSWERS": answers, "CONNECTED": True}
