"""Markdown operations runbooks → runbooks and steps.

Headings become runbooks (the shallowest level with two or more sections holding
steps, for example one per "## Issue: High API Latency"; else the whole document is
one runbook), numbered list items and fenced code blocks become steps. A command
becomes an automated step only when it is one of the kubectl forms `parse_command`
understands, tokenised with shlex, with no shell metacharacter anywhere and no flag
it does not know; everything else (psql, redis-cli, curl, scripts, `kubectl exec`,
`kubectl delete`, pipes, variables) is a manual step that shows the command and is
never executed.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass, field
from typing import Any

from portal.text import clean_text

MAX_DOCUMENT = 500_000
MAX_STEPS = 200

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+.-]*)")
_ITEM = re.compile(r"^(\s*)(\d+)[.)]\s+(.*)$")
_INLINE_CODE = re.compile(r"`([^`]+)`")
_META = re.compile(r"^\s*[-*]?\s*\**(alerts?|alert names?|tags?|services?)\**\s*:\**\s*(.+)$", re.I)
# Anything a shell would interpret: pipes, lists, redirections, substitutions,
# variables, globs, comments, escapes, history, home.
_SHELL_META = re.compile(r"[|;&<>`$(){}\[\]*?!#~\\\n]")
_CLIS = {
    "kubectl", "psql", "redis-cli", "curl", "helm", "aws", "gcloud", "az", "docker", "ssh", "systemctl",
    "journalctl", "mysql", "python", "python3", "bash", "sh", "wget", "dig", "nslookup", "terraform", "git",
    "pg_dump", "mongosh", "nc", "openssl", "jq", "top", "ps", "df", "du", "tail", "grep", "cat", "ls", "sudo",
}  # fmt: skip
_SHELL_LANGS = {"", "sh", "bash", "shell", "console", "zsh", "shell-session", "text"}
_DURATION = re.compile(r"^(\d+)(s|m|h)?$")


@dataclass
class ParsedStep:
    kind: str  # "manual" | "automated"
    title: str
    command: str = ""
    instructions: str = ""
    action: str = ""
    parameters: dict[str, Any] = field(default_factory=dict)
    requires_approval: bool = False
    dangerous: bool = False
    line: int = 0  # 1-based line in the document, for the preview


@dataclass
class ParsedRunbook:
    title: str
    description: str = ""
    alert_names: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)  # slugs as written; resolved when saved
    steps: list[ParsedStep] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- commands ------------------------------------------------------------------------
_DEPLOYMENT = {"deployment", "deployments", "deploy", "deployment.apps"}
_STATEFULSET = {"statefulset", "statefulsets", "sts", "statefulset.apps"}


def _workload(tokens: list[str], *, kinds: set[str]) -> tuple[str, str, list[str]] | None:
    """`deployment/NAME` or `deployment NAME` at the head of tokens → (kind, name, rest)."""
    if not tokens:
        return None
    head, rest = tokens[0], tokens[1:]
    if "/" in head:
        kind_word, _, name = head.partition("/")
    elif rest:
        kind_word, name, rest = head, rest[0], rest[1:]
    else:
        return None
    kind = "deployment" if kind_word in _DEPLOYMENT else "statefulset" if kind_word in _STATEFULSET else ""
    if kind not in kinds or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", name or ""):
        return None
    return kind, name, rest


def _flags(tokens: list[str], allowed: dict[str, bool]) -> tuple[dict[str, str], list[str]] | None:
    """Split flags from positional tokens. `allowed` maps each known flag to whether
    it takes a value; any other flag makes the command not understood."""
    flags: dict[str, str] = {}
    positional: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("-") and token != "-":
            name, eq, value = token.partition("=")
            if name not in allowed or name in flags:
                return None
            if allowed[name]:
                if not eq:
                    if i + 1 >= len(tokens):
                        return None
                    i += 1
                    value = tokens[i]
                flags[name] = value
            elif eq:
                return None
            else:
                flags[name] = ""
        else:
            positional.append(token)
        i += 1
    return flags, positional


_NS = {"-n": True, "--namespace": True}


def _namespace(flags: dict[str, str]) -> dict[str, str]:
    value = flags.get("-n") or flags.get("--namespace")
    return {"namespace": value} if value else {}


def _valid_ns(params: dict[str, Any]) -> bool:
    ns = params.get("namespace")
    return ns is None or bool(re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", ns))


def parse_command(command: str) -> tuple[str, dict[str, Any]] | None:
    """(action, parameters) for a kubectl line the portal can run, else None."""
    if _SHELL_META.search(command):
        return None
    try:
        tokens = shlex.split(command, comments=False, posix=True)
    except ValueError:
        return None
    if len(tokens) < 3 or tokens[0] != "kubectl":
        return None
    parsed = _flags(tokens[1:], {**_NS, "--replicas": True, "--to-revision": True, "--timeout": True,
                                 "-c": True, "--containers": True, "-l": True, "--selector": True,
                                 "--tail": True})  # fmt: skip
    if parsed is None:
        return None
    flags, words = parsed
    verb, rest = words[0], words[1:]
    result: tuple[str, dict[str, Any]] | None = None
    used: set[str] = {"-n", "--namespace"}

    if verb == "scale" and "--replicas" in flags:
        target = _workload(rest, kinds={"deployment", "statefulset"})
        if target and not target[2] and flags["--replicas"].isdigit():
            kind, name, _ = target
            result = ("k8s.scale", {"kind": kind, "name": name, "replicas": int(flags["--replicas"]), **_namespace(flags)})
            used.add("--replicas")
    elif verb == "rollout" and rest:
        sub, rest = rest[0], rest[1:]
        if sub == "restart":
            target = _workload(rest, kinds={"deployment", "statefulset"})
            if target and not target[2]:
                result = ("k8s.rollout_restart", {"kind": target[0], "name": target[1], **_namespace(flags)})
        elif sub == "undo":
            target = _workload(rest, kinds={"deployment"})
            revision = flags.get("--to-revision", "0")
            if target and not target[2] and revision.isdigit():
                params: dict[str, Any] = {"name": target[1], **_namespace(flags)}
                if int(revision):
                    params["to_revision"] = int(revision)
                result = ("k8s.rollout_undo", params)
                used.add("--to-revision")
        elif sub == "status":
            target = _workload(rest, kinds={"deployment"})
            timeout = _DURATION.match(flags.get("--timeout", "0"))
            if target and not target[2] and timeout:
                seconds = int(timeout.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 1}[timeout.group(2)]
                params = {"name": target[1], **_namespace(flags)}
                if seconds:
                    params["timeout_seconds"] = min(seconds, 3600)
                result = ("k8s.rollout_status", params)
                used.add("--timeout")
    elif verb == "set" and rest[:1] == ["env"]:
        target = _workload(rest[1:], kinds={"deployment"})
        if target and target[2]:
            env: dict[str, str] = {}
            for pair in target[2]:
                key, eq, value = pair.partition("=")
                if not eq or not re.fullmatch(r"[-._a-zA-Z][-._a-zA-Z0-9]*", key) or key in env:
                    return None
                env[key] = value
            container = flags.get("-c") or flags.get("--containers")
            params = {"name": target[1], "env": env, **_namespace(flags)}
            if container:
                params["container"] = container
            result = ("k8s.set_env", params)
            used |= {"-c", "--containers"}
    elif verb == "get" and rest in (["pods"], ["pod"], ["po"]):
        selector = flags.get("-l") or flags.get("--selector")
        result = ("k8s.list_pods", {**_namespace(flags), **({"label_selector": selector} if selector else {})})
        used |= {"-l", "--selector"}
    elif verb == "logs" and len(rest) == 1 and "/" not in rest[0]:
        tail = flags.get("--tail", "100")
        if tail.isdigit() and int(tail) > 0:
            params = {"pod": rest[0], "tail_lines": min(int(tail), 5000), **_namespace(flags)}
            if flags.get("-c"):
                params["container"] = flags["-c"]
            result = ("k8s.pod_log", params)
            used |= {"--tail", "-c"}
    if result is None or set(flags) - used or not _valid_ns(result[1]):
        return None
    return result


def _step_for_command(command: str, title: str, line: int, instructions: str = "") -> ParsedStep:
    parsed = parse_command(command)
    if parsed is None:
        return ParsedStep(kind="manual", title=title or command, command=command, instructions=instructions, line=line)
    action, params = parsed
    mutating = action in {"k8s.scale", "k8s.rollout_restart", "k8s.rollout_undo", "k8s.set_env"}
    dangerous = action == "k8s.rollout_undo" or (action == "k8s.scale" and params.get("replicas") == 0)
    return ParsedStep(kind="automated", title=title or command, command=command, instructions=instructions,
                      action=action, parameters=params, requires_approval=mutating, dangerous=dangerous, line=line)  # fmt: skip


def _looks_like_command(code: str) -> bool:
    first = code.strip().split(" ", 1)[0]
    return " " in code.strip() and (first in _CLIS or first.startswith("./"))


def _logical_lines(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join backslash continuations; keep the number of the first line."""
    out: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, text in lines:
        if pending is not None:
            number, text = pending[0], pending[1] + " " + text.strip()
            pending = None
        if text.rstrip().endswith("\\"):
            pending = (number, text.rstrip()[:-1].rstrip())
            continue
        out.append((number, text))
    if pending is not None:
        out.append(pending)
    return out


def _strip_prompt(text: str) -> str:
    return text[2:] if text.startswith("$ ") else text


def _title(text: str) -> str:
    """An item's text without the commands it carries: "Check pod health: `kubectl ...`" → "Check pod health"."""
    bare = _INLINE_CODE.sub(lambda m: "" if _looks_like_command(m.group(1)) else m.group(0), text)
    bare = re.sub(r"\s+", " ", bare).strip().rstrip(":").strip()
    bare = re.sub(r"\s+([.,;])$", r"\1", bare)
    return _plain(bare) or _plain(text)


def _plain(text: str) -> str:
    return clean_text(_INLINE_CODE.sub(r"\1", text).replace("**", ""), max_length=200)


# --- document → tokens ---------------------------------------------------------------
@dataclass
class _Token:
    kind: str  # heading | item | code | text
    line: int
    text: str = ""
    level: int = 0
    lang: str = ""
    code: list[tuple[int, str]] = field(default_factory=list)
    block: str = ""  # a non-shell block (SQL, YAML) under a list item


def _tokens(text: str) -> list[_Token]:
    lines = text.split("\n")
    tokens: list[_Token] = []
    i = 0
    current_item: _Token | None = None
    while i < len(lines):
        raw = lines[i]
        fence = _FENCE.match(raw)
        if fence:
            indent, marker, lang = fence.groups()
            body: list[tuple[int, str]] = []
            start = i + 1
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker[:3]):
                body.append((i + 1, lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].strip()))
                i += 1
            i += 1  # closing fence
            block = _Token("code", start, lang=lang.lower(), code=body)
            # A block right after a numbered item (indented or not) belongs to that item: a
            # shell block holds its commands, another (SQL, YAML) is shown as one to copy.
            if current_item is not None and lang.lower() in _SHELL_LANGS:
                current_item.code.extend(body)
            elif current_item is not None:
                current_item.block = "\n".join(t for _, t in body).strip()
            else:
                current_item = None
                tokens.append(block)
            continue
        heading = _HEADING.match(raw)
        item = _ITEM.match(raw)
        if heading:
            current_item = None
            tokens.append(_Token("heading", i + 1, text=clean_text(heading.group(2), max_length=200), level=len(heading.group(1))))
        elif item:
            current_item = _Token("item", i + 1, text=item.group(3).strip())
            tokens.append(current_item)
        elif current_item is not None and raw.strip() and raw.startswith((" ", "\t")):
            current_item.text += " " + raw.strip()
        elif raw.strip():
            current_item = None
            tokens.append(_Token("text", i + 1, text=raw.rstrip()))
        i += 1
    return tokens


def _steps_of(tokens: list[_Token], subheading: str) -> list[ParsedStep]:
    steps: list[ParsedStep] = []
    previous_text = ""
    context = f"Section: {subheading}" if subheading else ""
    for token in tokens:
        if token.kind == "text":
            previous_text = token.text.strip()
        elif token.kind == "item":
            commands = [c.strip() for c in _INLINE_CODE.findall(token.text) if _looks_like_command(c)]
            commands += [_strip_prompt(t.strip()) for _, t in _logical_lines(token.code) if t.strip() and not t.strip().startswith("#")]
            title = _title(token.text) or f"Step {len(steps) + 1}"
            if token.block:
                steps.append(ParsedStep(kind="manual", title=title, command=token.block, instructions=context, line=token.line))
            elif not commands:
                steps.append(ParsedStep(kind="manual", title=title, instructions=clean_text(token.text, multiline=True), line=token.line))
            for n, command in enumerate(commands):
                label = title if len(commands) == 1 else f"{title} ({n + 1}/{len(commands)})"
                steps.append(_step_for_command(command, label, token.line, context))
            previous_text = ""
        elif token.kind == "code":
            hint = _title(previous_text) if previous_text.endswith(":") else ""
            if token.lang not in _SHELL_LANGS:
                hint = hint or _title(previous_text)
                body = "\n".join(t for _, t in token.code).strip()
                if body:
                    steps.append(ParsedStep(kind="manual", title=hint or f"{token.lang} block", command=body,
                                            instructions=context, line=token.line))  # fmt: skip
            else:
                comment = ""
                for number, text in _logical_lines(token.code):
                    stripped = _strip_prompt(text.strip())
                    if not stripped:
                        continue
                    if stripped.startswith("#"):
                        comment = _plain(stripped.lstrip("#").strip())
                        continue
                    steps.append(_step_for_command(stripped, comment or hint or _plain(stripped), number, context))
                    comment = ""
            previous_text = ""
    return steps


def _section_meta(runbook: ParsedRunbook, tokens: list[_Token]) -> None:
    description: list[str] = []
    for token in tokens:
        if token.kind == "heading":
            description.append(f"{'#' * max(3, min(token.level, 4))} {token.text}")
        elif token.kind == "text":
            meta = _META.match(token.text)
            if meta:
                values = [_plain(v).strip() for v in re.split(r"[,;]", meta.group(2)) if _plain(v).strip()]
                word = meta.group(1).lower()
                target = runbook.alert_names if word.startswith("alert") else runbook.tags if word.startswith("tag") else runbook.services
                target.extend(v for v in values if v not in target)
            else:
                description.append(token.text)
    runbook.description = clean_text("\n".join(description).strip(), max_length=20_000, multiline=True)


def parse_markdown(text: str) -> list[ParsedRunbook]:
    text = clean_text(text, max_length=MAX_DOCUMENT, multiline=True)
    tokens = _tokens(text)
    step_kinds = {"item", "code"}

    def sections(level: int) -> list[tuple[int, int]]:
        """(start, end) token ranges of the headings at `level`."""
        starts = [i for i, t in enumerate(tokens) if t.kind == "heading" and t.level == level]
        out = []
        for start in starts:
            end = next((j for j in range(start + 1, len(tokens)) if tokens[j].kind == "heading" and tokens[j].level <= level), len(tokens))
            out.append((start, end))
        return out

    levels = sorted({t.level for t in tokens if t.kind == "heading"})
    chosen: list[tuple[int, int]] = []
    for level in levels:
        with_steps = [s for s in sections(level) if any(t.kind in step_kinds for t in tokens[s[0] + 1 : s[1]])]
        if len(with_steps) >= 2:
            chosen = with_steps
            break
    if not chosen:
        first = next((i for i, t in enumerate(tokens) if t.kind == "heading"), None)
        title = tokens[first].text if first is not None else "Imported runbook"
        chosen = [(first if first is not None else -1, len(tokens))]
        titles = [title]
    else:
        titles = [tokens[s].text for s, _ in chosen]

    # Alerts, tags and services written above the first section apply to every section.
    shared = ParsedRunbook(title="")
    _section_meta(shared, [t for t in tokens[: chosen[0][0]] if t.kind == "text"] if chosen[0][0] > 0 else [])
    runbooks: list[ParsedRunbook] = []
    for (start, end), title in zip(chosen, titles, strict=True):
        body = tokens[start + 1 : end]
        runbook = ParsedRunbook(title=title or "Imported runbook", alert_names=list(shared.alert_names),
                                tags=list(shared.tags), services=list(shared.services))  # fmt: skip
        _section_meta(runbook, body)
        subheading = ""
        group: list[_Token] = []
        for token in [*body, _Token("heading", 0)]:
            if token.kind == "heading":
                runbook.steps.extend(_steps_of(group, subheading))
                subheading, group = token.text, []
            else:
                group.append(token)
        runbook.steps = runbook.steps[:MAX_STEPS]
        if runbook.steps:
            runbooks.append(runbook)
    return runbooks
