"""Kubernetes actions through the official client, sending what kubectl sends.

Each mutating action makes the same request as its kubectl command (same path,
verb, patch type and body; `runbooks/tests/test_kubectl_fidelity.py` checks it
against kubectl itself), reads the target before and after, and honours
`dryRun=All` for a dry run. Namespaces outside the cluster's allow-list are refused
before any request is sent.
"""

from __future__ import annotations

import copy
import json
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any, cast

import urllib3
from django.conf import settings
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from runbooks.actions.base import Action, ActionContext, ActionError, ActionResult

IDEMPOTENCY_HEADER = "X-Portal-Idempotency-Key"
FIELD_MANAGER = "incident-portal"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
REVISION = "deployment.kubernetes.io/revision"
POD_TEMPLATE_HASH = "pod-template-hash"
# Deployment annotations kubectl keeps from the deployment, not the ReplicaSet, on undo.
_ANNOTATIONS_TO_SKIP = {
    "kubectl.kubernetes.io/last-applied-configuration",
    REVISION,
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    "deprecated.deployment.rollback.to",
}
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"

NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$"}
NAMESPACE = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"}
WORKLOAD = {"type": "string", "enum": ["deployment", "statefulset"]}


class OutcomeUnknown(Exception):
    """The request may or may not have reached the API server (connection lost,
    timeout): the step must not be retried automatically."""


# --- clients -------------------------------------------------------------------------
_clients: dict[tuple[Any, ...], client.ApiClient] = {}
_clients_lock = threading.Lock()


def api_client(cluster: Any) -> client.ApiClient:
    """One client (and connection pool) per cluster configuration and process."""
    kubeconfig = getattr(settings, "RUNBOOKS_KUBECONFIG", "") or None
    key = (os.getpid(), cluster.in_cluster, cluster.context, kubeconfig)
    with _clients_lock:
        api = _clients.get(key)
        if api is None:
            if cluster.in_cluster:
                configuration = client.Configuration()
                config.load_incluster_config(client_configuration=configuration)
                api = client.ApiClient(configuration)
            else:
                api = config.new_client_from_config(
                    config_file=kubeconfig, context=cluster.context or None, persist_config=False
                )
            _clients[key] = api
        return api


def warm_up() -> None:
    """Import the API classes now: the client imports them on first use, which takes
    seconds, and that first use would otherwise sit between an approval and its call."""
    from kubernetes.client.api import apps_v1_api, core_v1_api  # noqa: F401


def reset_clients() -> None:
    with _clients_lock:
        _clients.clear()


def _namespace(ctx: ActionContext, params: dict[str, Any]) -> str:
    namespace = params.get("namespace") or ctx.namespace or "default"
    if ctx.cluster is None:
        raise ActionError("This run has no cluster: choose one when starting it.")
    if not ctx.cluster.allows(namespace):
        raise ActionError(f"Namespace {namespace!r} is not in the allow-list of cluster {ctx.cluster.name}.")
    return namespace


def _call(ctx: ActionContext, fn: Any, *args: Any, mutating: bool = False, **kwargs: Any) -> dict[str, Any]:
    """Call a client method and return the JSON body as the server sent it (the
    generated models drop fields kubectl would send back, such as nulls)."""
    headers = {IDEMPOTENCY_HEADER: ctx.idempotency_key} if mutating and ctx.idempotency_key else None
    if mutating:
        kwargs["field_manager"] = FIELD_MANAGER  # who changed what, in the object's managedFields
        if ctx.dry_run:
            kwargs["dry_run"] = "All"
    try:
        response = fn(*args, _headers=headers, _request_timeout=(5, max(5, ctx.timeout_seconds)),
                      _preload_content=False, **kwargs)  # fmt: skip
    except ApiException as exc:
        raise ActionError(_api_message(exc)) from exc
    except Exception as exc:  # connection refused, reset, timed out
        if mutating:
            raise OutcomeUnknown(f"No answer from the API server: {exc}") from exc
        raise ActionError(f"Could not reach the API server: {exc}") from exc
    return json.loads(response.data or b"{}")


def _api_message(exc: ApiException) -> str:
    try:
        message = json.loads(exc.body or "{}").get("message") or exc.reason
    except (ValueError, AttributeError):
        message = exc.reason
    return f"{exc.status} {message}"


def _configured(ctx: ActionContext) -> client.ApiClient:
    # A configuration problem is found before any request: the step failed, nothing was sent.
    try:
        return api_client(ctx.cluster)
    except Exception as exc:  # ConfigException, a missing file or context, no in-cluster token
        raise ActionError(f"Cluster {ctx.cluster.name}: {exc}") from exc


def _apps(ctx: ActionContext) -> client.AppsV1Api:
    return client.AppsV1Api(_configured(ctx))


def _core(ctx: ActionContext) -> client.CoreV1Api:
    return client.CoreV1Api(_configured(ctx))


def _read_workload(ctx: ActionContext, kind: str, name: str, namespace: str) -> dict[str, Any]:
    apps = _apps(ctx)
    fn = apps.read_namespaced_deployment if kind == "deployment" else \
        apps.read_namespaced_stateful_set  # fmt: skip
    return _call(ctx, fn, name, namespace)


def _workload_state(obj: dict[str, Any]) -> dict[str, Any]:
    spec, status, meta = obj.get("spec", {}), obj.get("status", {}), obj.get("metadata", {})
    template = spec.get("template", {})
    return {
        "generation": meta.get("generation"),
        "revision": (meta.get("annotations") or {}).get(REVISION),
        "replicas": spec.get("replicas"),
        "ready_replicas": status.get("readyReplicas", 0),
        "updated_replicas": status.get("updatedReplicas", 0),
        "restarted_at": ((template.get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT),
        "env": {c.get("name"): {e["name"]: e.get("value") for e in c.get("env") or []}
                for c in (template.get("spec") or {}).get("containers") or []},
        "images": {c.get("name"): c.get("image") for c in (template.get("spec") or {}).get("containers") or []},
    }  # fmt: skip


def _dry(ctx: ActionContext) -> str:
    return " (server dry run, nothing changed)" if ctx.dry_run else ""


# --- scale ---------------------------------------------------------------------------
def scale(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    namespace = _namespace(ctx, params)
    kind, name, replicas = params["kind"], params["name"], params["replicas"]
    before = _workload_state(_read_workload(ctx, kind, name, namespace))
    apps = _apps(ctx)
    fn = apps.patch_namespaced_deployment_scale if kind == "deployment" else \
        apps.patch_namespaced_stateful_set_scale  # fmt: skip
    # kubectl scale: a merge patch of the scale subresource
    result = _call(ctx, fn, name, namespace, {"spec": {"replicas": replicas}}, mutating=True, _content_type=MERGE_PATCH)
    after = dict(before, replicas=(result.get("spec") or {}).get("replicas"))
    return ActionResult(ok=True, before=before, after=after,
                        output=f"{kind}.apps/{name} scaled from {before['replicas']} to {replicas}{_dry(ctx)}")  # fmt: skip


# --- rollout restart -----------------------------------------------------------------
def rollout_restart(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    namespace = _namespace(ctx, params)
    kind, name = params.get("kind", "deployment"), params["name"]
    current = _read_workload(ctx, kind, name, namespace)
    if (current.get("spec") or {}).get("paused"):
        raise ActionError(f"can't restart paused {kind} (run rollout resume first)")
    before = _workload_state(current)
    now = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT: now}}}}}
    apps = _apps(ctx)
    fn = apps.patch_namespaced_deployment if kind == "deployment" else \
        apps.patch_namespaced_stateful_set  # fmt: skip
    result = _call(ctx, fn, name, namespace, body, mutating=True, _content_type=STRATEGIC_MERGE_PATCH)
    return ActionResult(ok=True, before=before, after=_workload_state(result),
                        output=f"{kind}.apps/{name} restarted{_dry(ctx)}")  # fmt: skip


# --- rollout undo --------------------------------------------------------------------
def _selector_string(selector: dict[str, Any]) -> str:
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op, key, values = expr["operator"], expr["key"], sorted(expr.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(sorted(parts))


def _revision(rs: dict[str, Any]) -> int:
    try:
        return int(((rs.get("metadata") or {}).get("annotations") or {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _without_hash(template: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(template)
    labels = (template.get("metadata") or {}).get("labels")
    if labels:
        labels.pop(POD_TEMPLATE_HASH, None)
    return template


def rollout_undo(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    """As kubectl's DeploymentRollbacker: find the ReplicaSet of the wanted revision
    among those the deployment controls, and JSON-patch its pod template (without the
    pod-template-hash label) and annotations back into the deployment."""
    namespace = _namespace(ctx, params)
    name, to_revision = params["name"], int(params.get("to_revision") or 0)
    deployment = _read_workload(ctx, "deployment", name, namespace)
    if (deployment.get("spec") or {}).get("paused"):
        raise ActionError(f"you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume deployment/{name}' and try again")
    uid = (deployment.get("metadata") or {}).get("uid")
    listing = _call(ctx, _apps(ctx).list_namespaced_replica_set, namespace,
                    label_selector=_selector_string((deployment.get("spec") or {}).get("selector") or {}))  # fmt: skip
    owned = [
        rs for rs in listing.get("items") or []
        if any(ref.get("controller") and ref.get("uid") == uid for ref in (rs.get("metadata") or {}).get("ownerReferences") or [])
    ]  # fmt: skip
    revisions = sorted({_revision(rs) for rs in owned}, reverse=True)
    if to_revision == 0:
        if len(revisions) < 2:
            raise ActionError("no rollout history found for deployment " + repr(name))
        to_revision = revisions[1]
    target = next((rs for rs in owned if _revision(rs) == to_revision), None)
    if target is None:
        raise ActionError(f"unable to find specified revision {to_revision} in history")
    before = _workload_state(deployment)
    template = _without_hash((target.get("spec") or {}).get("template") or {})
    if template == _without_hash((deployment.get("spec") or {}).get("template") or {}):
        return ActionResult(ok=True, before=before, after=before,
                            output=f"deployment.apps/{name} skipped rollback (current template already matches revision {to_revision})")  # fmt: skip
    annotations = {k: v for k, v in ((deployment.get("metadata") or {}).get("annotations") or {}).items() if k in _ANNOTATIONS_TO_SKIP}
    annotations.update({k: v for k, v in ((target.get("metadata") or {}).get("annotations") or {}).items() if k not in _ANNOTATIONS_TO_SKIP})
    patch = [
        {"op": "replace", "path": "/spec/template", "value": template},
        {"op": "replace", "path": "/metadata/annotations", "value": annotations},
    ]
    result = _call(ctx, _apps(ctx).patch_namespaced_deployment, name, namespace, patch,
                   mutating=True, _content_type=JSON_PATCH)  # fmt: skip
    return ActionResult(ok=True, before=before, after=dict(_workload_state(result), rolled_back_to=to_revision),
                        output=f"deployment.apps/{name} rolled back to revision {to_revision}{_dry(ctx)}")  # fmt: skip


# --- set env -------------------------------------------------------------------------
def env_patch(deployment: dict[str, Any], env: dict[str, str], container: str = "") -> dict[str, Any]:
    """The strategic merge patch kubectl computes (a two-way diff of the pod template)
    for setting `env` in every container, or in the one named."""
    containers = ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    changed: list[dict[str, Any]] = []
    for c in containers:
        if container and c.get("name") != container:
            continue
        existing = c.get("env")
        current = {e["name"]: e for e in existing or []}
        # the diff lists changed entries in the order of the new list: existing names first
        order = [e["name"] for e in existing or []] + [k for k in env if k not in current]
        diff = [{"name": k, "value": env[k]} for k in order if k in env and current.get(k) != {"name": k, "value": env[k]}]
        if not diff:
            continue
        if existing is None:
            changed.append({"name": c["name"], "env": diff})
        else:
            changed.append({"name": c["name"], "env": diff, "$setElementOrder/env": [{"name": n} for n in order]})
    if not changed:
        return {}
    return {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": c["name"]} for c in containers],
        "containers": changed,
    }}}}  # fmt: skip


def set_env(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    namespace = _namespace(ctx, params)
    name, env, container = params["name"], params["env"], params.get("container", "")
    deployment = _read_workload(ctx, "deployment", name, namespace)
    before = _workload_state(deployment)
    names = [c.get("name") for c in ((deployment.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []]
    if container and container not in names:
        raise ActionError(f"deployment {name} has no container {container!r} (containers: {', '.join(names)})")
    patch = env_patch(deployment, env, container)
    if not patch:
        return ActionResult(ok=True, before=before, after=before, output=f"deployment.apps/{name} env already set, nothing sent")
    result = _call(ctx, _apps(ctx).patch_namespaced_deployment, name, namespace, patch,
                   mutating=True, _content_type=STRATEGIC_MERGE_PATCH)  # fmt: skip
    return ActionResult(ok=True, before=before, after=_workload_state(result),
                        output=f"deployment.apps/{name} env updated{_dry(ctx)}")  # fmt: skip


# --- read-only -----------------------------------------------------------------------
def rollout_progress(deployment: dict[str, Any]) -> tuple[bool, str]:
    """kubectl rollout status's rules for a deployment: (done, message); a progress
    deadline exceeded is an ActionError."""
    meta, spec, status = deployment.get("metadata") or {}, deployment.get("spec") or {}, deployment.get("status") or {}
    name = meta.get("name")
    if (meta.get("generation") or 0) > (status.get("observedGeneration") or 0):
        return False, "Waiting for deployment spec update to be observed..."
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("reason") == "ProgressDeadlineExceeded":
            raise ActionError(f'deployment "{name}" exceeded its progress deadline')
    updated, replicas = status.get("updatedReplicas") or 0, status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    if spec.get("replicas") is not None and updated < spec["replicas"]:
        return False, f'Waiting for deployment "{name}" rollout to finish: {updated} out of {spec["replicas"]} new replicas have been updated...'
    if replicas > updated:
        return False, f'Waiting for deployment "{name}" rollout to finish: {replicas - updated} old replicas are pending termination...'
    if available < updated:
        return False, f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated replicas are available...'
    return True, f'deployment "{name}" successfully rolled out'


def rollout_status(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    namespace = _namespace(ctx, params)
    name = params["name"]
    interval = float(getattr(settings, "RUNBOOKS_POLL_SECONDS", 2.0))
    deadline = time.monotonic() + min(int(params.get("timeout_seconds") or ctx.timeout_seconds), ctx.timeout_seconds)
    lines: list[str] = []
    while True:
        deployment = _read_workload(ctx, "deployment", name, namespace)
        done, message = rollout_progress(deployment)
        if not lines or lines[-1] != message:
            lines.append(message)
        if done or ctx.dry_run:
            state = _workload_state(deployment)
            return ActionResult(ok=done, before=state, after=state, output="\n".join(lines))
        if time.monotonic() + interval > deadline:
            raise ActionError("\n".join([*lines, "timed out waiting for the rollout"]))
        time.sleep(interval)


def list_pods(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    namespace = _namespace(ctx, params)
    kwargs = {"label_selector": params["label_selector"]} if params.get("label_selector") else {}
    listing = _call(ctx, _core(ctx).list_namespaced_pod, namespace, **kwargs)
    rows = ["NAME\tREADY\tSTATUS\tRESTARTS"]
    pods = []
    for pod in listing.get("items") or []:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        ready = f"{sum(1 for s in statuses if s.get('ready'))}/{len(statuses)}"
        restarts = sum(s.get("restartCount", 0) for s in statuses)
        phase = (pod.get("status") or {}).get("phase", "")
        rows.append(f"{pod['metadata']['name']}\t{ready}\t{phase}\t{restarts}")
        pods.append({"name": pod["metadata"]["name"], "ready": ready, "phase": phase, "restarts": restarts})
    return ActionResult(ok=True, output="\n".join(rows), after={"pods": pods})


MAX_LOG = 64_000


def pod_log(ctx: ActionContext, params: dict[str, Any]) -> ActionResult:
    namespace = _namespace(ctx, params)
    kwargs: dict[str, Any] = {"tail_lines": int(params.get("tail_lines") or 100)}
    if params.get("container"):
        kwargs["container"] = params["container"]
    core = _core(ctx)
    try:
        # With _preload_content=False the client returns the raw urllib3 response, not the str it declares.
        response = cast(urllib3.BaseHTTPResponse, core.read_namespaced_pod_log(
            params["pod"], namespace, _request_timeout=(5, max(5, ctx.timeout_seconds)), _preload_content=False, **kwargs
        ))
    except ApiException as exc:
        raise ActionError(_api_message(exc)) from exc
    except Exception as exc:
        raise ActionError(f"Could not reach the API server: {exc}") from exc
    text = (getattr(response, "data", None) or b"").decode("utf-8", "replace")  # not preloaded: the raw response
    return ActionResult(ok=True, output=text[-MAX_LOG:])


def _obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required, "additionalProperties": False}


ENV_NAME = r"^[-._a-zA-Z][-._a-zA-Z0-9]*$"

ACTIONS = [
    Action("k8s.scale", "Scale a deployment or statefulset",
           _obj({"kind": WORKLOAD, "name": NAME, "namespace": NAMESPACE,
                 "replicas": {"type": "integer", "minimum": 0, "maximum": 1000}}, ["kind", "name", "replicas"]),
           scale, summary=lambda p: f"scale {p.get('kind')}/{p.get('name')} to {p.get('replicas')}"),
    Action("k8s.rollout_restart", "Rollout restart",
           _obj({"kind": WORKLOAD, "name": NAME, "namespace": NAMESPACE}, ["name"]),
           rollout_restart, summary=lambda p: f"restart {p.get('kind', 'deployment')}/{p.get('name')}"),
    Action("k8s.rollout_undo", "Rollout undo",
           _obj({"name": NAME, "namespace": NAMESPACE, "to_revision": {"type": "integer", "minimum": 0}}, ["name"]),
           rollout_undo,
           summary=lambda p: f"undo deployment/{p.get('name')}" + (f" to revision {p['to_revision']}" if p.get("to_revision") else "")),
    Action("k8s.set_env", "Set environment variables",
           _obj({"name": NAME, "namespace": NAMESPACE, "container": NAME,
                 "env": {"type": "object", "minProperties": 1, "maxProperties": 50,
                         "propertyNames": {"pattern": ENV_NAME, "maxLength": 253},
                         "additionalProperties": {"type": "string", "maxLength": 4096}}}, ["name", "env"]),
           set_env, summary=lambda p: f"set env on deployment/{p.get('name')}: " + ", ".join(sorted(p.get("env") or {}))),
    Action("k8s.rollout_status", "Wait for the rollout",
           _obj({"name": NAME, "namespace": NAMESPACE, "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 3600}}, ["name"]),
           rollout_status, mutating=False, summary=lambda p: f"wait for deployment/{p.get('name')}"),
    Action("k8s.list_pods", "List pods",
           _obj({"namespace": NAMESPACE, "label_selector": {"type": "string", "maxLength": 500, "pattern": r"^[A-Za-z0-9_./\-=!,() ]*$"}}, []),
           list_pods, mutating=False, summary=lambda p: f"list pods {p.get('label_selector', '')}".strip()),
    Action("k8s.pod_log", "Tail a pod's log",
           _obj({"pod": NAME, "namespace": NAMESPACE, "container": NAME,
                 "tail_lines": {"type": "integer", "minimum": 1, "maximum": 5000}}, ["pod"]),
           pod_log, mutating=False, summary=lambda p: f"log of {p.get('pod')}"),
]  # fmt: skip
