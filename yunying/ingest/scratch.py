"""Scratch files of imports and checks (transcoded CSV, per-call check folders): named after the owning process,
`yunying-<pid>-…` in the system temp folder, so that what a killed process left behind (hundreds of MB for a large
GB18030 file) is found and removed by the next import, and files of running processes are never touched."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

PREFIX = "yunying-"
_OWNED = re.compile(r"^yunying-(\d+)-")


def scratch_prefix() -> str:
    """Prefix for a temp file or folder of this process (tempfile.mkstemp/TemporaryDirectory prefix=…)."""
    return f"{PREFIX}{os.getpid()}-"


def _started(pid: int) -> float | None:
    """Start time (epoch seconds) of a process, from /proc (Linux); None where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])      # field 22: starttime, clock ticks after boot
        with open("/proc/stat", encoding="ascii") as fh:
            boot = next(int(line.split()[1]) for line in fh if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def _alive(pid: int, mtime: float) -> bool:
    """Whether process `pid` may still own an entry last written at `mtime`. A live pid that started after the
    entry was last written is another process that got the same number, not the owner."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:                            # e.g. another user's live process
        return True
    started = _started(pid)
    return started is None or started <= mtime + 2


def sweep_scratch(folder: str | Path | None = None) -> list[Path]:
    """Remove `yunying-<pid>-…` entries whose process is gone; returns what was removed. Never raises."""
    root = Path(folder or tempfile.gettempdir())
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for e in entries:
        m = _OWNED.match(e.name)
        if not m:
            continue
        try:
            mtime = e.stat(follow_symlinks=False).st_mtime
            if _alive(int(m.group(1)), mtime):
                continue
            if e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path)
            else:
                os.unlink(e.path)
            removed.append(Path(e.path))
        except OSError:
            continue
    return removed
