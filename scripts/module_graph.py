#!/usr/bin/env python3
"""The module import graph of one crate, built from its source, and two checks on it.

    scripts/module_graph.py cycles  crates/http/src            # no import circles
    scripts/module_graph.py layers  crates/http/src lcyt v1 …  # surfaces never import each other
    scripts/module_graph.py edges   crates/http/src            # print the graph

A node is a file-level module (`lcyt::auth`, `principal`; a `mod.rs` is its folder's module,
inline `mod tests { … }` and `#[path]` test files count as the module that holds them). An edge
A → B means a file of A names B: a `use` of `crate::…`, `super::…` or `self::…`, such a path in
code (`crate::wire::iso(t)`), or a child module by its bare name (`keys::create` in
`lcyt/mod.rs`). `crate::item` re-exported by `lib.rs` (`pub use blocking::run_short`) resolves
to the module that defines it. Declaring a module (`mod x;`) is not an import.

`cycles` exits 1 and prints one circle per strongly connected component when A reaches B and B
reaches A. `layers` exits 1 when a module under one of the named surface folders imports a module
under another, or when a module outside every surface imports a surface (the shared layer sits
below the surfaces); the `exempt` modules (the crate root, `routes`, `openapi` and `usage_path`, which know every surface)
may.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

EXEMPT = {"", "routes", "openapi", "openapi_links", "usage_path"}

USE_STMT_RE = re.compile(r"(?m)^[ \t]*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]*);")
INLINE_MOD_RE = re.compile(r"^(\s*)(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*\{\s*$")
DECL_MOD_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;")
PATH_ATTR_RE = re.compile(r'^\s*#\[path\s*=\s*"([^"]+)"\]')
CODE_PATH_RE = re.compile(r"\b((?:crate|super|self)(?:::\w+)+)")
STRING_RE = re.compile(r'"(?:\\.|[^"\\])*"')


def module_of(src: Path, file: Path) -> tuple[str, ...]:
    rel = file.relative_to(src).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] in ("lib", "main", "mod"):
        parts.pop()
    return tuple(parts)


def expand(tree: str) -> list[str]:
    """`a::{b, c::{d, e as f}, self}` → `a::b`, `a::c::d`, `a::c::e`, `a`."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", tree))
    out: list[str] = []

    def walk(prefix: str, t: str) -> None:
        if "{" not in t:
            for item in split(t):
                if item in ("", "*", "self"):
                    out.append(prefix.rstrip(":"))
                else:
                    out.append(prefix + item)
            return
        for item in split(t):
            if "{" in item:
                head, _, rest = item.partition("{")
                walk(prefix + head, rest[:-1])
            else:
                walk(prefix, item)

    walk("", tree)
    return [re.sub(r"(::\*)$", "", p) for p in out if p]


def split(t: str) -> list[str]:
    items, depth, cur = [], 0, ""
    for ch in t:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    return [i for i in items if i]


class Crate:
    def __init__(self, src: Path) -> None:
        self.src = src
        self.nodes: set[tuple[str, ...]] = set()
        self.children: dict[tuple[str, ...], set[str]] = {}
        # File → (logical module path of the file, node its edges belong to).
        self.files: dict[Path, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        self.reexports: dict[str, tuple[str, ...]] = {}
        self.edges: dict[tuple[str, ...], dict[tuple[str, ...], str]] = {}
        path_files: dict[Path, tuple[str, ...]] = {}
        for file in sorted(src.rglob("*.rs")):
            text = file.read_text()
            mod = module_of(src, file)
            lines = text.splitlines()
            for i, line in enumerate(lines):
                m = PATH_ATTR_RE.match(line)
                if m:
                    nxt = next((x for x in lines[i + 1 :] if x.strip()), "")
                    d = DECL_MOD_RE.match(nxt)
                    if d:
                        path_files[(file.parent / m.group(1)).resolve()] = mod + (d.group(1),)
        for file in sorted(src.rglob("*.rs")):
            if file.resolve() in path_files:
                logical = path_files[file.resolve()]
                self.files[file] = (logical, logical[:-1])
                continue
            mod = module_of(src, file)
            self.nodes.add(mod)
            self.files[file] = (mod, mod)
            kids = self.children.setdefault(mod, set())
            prev = ""
            for line in file.read_text().splitlines():
                d = DECL_MOD_RE.match(line)
                if d and not PATH_ATTR_RE.match(prev):
                    kids.add(d.group(1))
                if line.strip():
                    prev = line
        lib = src / "lib.rs"
        if lib.exists():
            for stmt in USE_STMT_RE.finditer(self.clean(lib.read_text())):
                for p in expand(stmt.group(1)):
                    segs = [s for s in p.split("::") if s]
                    if segs and segs[0] == "crate":
                        segs = segs[1:]
                    if len(segs) >= 2 and (segs[0],) in self.nodes:
                        self.reexports[segs[-1]] = self.longest(tuple(segs[:-1]))

    @staticmethod
    def clean(text: str) -> str:
        out = []
        for line in text.splitlines():
            s = line.lstrip()
            if s.startswith("//"):
                out.append("")
                continue
            out.append(STRING_RE.sub('""', line))
        return "\n".join(out)

    def longest(self, segs: tuple[str, ...]) -> tuple[str, ...]:
        for n in range(len(segs), -1, -1):
            if segs[:n] in self.nodes:
                return segs[:n]
        return ()

    def resolve(self, path: str, logical: tuple[str, ...]) -> tuple[str, ...] | None:
        segs = [s for s in path.split("::") if s]
        if not segs:
            return None
        if segs[0] == "crate":
            base, rest = (), segs[1:]
        elif segs[0] in ("super", "self"):
            base = logical
            while segs and segs[0] in ("super", "self"):
                if segs[0] == "super":
                    base = base[:-1]
                segs = segs[1:]
            rest = segs
        elif segs[0] in self.children.get(logical, set()):
            base, rest = logical, segs
        else:
            return None  # another crate
        full = tuple(base) + tuple(rest)
        target = self.longest(full)
        if target == () and rest and rest[0] in self.reexports:
            target = self.reexports[rest[0]]
        return target

    def build(self) -> None:
        for file, (file_logical, node) in self.files.items():
            text = self.clean(file.read_text())
            lines = text.splitlines()
            stack: list[tuple[str, str]] = []
            logical_at: list[tuple[str, ...]] = []
            for line in lines:
                if stack and line == stack[-1][0] + "}":
                    stack.pop()
                logical_at.append(file_logical + tuple(n for _, n in stack))
                m = INLINE_MOD_RE.match(line)
                if m:
                    stack.append((m.group(1), m.group(2)))
            offsets, pos = [], 0
            for line in lines:
                offsets.append(pos)
                pos += len(line) + 1

            def line_of(off: int) -> int:
                lo, hi = 0, len(offsets) - 1
                while lo < hi:
                    mid = (lo + hi + 1) // 2
                    if offsets[mid] <= off:
                        lo = mid
                    else:
                        hi = mid - 1
                return lo

            used_spans = []
            for stmt in USE_STMT_RE.finditer(text):
                used_spans.append((stmt.start(), stmt.end()))
                ln = line_of(stmt.start())
                for p in expand(stmt.group(1)):
                    self.add(node, self.resolve(p, logical_at[ln]), file, ln)
            for m in CODE_PATH_RE.finditer(text):
                if any(a <= m.start() < b for a, b in used_spans):
                    continue
                ln = line_of(m.start())
                self.add(node, self.resolve(m.group(1), logical_at[ln]), file, ln)
            kids = self.children.get(node, set())
            if kids:
                kid_re = re.compile(r"(?<![\w:])(" + "|".join(sorted(kids)) + r")::\w")
                for m in kid_re.finditer(text):
                    if any(a <= m.start() < b for a, b in used_spans):
                        continue
                    ln = line_of(m.start())
                    self.add(node, node + (m.group(1),), file, ln)

    def add(self, src: tuple[str, ...], dst, file: Path, ln: int) -> None:
        if dst is None or dst == src:
            return
        dst = self.longest(dst)
        if dst == src:
            return
        self.edges.setdefault(src, {}).setdefault(dst, f"{file}:{ln + 1}")


def name(m: tuple[str, ...]) -> str:
    return "::".join(m) if m else "crate"


def sccs(nodes, edges):
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def a_cycle(comp, edges):
    inside = set(comp)
    start = min(comp)
    # Breadth-first from start back to start, inside the component.
    prev = {start: None}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, {})):
            if w not in inside:
                continue
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                path.reverse()
                return path + [start]
            if w not in prev:
                prev[w] = v
                queue.append(w)
    return [start]


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in ("cycles", "layers", "edges"):
        print(__doc__, file=sys.stderr)
        return 2
    cmd, src = argv[1], Path(argv[2])
    crate = Crate(src)
    crate.build()
    label = str(src)
    if cmd == "edges":
        for a in sorted(crate.edges):
            for b in sorted(crate.edges[a]):
                print(f"{name(a)} -> {name(b)}    ({crate.edges[a][b]})")
        return 0
    if cmd == "cycles":
        comps = sccs(crate.nodes, crate.edges)
        for comp in comps:
            cyc = a_cycle(comp, crate.edges)
            print(f"module-cycles: {label}: circle among {{{', '.join(sorted(name(c) for c in comp))}}}:", file=sys.stderr)
            for a, b in zip(cyc, cyc[1:]):
                print(f"    {name(a)} -> {name(b)}    ({crate.edges[a][b]})", file=sys.stderr)
        if not comps:
            print(f"module-cycles: {label}: no import circles among {len(crate.nodes)} modules")
        return 1 if comps else 0
    surfaces = set(argv[3:])
    bad = 0
    for a, outs in sorted(crate.edges.items()):
        sa = a[0] if a and a[0] in surfaces else None
        for b, where in sorted(outs.items()):
            sb = b[0] if b and b[0] in surfaces else None
            if sb is None or sb == sa:
                continue
            if sa is None and name(a) in EXEMPT | {"crate"}:
                continue
            what = f"surface `{sa}`" if sa else "shared-layer module"
            print(f"module-layers: {label}: {what} `{name(a)}` imports surface module `{name(b)}` ({where})", file=sys.stderr)
            bad = 1
    if not bad:
        print(f"module-layers: {label}: surfaces {', '.join(sorted(surfaces))} import no other surface; the shared layer imports none")
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv))
