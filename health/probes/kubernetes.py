"""Kubernetes deployment readiness, by the rules of `kubectl rollout status`:
[READY], [REPLICAS] (available), [RESPONSE_TIME].

The cluster is a kubeconfig (credentials.kubeconfig, YAML) and one of its contexts
(target.context), or the in-cluster service account (target.in_cluster). The
official client is synchronous; it runs in a thread so the other probes go on.
The API server's address is checked before the request; the client then resolves
the name again itself (its TLS verification needs the name)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

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


def _api_client(target: dict[str, Any], credentials: dict[str, Any]) -> k8s_client.ApiClient:
    if target.get("in_cluster"):
        configuration = k8s_client.Configuration()
        k8s_config.load_incluster_config(client_configuration=configuration)
        return k8s_client.ApiClient(configuration)
    document = yaml.safe_load(credentials["kubeconfig"])
    return k8s_config.new_client_from_config_dict(document, context=target.get("context") or None)


def _read(target: dict[str, Any], credentials: dict[str, Any], timeout: float) -> dict[str, Any]:
    api_client = _api_client(target, credentials)
    try:
        response = k8s_client.AppsV1Api(api_client).read_namespaced_deployment(
            target["name"], target["namespace"], _preload_content=False, _request_timeout=timeout
        )
        return json.loads(response.data)
    finally:
        api_client.close()


async def run(spec: Any, context: Any) -> dict[str, Any]:
    target, credentials = spec.target, spec.credentials
    if not target.get("in_cluster"):
        server = urlsplit(_api_client(target, credentials).configuration.host)
        await net.resolve(server.hostname or "", server.port or (443 if server.scheme == "https" else 80))
    try:
        deployment = await asyncio.to_thread(_read, target, credentials, spec.timeout)
    except k8s_client.ApiException as exc:
        raise OSError(f"Kubernetes API: {exc.status} {exc.reason}") from None
    ready, message = rollout_status(deployment)
    return {"READY": ready, "REPLICAS": int((deployment.get("status") or {}).get("availableReplicas") or 0), "message": message}
