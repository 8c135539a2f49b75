"""collect(): load the config, import what it names, run the checks: every diagnostic, sorted.

Used alike by the commands, `gitbeat dev` and the runtime (library code never imports commands/).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from .checks import check_config
from .collector import gc_paused
from .errors import Diagnostic
from .loader import Config, load_config


def collect(
    root: Path, *, imports: bool = True, env: str | None = None, ref: str | None = None
) -> tuple[Config, list[Diagnostic]]:
    """Load and check the config under `root` (with environment `env`, at git `ref`): every diagnostic, sorted.

    At a ref nothing is imported: only the working tree's code can be imported.
    """
    config, diagnostics = load_config(root, env=env, ref=ref)
    registered: set[str] | None = None
    if imports and ref is None:
        from .imports import check_imports

        imported = check_imports(config)
        diagnostics += imported.diagnostics
        registered = imported.registered
    with gc_paused():
        diagnostics += check_config(config, registered, datetime.now(UTC))
    return config, sorted(set(diagnostics))
