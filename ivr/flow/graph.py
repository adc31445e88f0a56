"""A flow as Graphviz DOT text: one box per node, one labelled arrow per branch."""

from __future__ import annotations

from ivr.flow import model as m

_SHAPES = {
    "menu": "box3d",
    "collect": "box3d",
    "record": "box3d",
    "switch": "diamond",
    "hours": "diamond",
    "lookup_account": "diamond",
    "queue": "doubleoctagon",
    "transfer": "doubleoctagon",
    "emergency": "doubleoctagon",
    "hangup": "octagon",
    "return": "octagon",
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _detail(node: m.Node) -> str:
    if isinstance(node, m.QueueNode):
        return f"\nqueue {node.queue}"
    if isinstance(node, m.TransferNode):
        return f"\nto {node.department}"
    if isinstance(node, m.HoursNode):
        return f"\ncalendar {node.calendar}"
    if isinstance(node, m.IntakeNode):
        return f"\n{node.request}"
    if isinstance(node, m.CollectNode):
        return f"\ninto {node.into}"
    return ""


def to_dot(flow: m.Flow) -> str:
    lines = [
        f"digraph {_quote(flow.id)} {{",
        "  rankdir=LR;",
        '  node [fontname="sans-serif" fontsize=10];',
        '  edge [fontname="sans-serif" fontsize=9];',
        '  "__start" [shape=point];',
        f'  "__start" -> {_quote(flow.flow.start)};',
    ]
    for node_id, node in flow.nodes.items():
        shape = _SHAPES.get(node.kind, "box")
        extra = ", style=bold" if node_id == flow.flow.fallback else ""
        label = f"{node_id}\n({node.kind}){_detail(node)}"
        lines.append(f"  {_quote(node_id)} [shape={shape}, label={_quote(label)}{extra}];")
        for keypath, target in node.targets():
            label = ".".join(keypath)
            lines.append(f"  {_quote(node_id)} -> {_quote(target)} [label={_quote(label)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"
