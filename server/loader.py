"""Load user code (`resolvers.py`, conflict handlers, workflow functions) from a project folder.

A reference is `"module:function"`, where `module` is a dotted path relative to the project
folder (`resolvers` → PROJECT/resolvers.py). Each file is imported once per process, so
resolvers and handlers that share module-level state see the same objects.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from server.errors import ConfigError

_modules: dict[Path, ModuleType] = {}


def load_module(module: str, project_dir: Path, *, what: str) -> ModuleType:
    parts = module.split(".")
    if not module or not all(p.isidentifier() for p in parts):
        raise ConfigError(f"{what}: {module!r} is not a module name (expected e.g. \"resolvers\")")
    base = Path(project_dir).resolve().joinpath(*parts)
    path = base.with_suffix(".py") if base.with_suffix(".py").exists() else base / "__init__.py"
    if not path.exists():
        raise ConfigError(f"{what}: no module {module!r} in {project_dir} (looked for {base.with_suffix('.py')})")
    cached = _modules.get(path)
    if cached is not None:
        return cached
    name = f"syncline_project_{abs(hash(str(path)))}_{parts[-1]}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"{what}: cannot import {path}")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except Exception as exc:
        del sys.modules[name]
        raise ConfigError(f"{what}: importing {path} failed: {type(exc).__name__}: {exc}") from exc
    _modules[path] = mod
    return mod


def load_callable(ref: str, project_dir: Path, *, what: str) -> Callable[..., Any]:
    """Resolve `"module:function"` in the project folder; ConfigError names `what` on failure."""
    module, sep, attr = ref.partition(":")
    if not sep or not attr:
        raise ConfigError(f"{what}: expected \"module:function\", got {ref!r}")
    mod = load_module(module, project_dir, what=what)
    fn = getattr(mod, attr, None)
    if fn is None:
        raise ConfigError(f"{what}: {module}.py has no {attr!r}")
    if not callable(fn):
        raise ConfigError(f"{what}: {module}.{attr} is not callable")
    return fn  # type: ignore[no-any-return]
