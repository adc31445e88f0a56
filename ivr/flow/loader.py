"""Load and check dialplan YAML files as a whole, reporting every error as `file:line: message`.

Three passes, all errors collected before raising `FlowError`: the YAML text (scalars kept as
strings), the pydantic model (`extra="forbid"`), then the graph: unknown targets, unreachable
nodes, dead ends, loops that never wait for the caller, references to prompts, queues,
departments, calendars, flows and variables that do not exist, and `intake` fields the intake
service would reject whatever the caller keys.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from ivr.errors import FlowError
from ivr.flow import model as m
from ivr.flow.catalog import Catalog
from ivr.yamltext import (
    Data,
    Source,
    parse_yaml,
    parse_yaml_bytes,
    read_bounded,
    read_yaml,
    shown,
)

#: Prompts the interpreter plays on its own (read-back, apology); every catalog must have them.
BUILTIN_PROMPTS = ("you-entered", "confirm-entry", "system-error")

IntakeCheck = Callable[[str, Collection[str]], Mapping[str, str]]
"""What the intake service says about an `intake` node's field names: (request kind, the names)
to {field: problem}; a field that is not among the names is one the request is missing."""


@dataclass(frozen=True)
class References:
    """What a flow may refer to; None means "do not check this kind of reference".

    The hotline's come from its configuration (`ivr.calls.flows.references_from`): the flows
    know no queue, department or calendar of their own.
    """

    catalog: Catalog | None = None
    queues: Collection[str] | None = None
    departments: Collection[str] | None = None
    calendars: Collection[str] | None = None
    flows: Collection[str] | None = None
    intake: IntakeCheck | None = None


def parse_flow(text: str, name: str, refs: References | None = None) -> m.Flow:
    """Parse and check one flow; raise `FlowError` with every problem found."""
    return _flow_of(parse_yaml(text, name), refs)


def _flow_of(src: Source, refs: References | None) -> m.Flow:
    """The checked flow of `src`, or `FlowError` with every problem found."""
    if src.errors:
        raise FlowError(src.errors)
    flow = _build(src)
    if flow is not None:
        _check_graph(flow, src, refs or References())
    if src.errors or flow is None:
        raise FlowError(sorted(src.errors, key=_line_of))
    return flow


def load_flow(path: str | Path, refs: References | None = None) -> m.Flow:
    return _flow_of(read_yaml(path), refs)


def load_flows(paths: Iterable[str | Path], refs: References | None = None) -> dict[str, m.Flow]:
    """Load several flows that may call each other as subflows; all errors of all files at once."""
    files: dict[str, bytes] = {}
    unreadable: list[str] = []
    for path in paths:
        raw = read_bounded(path)
        if isinstance(raw, str):
            unreadable.append(raw)
        else:
            files[str(path)] = raw
    try:
        flows = flows_from_bytes(files, refs)
    except FlowError as exc:
        raise FlowError([*unreadable, *exc.errors]) from None
    if unreadable:
        raise FlowError(unreadable)
    return flows


def flows_from_bytes(
    files: Mapping[str, bytes], refs: References | None = None
) -> dict[str, m.Flow]:
    """`load_flows` on file contents already read, by file name (the engine keeps the bytes it
    accepted, and serves them again when a later start finds a broken file)."""
    refs = refs or References()
    errors: list[str] = []
    flows: dict[str, m.Flow] = {}
    sources = {name: parse_yaml_bytes(raw, name) for name, raw in files.items()}
    ids = _flow_ids(sources.values()) if refs.flows is None else set(refs.flows)
    with_ids = replace(refs, flows=ids)
    by_id: dict[str, Source] = {}
    for name, src in sources.items():
        try:
            flow = _flow_of(src, with_ids)
        except FlowError as exc:
            errors.extend(exc.errors)
            continue
        if flow.id in flows:
            errors.append(f"{name}:1: flow id {shown(flow.id)} is used by another file")
        flows[flow.id] = flow
        by_id[flow.id] = src
    errors.extend(_subflow_loops(flows, by_id))
    if errors:
        raise FlowError(errors)
    return flows


def check_files(paths: Iterable[str | Path], refs: References | None = None) -> list[str]:
    """Every error in `paths` (empty when all are valid)."""
    try:
        load_flows(paths, refs)
    except FlowError as exc:
        return exc.errors
    return []


def _flow_ids(sources: Iterable[Source]) -> set[str]:
    ids: set[str] = set()
    for src in sources:
        data = src.data
        if isinstance(data, dict) and isinstance(data.get("flow"), dict):
            flow_id = data["flow"].get("id")  # type: ignore[union-attr]
            if isinstance(flow_id, str):
                ids.add(flow_id)
    return ids


def _subflow_loops(flows: Mapping[str, m.Flow], sources: Mapping[str, Source]) -> list[str]:
    """Flows that call each other as subflows in a circle: a call there would never return."""
    calls: dict[str, list[str]] = {
        flow_id: [n.flow for n in flow.nodes.values() if isinstance(n, m.SubflowNode)]
        for flow_id, flow in flows.items()
    }
    errors: list[str] = []
    for cycle in _cycles(calls):
        src = sources[cycle[0]]
        node_id = next(
            i
            for i, n in flows[cycle[0]].nodes.items()
            if isinstance(n, m.SubflowNode) and n.flow in cycle
        )
        loop = " -> ".join([*cycle, cycle[0]])
        errors.append(
            f"{src.name}:{src.line(('nodes', node_id, 'flow'))}: subflows call each other in a "
            f"loop ({loop}): a call would never come back"
        )
    return errors


def _line_of(message: str) -> tuple[str, int]:
    name, _, rest = message.partition(":")
    line, _, _ = rest.partition(":")
    return (name, int(line) if line.isdigit() else 0)


def _build(src: Source) -> m.Flow | None:
    if not isinstance(src.data, dict):
        src.error((), "a flow file must be a mapping with `flow:` and `nodes:`")
        return None
    try:
        return m.Flow.model_validate(src.data)
    except ValidationError as exc:
        for err in exc.errors():
            path = _data_path(src.data, err["loc"])
            if err["type"] == "union_tag_invalid":
                path = (*path, "kind")
            src.error(path, _describe(err, path))
        return None


def _data_path(data: Data, loc: tuple[int | str, ...]) -> m.KeyPath:
    """Map a pydantic error location onto the data, skipping union tags and the like."""
    path: list[str] = []
    current = data
    # a node's location names its kind (the union's tag) before its field: `queue` of a queue
    # node's `priority` is the tag, not the node's `queue:` key
    tag_of: object = None
    for part in loc:
        key = str(part)
        if isinstance(current, dict) and tag_of is not current and current.get("kind") == key:
            tag_of = current
        elif isinstance(current, dict) and key in current:
            path.append(key)
            current = current[key]
        elif isinstance(current, list) and isinstance(part, int) and part < len(current):
            path.append(key)
            current = current[part]
        elif isinstance(current, dict) and part == loc[-1] and key not in {"[key]"}:
            path.append(key)
            break
    return tuple(path)


def _where(path: m.KeyPath) -> str:
    if len(path) >= 2 and path[0] == "nodes":
        rest = ".".join(path[2:])
        return f"node {shown(path[1])}" + (f", {rest}" if rest else "")
    return ".".join(path) or "file"


#: What each name pattern of the model allows, as an admin reads it.
_PATTERNS = {
    m.NAME_PATTERN: "a name is lowercase letters, digits and _, starting with a letter",
    m.PROMPT_PATTERN: "a prompt id is lowercase letters, digits and -",
    m.FLOW_ID_PATTERN: "a flow id is lowercase letters, digits, _ and -, starting with a letter",
}


def _describe(err: ErrorDetails, path: m.KeyPath) -> str:
    kind, msg, loc = err["type"], err["msg"], err["loc"]
    last = str(loc[-1]) if loc else ""
    if kind == "extra_forbidden":
        return f"{_where(path[:-1])}: unknown key {shown(last)}"
    if kind == "missing":
        return (
            f"{_where(path[:-1] if path and path[-1] == last else path)}: missing key {shown(last)}"
        )
    if kind == "union_tag_invalid":
        return f"{_where(path[:-1])}: unknown node kind (expected one of {_kinds()})"
    if kind == "union_tag_not_found":
        return f"{_where(path)}: node has no `kind` (one of {_kinds()})"
    if kind == "value_error":
        return f"{_where(path)}: {msg.removeprefix('Value error, ')}"
    if kind == "string_pattern_mismatch":
        rule = _PATTERNS.get(str((err.get("ctx") or {}).get("pattern")), "not a valid name")
        if last == "[key]":
            # an invalid key of `nodes:` (a node id) or of `values:`; the path ends at it
            what = "node id" if path[:1] == ("nodes",) and len(path) == 2 else "key"
            where = "" if what == "node id" else f"{_where(path[:-1])}: "
            return f"{where}{what} {shown(err['input'])} is not valid ({rule})"
        return f"{_where(path)}: {shown(err['input'])} is not valid ({rule})"
    return f"{_where(path)}: {msg}"


def _kinds() -> str:
    return ", ".join(m.NODE_KINDS)


# --- graph checks ---------------------------------------------------------------------------


def _implicit_fallback(node: m.Node) -> bool:
    """Whether the node may go to the flow fallback without naming it (exhausted, failed)."""
    return isinstance(
        node,
        m.MenuNode
        | m.CollectNode
        | m.LookupAccountNode
        | m.IntakeNode
        | m.QueueNode
        | m.TransferNode
        | m.EmergencyNode,
    )


def _check_graph(flow: m.Flow, src: Source, refs: References) -> None:
    nodes = flow.nodes
    for head, target in (("start", flow.flow.start), ("fallback", flow.flow.fallback)):
        if target not in nodes:
            src.error(("flow", head), f"flow {head} {shown(target)} is not a node")
    edges = {
        node_id: _check_node(node_id, node, flow, src, refs) for node_id, node in nodes.items()
    }
    _check_variables(flow, src)
    if any(e.startswith(f"{src.name}:") and "unknown node" in e for e in src.errors):
        return
    fallback_ok = flow.flow.fallback in nodes
    full = {
        n: edges[n] + ([flow.flow.fallback] if fallback_ok and _implicit_fallback(nodes[n]) else [])
        for n in nodes
    }
    reached = _check_reachable(flow, full, src)
    _check_dead_ends(flow, full, reached, src)
    _check_quiet_loops(flow, edges, src)


def _check_node(
    node_id: str, node: m.Node, flow: m.Flow, src: Source, refs: References
) -> list[str]:
    """The node's edges to known nodes; the unknown targets and references are errors."""
    edges: list[str] = []
    for keypath, target in node.targets():
        if target in flow.nodes:
            edges.append(target)
        else:
            src.error(
                ("nodes", node_id, *keypath),
                f"node {shown(node_id)} goes to unknown node {shown(target)}",
            )
    _check_refs(node_id, node, src, refs)
    return edges


def _check_reachable(flow: m.Flow, full: dict[str, list[str]], src: Source) -> set[str]:
    roots = [r for r in (flow.flow.start, flow.flow.fallback) if r in flow.nodes]
    reached = _reach(roots, full)
    for node_id in flow.nodes:
        if node_id not in reached:
            src.error(("nodes", node_id), f"node {shown(node_id)} is unreachable from start")
    return reached


def _check_dead_ends(
    flow: m.Flow, full: dict[str, list[str]], reached: set[str], src: Source
) -> None:
    reverse: dict[str, list[str]] = {n: [] for n in flow.nodes}
    for n, targets in full.items():
        for t in targets:
            reverse[t].append(n)
    ends = [n for n, node in flow.nodes.items() if node.kind in m.TERMINAL_KINDS]
    ending = _reach(ends, reverse)
    for node_id in flow.nodes:
        if node_id in reached and node_id not in ending:
            src.error(
                ("nodes", node_id),
                f"node {shown(node_id)} is a dead end: no path from it ends the call "
                "(hangup, queue, transfer or emergency)",
            )


def _check_quiet_loops(flow: m.Flow, edges: dict[str, list[str]], src: Source) -> None:
    quiet = {n: list(edges[n]) for n, node in flow.nodes.items() if node.kind not in m.INPUT_KINDS}
    for cycle in _cycles(quiet):
        first = min(cycle, key=lambda n: src.line(("nodes", n)))
        loop = " -> ".join([*cycle, cycle[0]])
        src.error(("nodes", first), f"loop that never waits for the caller: {loop}")


def _check_refs(node_id: str, node: m.Node, src: Source, refs: References) -> None:
    base = ("nodes", node_id)
    if refs.catalog is not None:
        for keypath, prompt_id in node.prompt_refs():
            if prompt_id not in refs.catalog:
                src.error((*base, *keypath), f"unknown prompt {shown(prompt_id)}")
    for key, what, name, known in _named_refs(node, refs):
        if known is not None and name not in known:
            choices = ", ".join(sorted(known)) or "none configured"
            src.error((*base, key), f"unknown {what} {shown(name)} (known: {choices})")
    if isinstance(node, m.IntakeNode) and refs.intake is not None:
        for name, problem in refs.intake(node.request, list(node.fields)).items():
            where = (*base, "fields", name) if name in node.fields else (*base, "fields")
            src.error(where, f"{node.request} request: {problem}")


def _named_refs(
    node: m.Node, refs: References
) -> list[tuple[str, str, str, Collection[str] | None]]:
    """(YAML key, what it names, the name, the names configured) for the node's references."""
    if isinstance(node, m.QueueNode):
        return [("queue", "queue", node.queue, refs.queues)]
    if isinstance(node, m.TransferNode):
        return [("department", "department", node.department, refs.departments)]
    if isinstance(node, m.HoursNode):
        return [("calendar", "calendar", node.calendar, refs.calendars)]
    if isinstance(node, m.SubflowNode):
        return [("flow", "flow", node.flow, refs.flows)]
    return []


def _check_variables(flow: m.Flow, src: Source) -> None:
    defined = _defined_variables(flow)
    for node_id, node in flow.nodes.items():
        for keypath, var in _used_variables(node):
            if var not in defined:
                src.error(
                    ("nodes", node_id, *keypath), f"variable {shown(var)} is never set in this flow"
                )


def _defined_variables(flow: m.Flow) -> set[str]:
    defined = set(m.BUILTIN_VARS)
    for node in flow.nodes.values():
        if isinstance(node, m.CollectNode | m.IntakeNode):
            defined.add(node.into)
        elif isinstance(node, m.SetNode):
            defined.update(node.values)
        elif isinstance(node, m.RecordNode):
            defined.add(node.variable)
    return defined


def _used_variables(node: m.Node) -> list[tuple[m.KeyPath, str]]:
    used: list[tuple[m.KeyPath, str]] = []
    for name in ("prompts", "on_invalid", "on_timeout"):
        for i, item in enumerate(getattr(node, name, None) or []):
            if isinstance(item, m.Say):
                used.append(((name, str(i), "var"), item.var))
    if isinstance(node, m.SwitchNode):
        used.append((("variable",), node.variable))
    if isinstance(node, m.IntakeNode):
        used.extend((("fields", k), v) for k, v in node.fields.items())
    if isinstance(node, m.LookupAccountNode) and node.by != "caller_id":
        used.append((("by",), node.by))
    return used


def _reach(roots: Iterable[str], edges: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        n = todo.pop()
        if n in seen:
            continue
        seen.add(n)
        todo.extend(edges.get(n, []))
    return seen


def _cycles(edges: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components that contain a cycle (Tarjan), in a stable order.

    Iterative: an admin's flow may chain a thousand nodes, deeper than Python's recursion limit.
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in edges:
        if root in index:
            continue
        # (node, its next successor to look at): the recursion's frames, made explicit
        work: list[tuple[str, int]] = [(root, 0)]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            v, i = work.pop()
            successors = [w for w in edges.get(v, []) if w in edges]
            if i < len(successors):
                work.append((v, i + 1))
                w = successors[i]
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, 0))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
            if low[v] == index[v]:
                component = _pop_component(stack, on_stack, v)
                if len(component) > 1 or v in edges.get(v, []):
                    found.append(list(reversed(component)))
    return found


def _pop_component(stack: list[str], on_stack: set[str], root: str) -> list[str]:
    """Pop Tarjan's stack down to `root`: one strongly connected component, last visited first."""
    component: list[str] = []
    while True:
        w = stack.pop()
        on_stack.discard(w)
        component.append(w)
        if w == root:
            return component
