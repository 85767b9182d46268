"""Temp files of killed imports (issue 15 item 6): scratch files are named `yunying-<pid>-…` in the temp folder and
the next import removes those whose process is gone — never those of a running process, never other files."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

from tests.ingest.test_import import GOOD, HEADER, write
from yunying.ingest.engine import import_files
from yunying.warehouse.db import connect

# a process that dies without cleaning up, as `kill -9` during transcoding: its transcoded copy (mkstemp with the
# engine's prefix), one parallel piece and a check folder stay behind
KILLED = """
import os, sys, tempfile
from yunying.ingest.scratch import scratch_prefix
fd, p = tempfile.mkstemp(prefix=scratch_prefix(), suffix=".csv")
os.write(fd, b"x" * 4096)
open(p + ".0", "wb").write(b"y" * 4096)
d = tempfile.mkdtemp(prefix=scratch_prefix() + "qc-")
open(os.path.join(d, "records.csv"), "w").write("BAH")
print(os.getpid())
os._exit(9)
"""


def test_leftovers_of_a_killed_import_are_swept_by_the_next_import(tmp_path, db, monkeypatch):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    dead = int(subprocess.run([sys.executable, "-c", KILLED], env=env, capture_output=True, text=True).stdout)
    left = sorted(p.name for p in scratch.iterdir())
    assert len(left) == 3 and all(n.startswith(f"yunying-{dead}-") for n in left)
    busy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.2)
        kept = [f"yunying-{os.getpid()}-mine.csv", f"yunying-{busy.pid}-running.csv", "yunying-legacy.csv",
                "other.csv"]
        for n in kept:
            (scratch / n).write_text("keep")
        reused = scratch / f"yunying-{busy.pid}-older-than-the-process.csv"   # pid reused by a later process
        reused.write_text("stale")
        hour_ago = time.time() - 3600
        os.utime(reused, (hour_ago, hour_ago))
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
        con = connect(db)
        try:
            summary = import_files(con, "discharge", [write(tmp_path / "d.csv", [HEADER, *GOOD], "gb18030")],
                                   reject_dir=tmp_path / "rej")
        finally:
            con.close()
        assert summary.ok and summary.files[0].inserted == 3
        # the GB18030 file was transcoded in the same folder and its copy removed after the import
        assert sorted(p.name for p in scratch.iterdir()) == sorted(kept)
    finally:
        busy.kill()
        busy.wait()
