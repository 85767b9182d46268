"""Generated folders shared by the synth tests (small scales; generated once per test session/worker).

Readers here parse the files independently of the generator (pyarrow CSV on the decoded bytes, all columns as
strings), so tests compute shares and identities from what is on disk.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from yunying.synth.generator import generate

SYNTH = Path(__file__).resolve().parents[2] / "yunying" / "synth"
YEARS = [2021, 2022]


def read_csv(path: Path, encoding: str) -> pa.Table:
    text = path.read_bytes().decode(encoding)
    header = next(csv.reader(io.StringIO(text.split("\n", 1)[0])))
    return pacsv.read_csv(io.BytesIO(text.encode("utf-8")),
                          convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                               strings_can_be_null=True))


def col(t: pa.Table, name: str) -> np.ndarray:
    return np.array(t[name].to_pylist(), dtype=object)


def num(t: pa.Table, name: str) -> np.ndarray:
    return np.array([float(x) if x not in (None, "") else 0.0 for x in t[name].to_pylist()])


def px_categories() -> dict[str, str]:
    with open(SYNTH / "codes" / "px_codes.csv", encoding="utf-8") as f:
        return {r["code"]: r["category"] for r in csv.DictReader(f)}


@pytest.fixture(scope="session")
def general(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tg")
    generate(profile="tertiary-general", years=YEARS, scale=0.04, seed=7, out=out)
    return out


@pytest.fixture(scope="session")
def tcm(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tcm")
    generate(profile="tertiary-tcm", years=[2022], scale=0.1, seed=7, out=out)
    return out


@pytest.fixture(scope="session")
def secondary(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sec")
    generate(profile="secondary-general", years=[2022], scale=0.4, seed=7, out=out,
             kinds={"discharge"})
    return out


@pytest.fixture(scope="session")
def general_discharges(general) -> dict[int, pa.Table]:
    return {y: read_csv(general / f"discharge_{y}.csv", "gb18030") for y in YEARS}
