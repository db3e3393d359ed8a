#!/usr/bin/env python3
"""Fails if the modules of a crate import each other in a circle.

    python3 scripts/lib/module_cycles.py crates/idem-cluster/src

A module is a file directly under SRC (or a folder with a mod.rs); an
import is `crate::NAME` in a line that is not a comment (a `use`, or a
path in code). Doc links (`[`crate::x`]`) live in comments and do not
count. Prints each circle found and exits 1, or prints the modules
bottom-up (each uses only those before it) and exits 0.
"""
import pathlib
import re
import sys


def modules(src: pathlib.Path) -> dict:
    found = {}
    for path in sorted(src.iterdir()):
        if path.suffix == ".rs" and path.stem not in ("lib", "main"):
            found[path.stem] = [path]
        elif path.is_dir() and (path / "mod.rs").exists():
            found[path.name] = sorted(path.rglob("*.rs"))
    return found


def imports(files, names) -> set:
    used = set()
    for file in files:
        for line in file.read_text().splitlines():
            code = line.split("//", 1)[0]
            for name in re.findall(r"\bcrate::([a-z_][a-z0-9_]*)", code):
                if name in names:
                    used.add(name)
    return used


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    src = pathlib.Path(sys.argv[1])
    mods = modules(src)
    graph = {m: imports(files, mods) - {m} for m, files in mods.items()}
    order, state, cycles = [], {}, []

    def visit(m, stack):
        state[m] = "open"
        stack.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                cycles.append(stack[stack.index(d):] + [d])
            elif d not in state:
                visit(d, stack)
        stack.pop()
        state[m] = "done"
        order.append(m)

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    if cycles:
        for c in cycles:
            print(f"{src}: import circle: {' -> '.join(c)}", file=sys.stderr)
        return 1
    print(f"{src}: no import circle among {len(mods)} modules; bottom-up: {' '.join(order)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
