"""A state machine as a laid-out graph: nodes, edges and nested groups with coordinates.

The console (server/web/console/) draws this layout as SVG in the browser and
`syncline asl graph FILE -o out.svg` draws it with `to_svg`; both use the same numbers, so the
picture is the same. Sans-IO and dependency-free: a small Sugiyama-style layering of our own —

1. break cycles (edges that go back to a state on the current DFS path are drawn but ignored),
2. layer by longest path from the start node,
3. split edges that span several layers with dummy nodes,
4. order each layer by the barycenter of its neighbours (a few down and up sweeps),
5. assign coordinates: layers top to bottom; in a layer, nodes move towards their neighbours'
   mean x (a few sweeps) without changing order or closing the gaps, so chains run straight.

A Parallel state is a group holding one sub-layout per branch side by side, a Map state a group
holding its iterator's sub-layout; a group is laid out first and then placed as one big node.
Every node id is the state name, which ASL requires to be unique in the whole machine (the
history events name states the same way); the synthetic start and end nodes get ids that no
state can clash with (`#start:<scope>`).
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from typing import Any, Literal, Mapping, TypedDict

from server.workflows.asl.errors import AslSyntaxError

NODE_W = 168.0
NODE_H = 40.0
TERM_W = 64.0
TERM_H = 26.0
GAP_X = 36.0
GAP_Y = 56.0
PAD = 16.0
HEADER = 26.0

EdgeKind = Literal["next", "choice", "default", "catch", "start", "end"]


class NodeDict(TypedDict):
    id: str
    label: str
    type: str
    kind: str
    parent: str | None
    x: float
    y: float
    w: float
    h: float
    resource: str | None


class EdgeDict(TypedDict):
    source: str
    target: str
    kind: str
    label: str
    points: list[list[float]]


class LayoutDict(TypedDict):
    width: float
    height: float
    nodes: list[NodeDict]
    edges: list[EdgeDict]


@dataclass
class _Node:
    id: str
    label: str
    type: str
    kind: str  # "state" | "group" | "branch" | "start" | "end"
    w: float
    h: float
    resource: str | None = None
    x: float = 0.0
    y: float = 0.0
    inner: list["_Block"] = field(default_factory=list)


@dataclass
class _Edge:
    source: str
    target: str
    kind: EdgeKind
    label: str = ""
    points: list[tuple[float, float]] = field(default_factory=list)


@dataclass
class _Block:
    """One laid-out scope (the top level, a Parallel branch or a Map iterator)."""

    id: str
    nodes: dict[str, _Node]
    edges: list[_Edge]
    w: float = 0.0
    h: float = 0.0
    ox: float = 0.0
    oy: float = 0.0


def layout(definition: Mapping[str, Any] | str) -> LayoutDict:
    """Lay out a state machine definition.

    Args:
        definition: the ASL document (a mapping or its JSON text).

    Returns:
        The layout: absolute coordinates for every node (groups first, so children draw on
        top), every edge's polyline, and the overall size.

    Raises:
        AslSyntaxError: the text is not JSON, or the document has no StartAt/States.
    """
    doc = _load(definition)
    block = _scope(doc, "root", counter=[0])
    nodes: list[NodeDict] = []
    edges: list[EdgeDict] = []
    _flatten(block, None, nodes, edges)
    return {"width": block.w, "height": block.h, "nodes": nodes, "edges": edges}


def _load(definition: Mapping[str, Any] | str) -> Mapping[str, Any]:
    if isinstance(definition, str):
        try:
            doc = json.loads(definition)
        except json.JSONDecodeError as exc:
            raise AslSyntaxError(f"the definition is not valid JSON: {exc}") from exc
    else:
        doc = definition
    if not isinstance(doc, Mapping) or not isinstance(doc.get("States"), Mapping) or not doc.get("StartAt"):
        raise AslSyntaxError("a state machine needs StartAt and a States object")
    return doc


def _scope(doc: Mapping[str, Any], scope: str, *, counter: list[int]) -> _Block:
    """Build and lay out one scope (StartAt + States)."""
    states: Mapping[str, Any] = doc.get("States") or {}
    start, end = f"#start:{scope}", f"#end:{scope}"
    nodes: dict[str, _Node] = {start: _Node(start, "Start", "Start", "start", TERM_W, TERM_H)}
    edges: list[_Edge] = []
    if isinstance(doc.get("StartAt"), str) and doc["StartAt"] in states:
        edges.append(_Edge(start, doc["StartAt"], "start"))
    needs_end = False
    for name, state in states.items():
        if not isinstance(state, Mapping):
            state = {}
        stype = str(state.get("Type", "?"))
        resource = state.get("Resource") if isinstance(state.get("Resource"), str) else None
        inner: list[_Block] = []
        if stype == "Parallel" and isinstance(state.get("Branches"), list):
            for i, branch in enumerate(state["Branches"]):
                if isinstance(branch, Mapping) and isinstance(branch.get("States"), Mapping):
                    inner.append(_scope(branch, f"{name}[{i}]", counter=counter))
        elif stype == "Map":
            proc = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(proc, Mapping) and isinstance(proc.get("States"), Mapping):
                inner.append(_scope(proc, f"{name}[*]", counter=counter))
        if inner:
            w = sum(b.w for b in inner) + GAP_X * (len(inner) - 1) + 2 * PAD
            h = max(b.h for b in inner) + HEADER + PAD
            nodes[name] = _Node(name, name, stype, "group", max(w, NODE_W), h, resource, inner=inner)
        else:
            nodes[name] = _Node(name, name, stype, "state", NODE_W, NODE_H, resource)
        targets = _transitions(state)
        for kind, label, target in targets:
            if target in states:
                edges.append(_Edge(name, target, kind, label))
        if state.get("End") is True or stype in ("Succeed", "Fail"):
            edges.append(_Edge(name, end, "end"))
            needs_end = True
    if needs_end:
        nodes[end] = _Node(end, "End", "End", "end", TERM_W, TERM_H)
    block = _Block(scope, nodes, edges)
    _sugiyama(block, start)
    return block


def _transitions(state: Mapping[str, Any]) -> list[tuple[EdgeKind, str, str]]:
    out: list[tuple[EdgeKind, str, str]] = []
    if isinstance(state.get("Next"), str):
        out.append(("next", "", state["Next"]))
    choices = state.get("Choices")
    if isinstance(choices, list):
        for i, rule in enumerate(choices):
            if isinstance(rule, Mapping) and isinstance(rule.get("Next"), str):
                out.append(("choice", _rule_label(rule, i), rule["Next"]))
    if isinstance(state.get("Default"), str):
        out.append(("default", "Default", state["Default"]))
    catches = state.get("Catch")
    if isinstance(catches, list):
        for c in catches:
            if isinstance(c, Mapping) and isinstance(c.get("Next"), str):
                errs = c.get("ErrorEquals")
                label = ", ".join(str(e) for e in errs) if isinstance(errs, list) else "catch"
                out.append(("catch", label, c["Next"]))
    return out


_OPS: dict[str, str] = {
    "StringEquals": "==", "NumericEquals": "==", "BooleanEquals": "==", "TimestampEquals": "==",
    "NumericLessThan": "<", "NumericGreaterThan": ">", "NumericLessThanEquals": "<=",
    "NumericGreaterThanEquals": ">=", "StringLessThan": "<", "StringGreaterThan": ">",
    "StringLessThanEquals": "<=", "StringGreaterThanEquals": ">=", "TimestampLessThan": "<",
    "TimestampGreaterThan": ">", "TimestampLessThanEquals": "<=", "TimestampGreaterThanEquals": ">=",
    "StringMatches": "matches", "IsPresent": "present:", "IsNull": "null:", "IsString": "string:",
    "IsNumeric": "numeric:", "IsBoolean": "boolean:", "IsTimestamp": "timestamp:",
}


def _rule_label(rule: Mapping[str, Any], index: int) -> str:
    """A short label for a Choice rule: `$.x == v` for simple rules, `Rule #n` otherwise."""
    if isinstance(rule.get("Condition"), str):  # JSONata
        return _short(rule["Condition"])
    var = rule.get("Variable")
    for op, sym in _OPS.items():
        for key in (op, op + "Path"):
            if key in rule and isinstance(var, str):
                return _short(f"{var} {sym} {json.dumps(rule[key])}")
    for combo in ("And", "Or", "Not"):
        if combo in rule:
            return f"Rule #{index + 1} ({combo})"
    return f"Rule #{index + 1}"


def _short(text: str, n: int = 32) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _sugiyama(block: _Block, start: str) -> None:
    nodes = block.nodes
    succ: dict[str, list[str]] = {n: [] for n in nodes}
    for e in block.edges:
        succ[e.source].append(e.target)
    # 1. back edges: an edge to a node on the current DFS path closes a cycle.
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}
    order = [start] + [n for n in nodes if n != start]
    for root in order:
        if root in state:
            continue
        stack: list[tuple[str, int]] = [(root, 0)]
        state[root] = 1
        while stack:
            n, i = stack[-1]
            if i < len(succ[n]):
                stack[-1] = (n, i + 1)
                m = succ[n][i]
                if state.get(m) == 1:
                    back.add((n, m))
                elif m not in state:
                    state[m] = 1
                    stack.append((m, 0))
            else:
                state[n] = 2
                stack.pop()
    dag = {n: [m for m in succ[n] if (n, m) not in back and m != n] for n in nodes}
    # 2. longest-path layering (Kahn order over the DAG).
    indeg = {n: 0 for n in nodes}
    for n in nodes:
        for m in dag[n]:
            indeg[m] += 1
    rank = {n: 0 for n in nodes}
    queue = [n for n in order if indeg[n] == 0]
    while queue:
        n = queue.pop(0)
        for m in dag[n]:
            rank[m] = max(rank[m], rank[n] + 1)
            indeg[m] -= 1
            if indeg[m] == 0:
                queue.append(m)
    end_ids = [n for n, v in nodes.items() if v.kind == "end"]
    if end_ids:  # the end node sits alone on the last layer
        rank[end_ids[0]] = max(rank[n] for n in nodes if n != end_ids[0]) + 1
    # 3. dummy nodes on long edges (drawn through, in either direction).
    layers: dict[int, list[str]] = {}
    for n in order:
        layers.setdefault(rank[n], []).append(n)
    chains: list[tuple[_Edge, list[str]]] = []
    adj_up: dict[str, list[str]] = {n: [] for n in nodes}
    adj_down: dict[str, list[str]] = {n: [] for n in nodes}
    dummies = 0
    for e in block.edges:
        a, b = e.source, e.target
        lo, hi = (a, b) if rank[a] <= rank[b] else (b, a)
        chain = [lo]
        for r in range(rank[lo] + 1, rank[hi]):
            d = f"#dummy:{block.id}:{dummies}"
            dummies += 1
            layers[r].append(d)
            adj_up[d], adj_down[d] = [], []
            chain.append(d)
        chain.append(hi)
        for u, v in zip(chain, chain[1:]):
            if rank[lo] != rank[hi]:
                adj_down[u].append(v)
                adj_up[v].append(u)
        chains.append((e, chain if lo == a else list(reversed(chain))))
    # 4. barycenter ordering, sweeping down then up.
    depth = max(layers) if layers else 0
    pos = {n: float(i) for r in layers for i, n in enumerate(layers[r])}
    for sweep in range(8):
        rng = range(1, depth + 1) if sweep % 2 == 0 else range(depth - 1, -1, -1)
        for r in rng:
            nbrs = adj_up if sweep % 2 == 0 else adj_down
            def key(n: str) -> float:
                ns = nbrs[n]
                return sum(pos[m] for m in ns) / len(ns) if ns else pos[n]
            layers[r].sort(key=key)
            for i, n in enumerate(layers[r]):
                pos[n] = float(i)
    # 5. coordinates: x starts centred per layer, then each node moves towards the mean of its
    #    neighbours in the layer above (down sweeps) or below (up sweeps), keeping order and gaps.
    def width(n: str) -> float:
        return nodes[n].w if n in nodes else 8.0

    def height(n: str) -> float:
        return nodes[n].h if n in nodes else 0.0

    layer_w = {r: sum(width(n) for n in ns) + GAP_X * (len(ns) - 1) for r, ns in layers.items()}
    widest = max(layer_w.values()) if layer_w else NODE_W
    cx: dict[str, float] = {}
    for r, ns in layers.items():
        x = (widest - layer_w[r]) / 2
        for n in ns:
            cx[n] = x + width(n) / 2
            x += width(n) + GAP_X
    for sweep in range(6):
        down = sweep % 2 == 0
        for r in (range(1, depth + 1) if down else range(depth - 1, -1, -1)):
            ns = layers[r]
            nbrs = adj_up if down else adj_down
            want = [sum(cx[m] for m in nbrs[n]) / len(nbrs[n]) if nbrs[n] else cx[n] for n in ns]
            sep = [(width(a) + width(b)) / 2 + GAP_X for a, b in zip(ns, ns[1:])]
            left, right = list(want), list(want)
            for i in range(1, len(ns)):
                left[i] = max(left[i], left[i - 1] + sep[i - 1])
            for i in range(len(ns) - 2, -1, -1):
                right[i] = min(right[i], right[i + 1] - sep[i])
            placed = [(a + b) / 2 for a, b in zip(left, right)]
            for i in range(1, len(ns)):
                placed[i] = max(placed[i], placed[i - 1] + sep[i - 1])
            for n, x in zip(ns, placed):
                cx[n] = x
    x_min = min((cx[n] - width(n) / 2 for n in cx), default=0.0)
    x_max = max((cx[n] + width(n) / 2 for n in cx), default=NODE_W)
    total_w = x_max - x_min
    xy: dict[str, tuple[float, float]] = {}  # centre points
    y = PAD
    for r in range(depth + 1):
        ns = layers.get(r, [])
        lh = max((height(n) for n in ns), default=0.0)
        for n in ns:
            xy[n] = (PAD + cx[n] - x_min, y + lh / 2)
        y += lh + GAP_Y
    block.w = total_w + 2 * PAD
    block.h = y - GAP_Y + PAD
    for n, node in nodes.items():
        mid_x, mid_y = xy[n]
        node.x, node.y = mid_x - node.w / 2, mid_y - node.h / 2
        if node.inner:
            ix = node.x + PAD + (node.w - 2 * PAD - (sum(b.w for b in node.inner) + GAP_X * (len(node.inner) - 1))) / 2
            for sub in node.inner:
                _shift(sub, ix, node.y + HEADER)
                ix += sub.w + GAP_X
    # edges: from the bottom of the source to the top of the target through the dummies; several
    # edges at one side of a node get ports spread along it, ordered by where they come from.
    ports: dict[tuple[str, bool], list[tuple[float, int]]] = {}
    routed: list[tuple[_Edge, list[tuple[float, float]], bool]] = []
    for e, chain in chains:
        src, dst = nodes[e.source], nodes[e.target]
        if e.source == e.target or rank[e.source] == rank[e.target]:
            if e.source == e.target or dst.x >= src.x:
                side = src.x + src.w
                out = (side, src.y + src.h / 3), (side + GAP_X / 2, src.y + src.h / 2)
                end = (dst.x + dst.w if e.source == e.target else dst.x, dst.y + 2 * dst.h / 3)
            else:
                out = (src.x, src.y + src.h / 3), (src.x - GAP_X / 2, src.y + src.h / 2)
                end = (dst.x + dst.w, dst.y + 2 * dst.h / 3)
            e.points = [*out, end]
            continue
        down = rank[e.source] < rank[e.target]
        pts = [(xy[e.source][0], src.y + src.h if down else src.y)]
        pts += [xy[d] for d in chain[1:-1]]
        pts.append((xy[e.target][0], dst.y if down else dst.y + dst.h))
        k = len(routed)
        routed.append((e, pts, down))
        # the port's order key: the x of the neighbouring point on the edge
        ports.setdefault((e.source, down), []).append((pts[1][0] if len(pts) > 2 else xy[e.target][0], 2 * k))
        ports.setdefault((e.target, not down), []).append((pts[-2][0] if len(pts) > 2 else xy[e.source][0], 2 * k + 1))
    moved: dict[int, float] = {}
    for (n, _), uses in ports.items():
        if len(uses) < 2:
            continue
        node = nodes[n]
        span = min(node.w * 0.8, 24.0 * (len(uses) - 1))
        uses.sort()
        for i, (_, slot) in enumerate(uses):
            moved[slot] = node.x + node.w / 2 - span / 2 + span * i / (len(uses) - 1)
    for k, (e, pts, _) in enumerate(routed):
        if 2 * k in moved:
            pts[0] = (moved[2 * k], pts[0][1])
        if 2 * k + 1 in moved:
            pts[-1] = (moved[2 * k + 1], pts[-1][1])
        e.points = pts


def _shift(block: _Block, dx: float, dy: float) -> None:
    """Move a laid-out scope (and its nested scopes) by (dx, dy)."""
    block.ox += dx
    block.oy += dy
    for n in block.nodes.values():
        n.x += dx
        n.y += dy
        for b in n.inner:
            _shift(b, dx, dy)
    for e in block.edges:
        e.points = [(x + dx, y + dy) for x, y in e.points]


def _flatten(block: _Block, parent: str | None, nodes: list[NodeDict], edges: list[EdgeDict]) -> None:
    for n in block.nodes.values():
        nodes.append(
            {"id": n.id, "label": n.label, "type": n.type, "kind": n.kind, "parent": parent,
             "x": round(n.x, 1), "y": round(n.y, 1), "w": round(n.w, 1), "h": round(n.h, 1),
             "resource": n.resource}
        )
        for i, b in enumerate(n.inner):
            bid = f"#branch:{b.id}"
            label = "Iterator" if n.type == "Map" else f"Branch {i + 1}"
            nodes.append(
                {"id": bid, "label": label, "type": "Branch", "kind": "branch", "parent": n.id,
                 "x": round(b.ox, 1), "y": round(b.oy, 1), "w": round(b.w, 1), "h": round(b.h, 1),
                 "resource": None}
            )
            _flatten(b, bid, nodes, edges)
    for e in block.edges:
        edges.append(
            {"source": e.source, "target": e.target, "kind": e.kind, "label": e.label,
             "points": [[round(x, 1), round(y, 1)] for x, y in e.points]}
        )


# -- SVG ---------------------------------------------------------------------------------------

STATUS_COLORS: dict[str, str] = {
    "NOT_STARTED": "#f3f4f6",
    "RUNNING": "#bfdbfe",
    "SUCCEEDED": "#bbf7d0",
    "FAILED": "#fecaca",
    "CAUGHT": "#fed7aa",
    "WAITING": "#fef08a",
}
EDGE_COLORS: dict[str, str] = {"catch": "#dc2626", "choice": "#7c3aed", "default": "#6b7280"}


def to_svg(lay: LayoutDict, statuses: Mapping[str, str] | None = None) -> str:
    """The layout as a standalone SVG document (what the console draws, without interaction).

    Args:
        lay: a `layout(...)` result.
        statuses: optional state name → status (keys of STATUS_COLORS) to color nodes.
    """
    st = statuses or {}
    w, h = lay["width"], lay["height"]
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w:.0f}" height="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}" '
        'font-family="system-ui, sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#374151"/></marker></defs>',
        f'<rect width="{w:.0f}" height="{h:.0f}" fill="#ffffff"/>',
    ]
    for n in lay["nodes"]:
        x, y, nw, nh = n["x"], n["y"], n["w"], n["h"]
        label = html.escape(n["label"])
        if n["kind"] in ("group", "branch"):
            dash = ' stroke-dasharray="4 3"' if n["kind"] == "branch" else ""
            fill = STATUS_COLORS.get(st.get(n["id"], ""), "#fafafa" if n["kind"] == "group" else "none")
            out.append(f'<g class="node {n["kind"]}" data-state="{html.escape(n["id"])}">'
                       f'<rect x="{x}" y="{y}" width="{nw}" height="{nh}" rx="8" fill="{fill}" stroke="#9ca3af"{dash}/>'
                       f'<text x="{x + 8}" y="{y + 17}" font-weight="600">{label}'
                       f'{" · " + n["type"] if n["kind"] == "group" else ""}</text></g>')
        elif n["kind"] in ("start", "end"):
            out.append(f'<g class="node {n["kind"]}"><rect x="{x}" y="{y}" width="{nw}" height="{nh}" rx="{nh / 2}" '
                       f'fill="#374151"/><text x="{x + nw / 2}" y="{y + nh / 2 + 4}" fill="#fff" '
                       f'text-anchor="middle">{label}</text></g>')
        else:
            fill = STATUS_COLORS.get(st.get(n["id"], "NOT_STARTED"), STATUS_COLORS["NOT_STARTED"])
            out.append(f'<g class="node state" data-state="{html.escape(n["id"])}">'
                       f'<rect x="{x}" y="{y}" width="{nw}" height="{nh}" rx="6" fill="{fill}" stroke="#4b5563"/>'
                       f'<text x="{x + nw / 2}" y="{y + 17}" text-anchor="middle" font-weight="600">{label}</text>'
                       f'<text x="{x + nw / 2}" y="{y + 32}" text-anchor="middle" fill="#6b7280" font-size="10">'
                       f'{html.escape(n["type"])}</text></g>')
    for e in lay["edges"]:
        pts = " ".join(f"{x},{y}" for x, y in e["points"])
        color = EDGE_COLORS.get(e["kind"], "#374151")
        dash = ' stroke-dasharray="5 3"' if e["kind"] == "catch" else ""
        out.append(f'<polyline class="edge {e["kind"]}" points="{pts}" fill="none" stroke="{color}"{dash} '
                   'marker-end="url(#arrow)"/>')
        if e["label"] and len(e["points"]) >= 2:
            (x1, y1), (x2, y2) = e["points"][0], e["points"][1]
            left = x2 < x1
            out.append(f'<text x="{x1 + (x2 - x1) * 0.45 + (-4 if left else 4):.1f}" y="{y1 + (y2 - y1) * 0.45:.1f}" '
                       f'fill="{color}" font-size="10" text-anchor="{"end" if left else "start"}">'
                       f'{html.escape(e["label"])}</text>')
    out.append("</svg>")
    return "\n".join(out)


__all__ = ["LayoutDict", "STATUS_COLORS", "layout", "to_svg"]
