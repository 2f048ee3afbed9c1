"""deploy/install.sh run into a scratch root (--root), and a digest of the tree it leaves."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

INSTALL = Path(__file__).resolve().parents[2] / "deploy" / "install.sh"


def install(root: Path, *args: str) -> str:
    env = dict(os.environ, PATH=os.environ.get("PATH", "/usr/bin:/bin"))
    result = subprocess.run(["bash", str(INSTALL), "--root", str(root), *args], capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def tree(root: Path) -> dict[str, tuple]:
    """Every path under root: kind, mode, and content digest or link target."""
    found = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        rel = str(path.relative_to(root))
        if stat.S_ISLNK(info.st_mode):
            found[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            found[rel] = ("dir", stat.S_IMODE(info.st_mode))
        else:
            found[rel] = ("file", stat.S_IMODE(info.st_mode), hashlib.sha256(path.read_bytes()).hexdigest())
    return found
