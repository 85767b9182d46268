"""What every benchmark prints about the machine it ran on (imported by the bench/*.py scripts)."""

from __future__ import annotations

import os
import platform
import resource
from pathlib import Path


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> dict:
    import duckdb
    import numpy
    import pyarrow

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30 if hasattr(os, "sysconf") else None
    return {"cpus": os.cpu_count(), "cpu_model": cpu_model(), "memory_gb": round(mem, 1) if mem else None,
            "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
            "python": platform.python_version(), "duckdb": duckdb.__version__, "pyarrow": pyarrow.__version__,
            "numpy": numpy.__version__, "platform": platform.platform()}


def machine_line() -> str:
    m = machine()
    return (f"{m['platform']}, {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gb']} GB, load {m['load_avg_1min']}, "
            f"Python {m['python']}, DuckDB {m['duckdb']}")


def peak_rss_mb(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 1024.0   # Linux reports KiB
