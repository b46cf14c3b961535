"""Child Python processes that run one of casefile's own modules (``python -m casefile....``).

``module_command`` and ``module_env`` give the command line and an environment in which the child imports the same
casefile as this process, whether it runs from a checkout or from an installed package.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def import_root() -> str:
    """The sys.path entry that holds the ``casefile`` package this process imported."""
    import casefile

    return str(Path(next(iter(casefile.__path__))).parent)


def module_command(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]


def module_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with PYTHONPATH led by :func:`import_root`."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [import_root(), env.get("PYTHONPATH")]))
    return env
