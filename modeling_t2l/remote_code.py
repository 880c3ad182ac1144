"""Write a self-contained code folder next to saved weights, for `trust_remote_code=True` without this package.

transformers loads remote code from one flat folder and follows only single-dot relative imports
(`from .x import y`). This package is nested (`models/<family>/`, `processing/`, ...), so the modules a checkpoint
needs are copied flat, each under its own file name, with every import of a module of this package rewritten to
`from .<name> import ...`. Only leaf modules can be bundled: a bundled module that imports a package's
`__init__` (which would drag the whole package along) is refused with the module's name.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterable
from pathlib import Path

PACKAGE = __name__.split(".")[0]
_IMPORT_LINE = re.compile(r"^(\s*from\s+)(\.+[\w.]*|" + PACKAGE + r"[\w.]*)(\s+import\b)")


def _module_file(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ImportError(f"cannot bundle {name}: module not found")
    return Path(spec.origin)


def _package_imports(name: str, source: str) -> dict[int, str]:
    """{line number: absolute module} for every `from <this package module> import` in a module's source."""
    path = _module_file(name)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = {}
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom):
            continue
        if node.level:
            target = importlib.util.resolve_name("." * node.level + (node.module or ""), package)
        elif node.module and (node.module == PACKAGE or node.module.startswith(PACKAGE + ".")):
            target = node.module
        else:
            continue
        if node.module is None or _module_file(target).name == "__init__.py":
            # transformers' loader follows only `from .module import name` lines
            raise ImportError(
                f"cannot bundle {name} as remote code: line {node.lineno} imports the package {target}; "
                f"write `from .<module> import <name>` for the module that defines the names"
            )
        found[node.lineno] = target
    return found


def bundle_modules(modules: Iterable[str]) -> dict[str, str]:
    """{file name: rewritten source} for `modules` and every module of this package they import, transitively."""
    pending, seen, bundle = list(modules), set(), {}
    owners: dict[str, str] = {}
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        source = _module_file(name).read_text(encoding="utf-8")
        imports = _package_imports(name, source)
        lines = source.splitlines(keepends=True)
        for lineno, target in imports.items():
            flat = "." + target.rpartition(".")[2]
            lines[lineno - 1] = _IMPORT_LINE.sub(lambda m: m.group(1) + flat + m.group(3), lines[lineno - 1], count=1)
            pending.append(target)
        file_name = name.rpartition(".")[2] + ".py"
        if owners.setdefault(file_name, name) != name:
            raise ImportError(f"cannot bundle {name} and {owners[file_name]}: both would be {file_name}")
        bundle[file_name] = "".join(lines)
    return bundle


def write_remote_code(modules: Iterable[str], directory) -> list[Path]:
    """Write the bundle of `modules` into `directory`; returns the files written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, source in sorted(bundle_modules(modules).items()):
        path = directory / file_name
        path.write_text(source, encoding="utf-8")
        written.append(path)
    return written
