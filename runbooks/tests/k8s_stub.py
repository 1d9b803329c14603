"""A stub Kubernetes API server for tests: a threaded HTTP server on 127.0.0.1 that
speaks the real REST paths and JSON of `apps/v1` deployments, statefulsets and
replicasets (with the scale subresource), `v1` pods and their logs, discovery
enough for kubectl, strategic-merge, merge and JSON patches, and `dryRun=All`.
Every request is recorded (method, path, query, content type, body, headers).

Its fidelity is checked against kubectl itself (test_kubectl_fidelity.py).
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

REVISION = "deployment.kubernetes.io/revision"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    content_type: str
    body: Any
    headers: dict[str, str]
    at: float = 0.0


def _template(image: str, app: str, env: list[dict[str, str]] | None = None, annotations: dict | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": app, "image": image, "resources": {}, "terminationMessagePath": "/dev/termination-log",
                                 "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"}  # fmt: skip
    if env is not None:
        container["env"] = env
    meta: dict[str, Any] = {"creationTimestamp": None, "labels": {"app": app}}
    if annotations:
        meta["annotations"] = annotations
    return {"metadata": meta, "spec": {"containers": [container], "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                                       "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler"}}  # fmt: skip


def _hash(template: dict[str, Any]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


class Cluster:
    """The objects of the stub cluster, with deployments keeping ReplicaSet revisions as
    the deployment controller does."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.deployments: dict[tuple[str, str], dict[str, Any]] = {}
        self.statefulsets: dict[tuple[str, str], dict[str, Any]] = {}
        self.replicasets: dict[tuple[str, str], dict[str, Any]] = {}
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self.logs: dict[tuple[str, str], str] = {}
        self.rollout_instantly = True
        self._uid = 0

    def uid(self) -> str:
        self._uid += 1
        return f"00000000-0000-0000-0000-{self._uid:012d}"

    # --- seeding ---------------------------------------------------------------------
    def add_deployment(self, namespace: str, name: str, *, replicas: int = 2, images: list[str] | None = None,
                       env: list[dict[str, str]] | None = None) -> dict[str, Any]:  # fmt: skip
        images = images or [f"registry.example.com/{name}:1.0.0"]
        dep: dict[str, Any] = {
            "kind": "Deployment", "apiVersion": "apps/v1",
            "metadata": {"name": name, "namespace": namespace, "uid": self.uid(), "resourceVersion": "1", "generation": 1,
                         "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"app": name}, "annotations": {}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "template": _template(images[0], name, env),
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600},
            "status": {},
        }  # fmt: skip
        key = (namespace, name)
        self.deployments[key] = dep
        # each image is one past rollout: a ReplicaSet per revision
        for image in images:
            dep["spec"]["template"] = _template(image, name, env)
            dep["metadata"]["generation"] += 0 if image == images[0] else 1
            self._new_revision(dep)
        self._settle(dep)
        for i in range(replicas):
            self.add_pod(namespace, f"{name}-{_hash(dep['spec']['template'])[:9]}-p{i}", app=name)
        return dep

    def add_statefulset(self, namespace: str, name: str, *, replicas: int = 1) -> dict[str, Any]:
        sts = {
            "kind": "StatefulSet", "apiVersion": "apps/v1",
            "metadata": {"name": name, "namespace": namespace, "uid": self.uid(), "resourceVersion": "1", "generation": 1,
                         "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"app": name}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}}, "serviceName": name,
                     "template": _template(f"registry.example.com/{name}:1.0.0", name)},
            "status": {"replicas": replicas, "readyReplicas": replicas, "observedGeneration": 1},
        }  # fmt: skip
        self.statefulsets[(namespace, name)] = sts
        return sts

    def add_pod(self, namespace: str, name: str, *, app: str, log: str = "") -> None:
        self.pods[(namespace, name)] = {
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "uid": self.uid(), "labels": {"app": app}},
            "spec": {"containers": [{"name": app, "image": "x"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": app, "ready": True, "restartCount": 0}]},
        }  # fmt: skip
        self.logs[(namespace, name)] = log or "".join(f"{name} line {i}\n" for i in range(1, 301))

    # --- the deployment controller, instantly -------------------------------------------
    def _owned(self, dep: dict[str, Any]) -> list[dict[str, Any]]:
        uid = dep["metadata"]["uid"]
        return [rs for rs in self.replicasets.values() if rs["metadata"]["ownerReferences"][0]["uid"] == uid]

    def _new_revision(self, dep: dict[str, Any]) -> None:
        template = copy.deepcopy(dep["spec"]["template"])
        digest = _hash({k: v for k, v in template.items()})[:9]
        owned = self._owned(dep)
        revision = max([int(rs["metadata"]["annotations"][REVISION]) for rs in owned] or [0]) + 1
        existing = next((rs for rs in owned if rs["metadata"]["labels"]["pod-template-hash"] == digest), None)
        if existing is not None:  # back to an old template: its ReplicaSet takes the new revision
            existing["metadata"]["annotations"][REVISION] = str(revision)
        else:
            template["metadata"].setdefault("labels", {})["pod-template-hash"] = digest
            ns = dep["metadata"]["namespace"]
            name = f"{dep['metadata']['name']}-{digest}"
            self.replicasets[(ns, name)] = {
                "kind": "ReplicaSet", "apiVersion": "apps/v1",
                "metadata": {"name": name, "namespace": ns, "uid": self.uid(),
                             "labels": {**dep["spec"]["selector"]["matchLabels"], "pod-template-hash": digest},
                             "annotations": {REVISION: str(revision), "deployment.kubernetes.io/desired-replicas": str(dep["spec"]["replicas"]),
                                             "deployment.kubernetes.io/max-replicas": str(dep["spec"]["replicas"] + 1)},
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": dep["metadata"]["name"],
                                                  "uid": dep["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]},
                "spec": {"replicas": dep["spec"]["replicas"], "selector": {"matchLabels": {**dep["spec"]["selector"]["matchLabels"], "pod-template-hash": digest}},
                         "template": template},
                "status": {"replicas": 0},
            }  # fmt: skip
        dep["metadata"]["annotations"][REVISION] = str(revision)

    def _settle(self, dep: dict[str, Any]) -> None:
        replicas = dep["spec"]["replicas"]
        if self.rollout_instantly:
            dep["status"] = {"observedGeneration": dep["metadata"]["generation"], "replicas": replicas, "updatedReplicas": replicas,
                             "readyReplicas": replicas, "availableReplicas": replicas,
                             "conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True",
                                                                                      "reason": "NewReplicaSetAvailable"}]}  # fmt: skip

    def finish_rollouts(self) -> None:
        with self.lock:
            for dep in self.deployments.values():
                self.rollout_instantly, was = True, self.rollout_instantly
                self._settle(dep)
                self.rollout_instantly = was

    def apply_deployment_change(self, dep: dict[str, Any], changed: dict[str, Any]) -> None:
        """Store `changed` in place of `dep` as the API server and controller would."""
        template_changed = changed["spec"]["template"] != dep["spec"]["template"]
        if template_changed or changed["spec"] != dep["spec"]:
            changed["metadata"]["generation"] = dep["metadata"]["generation"] + 1
        changed["metadata"]["resourceVersion"] = str(int(dep["metadata"]["resourceVersion"]) + 1)
        dep.clear()
        dep.update(changed)
        if template_changed:
            self._new_revision(dep)
        self._settle(dep)


# --- patches -----------------------------------------------------------------------------
def strategic_merge(target: Any, patch: Any, key: str = "") -> Any:
    """Strategic merge for the fields runbook actions patch: maps merge, lists of
    containers/env merge by `name`, `$setElementOrder/...` orders them, null deletes."""
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target)
    for k, v in patch.items():
        if k.startswith("$setElementOrder/"):
            continue
        if v is None:
            out.pop(k, None)
        elif isinstance(v, list) and k in ("containers", "initContainers", "env", "volumes", "ports") and isinstance(out.get(k), list):
            merged = {item["name"] if "name" in item else json.dumps(item): copy.deepcopy(item) for item in out[k]}
            for item in v:
                name = item.get("name")
                merged[name] = strategic_merge(merged.get(name, {}), item) if name in merged else copy.deepcopy(item)
            order = [o["name"] for o in patch.get(f"$setElementOrder/{k}", [])]
            names = order + [n for n in merged if n not in order]
            out[k] = [merged[n] for n in names if n in merged]
        else:
            out[k] = strategic_merge(out.get(k), v, k) if isinstance(v, dict) else copy.deepcopy(v)
    return out


def json_patch(target: dict[str, Any], ops: list[dict[str, Any]]) -> dict[str, Any]:
    out = copy.deepcopy(target)
    for op in ops:
        if op.get("op") not in ("replace", "add"):
            raise ValueError(f"unsupported op {op.get('op')}")
        parts = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = copy.deepcopy(op["value"])
    return out


# --- HTTP ---------------------------------------------------------------------------------
_APPS = re.compile(r"^/apis/apps/v1/namespaces/([^/]+)/(deployments|statefulsets|replicasets)(?:/([^/]+))?(?:/(scale))?$")
_PODS = re.compile(r"^/api/v1/namespaces/([^/]+)/pods(?:/([^/]+))?(?:/(log))?$")

DISCOVERY: dict[str, Any] = {
    "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]},
    "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
        {"name": "apps", "versions": [{"groupVersion": "apps/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "apps/v1", "version": "v1"}},
        {"name": "autoscaling", "versions": [{"groupVersion": "autoscaling/v1", "version": "v1"}], "preferredVersion": {"groupVersion": "autoscaling/v1", "version": "v1"}},
    ]},
    "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod", "verbs": ["get", "list", "watch", "patch", "delete"], "shortNames": ["po"]},
        {"name": "pods/log", "singularName": "", "namespaced": True, "kind": "Pod", "verbs": ["get"]},
    ]},
    "/apis/apps/v1": {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "apps/v1", "resources": [
        {"name": "deployments", "singularName": "deployment", "namespaced": True, "kind": "Deployment", "verbs": ["get", "list", "watch", "patch", "update"], "shortNames": ["deploy"]},
        {"name": "deployments/scale", "singularName": "", "namespaced": True, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]},
        {"name": "statefulsets", "singularName": "statefulset", "namespaced": True, "kind": "StatefulSet", "verbs": ["get", "list", "watch", "patch", "update"], "shortNames": ["sts"]},
        {"name": "statefulsets/scale", "singularName": "", "namespaced": True, "group": "autoscaling", "version": "v1", "kind": "Scale", "verbs": ["get", "patch", "update"]},
        {"name": "replicasets", "singularName": "replicaset", "namespaced": True, "kind": "ReplicaSet", "verbs": ["get", "list", "watch"], "shortNames": ["rs"]},
    ]},
    "/apis/autoscaling/v1": {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "autoscaling/v1", "resources": []},
    "/version": {"major": "1", "minor": "32", "gitVersion": "v1.32.4", "platform": "linux/amd64"},
}  # fmt: skip


def _matches(labels: dict[str, str], selector: str) -> bool:
    for part in filter(None, selector.split(",")):
        key, _, value = part.partition("=")
        if labels.get(key) != value:
            return False
    return True


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}


class _Handler(BaseHTTPRequestHandler):
    server: StubServer  # type: ignore[assignment]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def _send(self, code: int, body: Any, content_type: str = "application/json") -> None:
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        request = Request(self.command, parts.path, query, (self.headers.get("Content-Type") or "").split(";")[0], body,
                          {k.lower(): v for k, v in self.headers.items()}, time.monotonic())  # fmt: skip
        self.server.record(request)
        if self.server.delay:
            time.sleep(self.server.delay)
        code, out, ctype = self.server.answer(request)
        self._send(code, out, ctype)

    do_GET = do_PATCH = do_PUT = do_POST = do_DELETE = _handle  # noqa: N815 - BaseHTTPRequestHandler's names


class StubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.cluster = Cluster()
        self.requests: list[Request] = []
        self.delay = 0.0
        self._lock = threading.Lock()
        self.arrivals: list[Request] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client killed mid-request (the kill test) is expected here

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def calls(self, *, discovery: bool = False) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if discovery or r.path not in DISCOVERY and not r.path.startswith("/openapi")]

    def mutations(self) -> list[Request]:
        return [r for r in self.calls() if r.method not in ("GET", "HEAD")]

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()

    # --- answers -------------------------------------------------------------------------
    def answer(self, r: Request) -> tuple[int, Any, str]:
        if r.path in DISCOVERY and r.method == "GET":
            return 200, DISCOVERY[r.path], "application/json"
        with self.cluster.lock:
            match = _APPS.match(r.path)
            if match:
                return self._apps(r, *match.groups())
            match = _PODS.match(r.path)
            if match:
                return self._pods(r, *match.groups())
        return 404, _status(404, "NotFound", "the server could not find the requested resource"), "application/json"

    def _apps(self, r: Request, ns: str, resource: str, name: str | None, sub: str | None) -> tuple[int, Any, str]:
        store = {"deployments": self.cluster.deployments, "statefulsets": self.cluster.statefulsets,
                 "replicasets": self.cluster.replicasets}[resource]  # fmt: skip
        kind = {"deployments": "Deployment", "statefulsets": "StatefulSet", "replicasets": "ReplicaSet"}[resource]
        if name is None:
            if r.method != "GET":
                return 405, _status(405, "MethodNotAllowed", "not allowed"), "application/json"
            items = [copy.deepcopy(o) for (n, _), o in store.items() if n == ns and _matches(o["metadata"].get("labels", {}), r.query.get("labelSelector", ""))]
            field_selector = r.query.get("fieldSelector", "")
            if field_selector.startswith("metadata.name="):
                items = [o for o in items if o["metadata"]["name"] == field_selector.split("=", 1)[1]]
            return 200, {"kind": f"{kind}List", "apiVersion": "apps/v1", "metadata": {"resourceVersion": "1"}, "items": items}, "application/json"
        obj = store.get((ns, name))
        if obj is None:
            return 404, _status(404, "NotFound", f'{resource}.apps "{name}" not found'), "application/json"
        dry = r.query.get("dryRun") == "All"
        if sub == "scale":
            if r.method == "PATCH":
                if not isinstance(r.body, dict) or r.content_type not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                    return 415, _status(415, "UnsupportedMediaType", "bad patch"), "application/json"
                replicas = (r.body.get("spec") or {}).get("replicas")
                if not isinstance(replicas, int) or replicas < 0:
                    return 422, _status(422, "Invalid", "spec.replicas: Invalid value"), "application/json"
                if not dry:
                    changed = copy.deepcopy(obj)
                    changed["spec"]["replicas"] = replicas
                    if resource == "deployments":
                        self.cluster.apply_deployment_change(obj, changed)
                    else:
                        obj.update(changed)
                result_replicas = replicas
            elif r.method == "GET":
                result_replicas = obj["spec"]["replicas"]
            else:
                return 405, _status(405, "MethodNotAllowed", "not allowed"), "application/json"
            scale = {"kind": "Scale", "apiVersion": "autoscaling/v1",
                     "metadata": {"name": name, "namespace": ns, "uid": obj["metadata"]["uid"], "resourceVersion": obj["metadata"].get("resourceVersion", "1")},
                     "spec": {"replicas": result_replicas}, "status": {"replicas": obj["status"].get("replicas", 0), "selector": f"app={name}"}}  # fmt: skip
            return 200, scale, "application/json"
        if r.method == "GET":
            return 200, copy.deepcopy(obj), "application/json"
        if r.method == "PATCH" and resource != "replicasets":
            try:
                if r.content_type == "application/json-patch+json":
                    changed = json_patch(obj, r.body)
                elif r.content_type in ("application/strategic-merge-patch+json", "application/merge-patch+json"):
                    changed = strategic_merge(obj, r.body)
                else:
                    return 415, _status(415, "UnsupportedMediaType", f"unsupported {r.content_type}"), "application/json"
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                return 422, _status(422, "Invalid", str(exc)), "application/json"
            if dry:
                return 200, changed, "application/json"
            if resource == "deployments":
                self.cluster.apply_deployment_change(obj, changed)
            else:
                obj.clear()
                obj.update(changed)
            return 200, copy.deepcopy(obj), "application/json"
        return 405, _status(405, "MethodNotAllowed", "not allowed"), "application/json"

    def _pods(self, r: Request, ns: str, name: str | None, sub: str | None) -> tuple[int, Any, str]:
        if r.method != "GET":
            return 405, _status(405, "MethodNotAllowed", "not allowed"), "application/json"
        if name is None:
            items = [copy.deepcopy(p) for (n, _), p in self.cluster.pods.items() if n == ns and _matches(p["metadata"]["labels"], r.query.get("labelSelector", ""))]
            return 200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}, "application/json"
        pod = self.cluster.pods.get((ns, name))
        if pod is None:
            return 404, _status(404, "NotFound", f'pods "{name}" not found'), "application/json"
        if sub == "log":
            lines = self.cluster.logs.get((ns, name), "").splitlines(keepends=True)
            tail = int(r.query.get("tailLines", "0") or 0)
            return 200, "".join(lines[-tail:] if tail else lines), "text/plain"
        return 200, copy.deepcopy(pod), "application/json"


@contextmanager
def running_stub() -> Iterator[StubServer]:
    server = StubServer()
    thread = threading.Thread(target=server.serve_forever, name="k8s-stub", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def write_kubeconfig(path: Path, server_url: str, *, context: str = "stub") -> Path:
    path.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": context,
        "clusters": [{"name": context, "cluster": {"server": server_url}}],
        "users": [{"name": context, "user": {"token": "stub-token"}}],
        "contexts": [{"name": context, "context": {"cluster": context, "user": context, "namespace": "default"}}],
    }))  # fmt: skip
    return path


@dataclass
class Seed:
    """The objects every Kubernetes test starts from."""

    namespaces: list[str] = field(default_factory=lambda: ["production", "ml"])

    def apply(self, cluster: Cluster) -> None:
        cluster.add_deployment("production", "api-gateway", replicas=3,
                               images=["registry.example.com/api-gateway:1.4.0", "registry.example.com/api-gateway:1.5.0",
                                       "registry.example.com/api-gateway:1.6.0"],
                               env=[{"name": "LOG_LEVEL", "value": "info"}])  # fmt: skip
        cluster.add_deployment("ml", "prediction-service", replicas=2)
        cluster.add_statefulset("ml", "model-server", replicas=1)
