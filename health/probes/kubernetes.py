"""Kubernetes deployment readiness, by the rules of `kubectl rollout status`:
[READY], [REPLICAS] (available), [RESPONSE_TIME].

The cluster is a kubeconfig (credentials.kubeconfig, YAML) and one of its contexts
(target.context), or the in-cluster service account (target.in_cluster). The
official client is synchronous; it runs in a thread so the other probes go on.
The API server's name is resolved and checked once; the client connects to the
checked address, with the name kept for the Host header and TLS verification."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

import urllib3
import yaml
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from health import net

PLACEHOLDERS = {"READY", "REPLICAS", "RESPONSE_TIME"}
DEFAULT_CONDITIONS = ["[READY] == true"]
SECRET_KEYS = ("kubeconfig",)


def validate(target: dict[str, Any], credentials: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for key in ("namespace", "name"):
        value = target.get(key)
        if not isinstance(value, str) or not value or len(value) > 253:
            errors[f"target.{key}"] = ["Required: a Kubernetes object name."]
    if target.get("in_cluster"):
        return errors
    text = credentials.get("kubeconfig")
    if not isinstance(text, str) or not text.strip():
        errors["credentials.kubeconfig"] = ["A kubeconfig (YAML) is required unless in_cluster is true."]
        return errors
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        errors["credentials.kubeconfig"] = [f"Not valid YAML: {str(exc)[:200]}"]
        return errors
    contexts = [c.get("name") for c in (document or {}).get("contexts") or [] if isinstance(c, dict)] if isinstance(document, dict) else []
    if not contexts:
        errors["credentials.kubeconfig"] = ["The kubeconfig has no contexts."]
    elif target.get("context") and target["context"] not in contexts:
        errors["target.context"] = [f"No context {target['context']!r} in the kubeconfig (it has {', '.join(map(str, contexts))})."]
    return errors


def rollout_status(deployment: dict[str, Any]) -> tuple[bool, str]:
    """kubectl's DeploymentStatusViewer: (done, message)."""
    metadata = deployment.get("metadata") or {}
    spec = deployment.get("spec") or {}
    status = deployment.get("status") or {}
    name = metadata.get("name", "")
    if int(metadata.get("generation") or 0) > int(status.get("observedGeneration") or 0):
        return False, "Waiting for deployment spec update to be observed..."
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return False, f'deployment "{name}" exceeded its progress deadline'
    replicas = spec.get("replicas", 1)
    updated = int(status.get("updatedReplicas") or 0)
    total = int(status.get("replicas") or 0)
    available = int(status.get("availableReplicas") or 0)
    if replicas is not None and updated < int(replicas):
        return False, f'Waiting for deployment "{name}" rollout to finish: {updated} out of {replicas} new replicas have been updated...'
    if total > updated:
        return False, f'Waiting for deployment "{name}" rollout to finish: {total - updated} old replicas are pending termination...'
    if available < updated:
        return False, f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas are available...'
    return True, f'deployment "{name}" successfully rolled out'


def _configuration(target: dict[str, Any], credentials: dict[str, Any]) -> k8s_client.Configuration:
    configuration = k8s_client.Configuration()
    if target.get("in_cluster"):
        k8s_config.load_incluster_config(client_configuration=configuration)
    else:
        document = yaml.safe_load(credentials["kubeconfig"])
        k8s_config.load_kube_config_from_dict(
            document, context=target.get("context") or None, client_configuration=configuration, persist_config=False
        )
    return configuration


def pinned(configuration: k8s_client.Configuration, address: str) -> tuple[k8s_client.Configuration, str]:
    """The configuration pointed at a checked address of the API server, and the Host
    header to send. TLS is still verified against the server's name (SNI and the
    certificate's names, through `tls_server_name`), so pinning the address weakens
    nothing; a `tls-server-name` from the kubeconfig is kept."""
    server = urlsplit(configuration.host)
    host = server.hostname or ""
    pinned_to = copy.copy(configuration)
    literal = f"[{address}]" if ":" in address else address
    port = f":{server.port}" if server.port else ""
    pinned_to.host = urlunsplit((server.scheme, f"{literal}{port}", server.path, "", ""))
    if server.scheme == "https" and not configuration.tls_server_name:
        pinned_to.tls_server_name = host
    # The kubeconfig loader's token hook copies the kubeconfig's server back into the
    # configuration before every request: pin it again after the hook.
    refresh = configuration.refresh_api_key_hook
    if refresh is not None:
        host_pinned, name_pinned = pinned_to.host, pinned_to.tls_server_name

        def refresh_pinned(current: k8s_client.Configuration) -> None:
            refresh(current)
            current.host, current.tls_server_name = host_pinned, name_pinned

        pinned_to.refresh_api_key_hook = refresh_pinned
    return pinned_to, f"{host}{port}"


def _read(configuration: k8s_client.Configuration, host_header: str, target: dict[str, Any], timeout: float) -> dict[str, Any]:
    api_client = k8s_client.ApiClient(configuration)
    if host_header:
        api_client.set_default_header("Host", host_header)
    try:
        # _preload_content=False: the raw urllib3 response, read as the JSON the API sent
        response: Any = k8s_client.AppsV1Api(api_client).read_namespaced_deployment(
            target["name"], target["namespace"], _preload_content=False, _request_timeout=timeout
        )
        return cast(dict[str, Any], json.loads(response.data))
    finally:
        api_client.close()


async def _read_pinned(configuration: k8s_client.Configuration, target: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Resolve and check the API server's name once and connect to the checked
    addresses only: the client never resolves the name again, so a name that answers
    differently on a second lookup (DNS rebinding) cannot reach a refused address."""
    server = urlsplit(configuration.host)
    host = server.hostname or ""
    addresses = await net.resolve(host, server.port or (443 if server.scheme == "https" else 80))
    if net.is_ip(host):
        return await asyncio.to_thread(_read, configuration, "", target, timeout)
    last: Exception | None = None
    for _family, address in addresses:
        try:
            return await asyncio.to_thread(_read, *pinned(configuration, address), target, timeout)
        except urllib3.exceptions.MaxRetryError as exc:  # this address did not answer: the next one
            last = exc
    raise OSError(f"Cannot connect to the Kubernetes API at {host}: {last}")


async def run(spec: Any, context: Any) -> dict[str, Any]:
    target, credentials = spec.target, spec.credentials
    configuration = await asyncio.to_thread(_configuration, target, credentials)
    try:
        if target.get("in_cluster"):
            # the pod's own API server, from its environment: not a probe author's choice
            deployment = await asyncio.to_thread(_read, configuration, "", target, spec.timeout)
        else:
            deployment = await _read_pinned(configuration, target, spec.timeout)
    except k8s_client.ApiException as exc:
        raise OSError(f"Kubernetes API: {exc.status} {exc.reason}") from None
    ready, message = rollout_status(deployment)
    return {"READY": ready, "REPLICAS": int((deployment.get("status") or {}).get("availableReplicas") or 0), "message": message}
