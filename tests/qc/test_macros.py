"""SQL helper macros the catalogue may call (yunying.qc.engine.MACROS), checked against Python worked values."""

import duckdb
import pytest

from yunying.qc.engine import MACROS


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    for m in MACROS:
        c.execute(m)
    yield c
    c.close()


@pytest.mark.parametrize("values", [
    [], ["A01.0"], ["A01.0", "A01.0"], ["A01.0", "B02"], ["A01.0", None], [None, None],
    ["A", "B", "A"], ["A", "B", "C"], ["A", None, "A"], ["A", "B", "C", "D"], ["A", "B", "C", "A"],
    ["A", None, None, None], ["X", "Y", "Z", "W", "X"], ["I10", "E11.9", "I10", "N18.3", "E11.9"],
])
def test_qc_has_dup_means_a_non_null_value_repeats(con, values):
    non_null = [v for v in values if v is not None]
    expected = len(non_null) != len(set(non_null))
    assert con.execute("select qc_has_dup(?::varchar[])", [values]).fetchall()[0][0] is expected


def _check_digit(first17: str) -> str:
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights)) % 11]


@pytest.mark.parametrize("id_number, ok", [
    ("11010519491231002X", True),          # GB 11643 example
    ("11010519491231002x", True),
    ("110105194912310021", False),
    ("440524188001010014", True),
    ("123456789012345", True),             # 15-digit legacy number: no check digit
    ("12345678901234", False),
    ("1101051949123100X2", False),
])
def test_qc_id_ok_follows_gb11643(con, id_number, ok):
    if len(id_number) == 18 and id_number[:17].isdigit():
        assert (_check_digit(id_number[:17]) == id_number[17].upper()) is ok
    assert con.execute("select qc_id_ok(?)", [id_number]).fetchall()[0][0] is ok


def test_qc_id_ok_on_random_numbers(con):
    # 17 random digits (leading zeros included) with the right check character pass, with any other fail
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.sampled_from("0123456789Xx"))
    def check(body, last):
        ok = last.upper() == _check_digit(body)
        assert con.execute("select qc_id_ok(?)", [body + last]).fetchall()[0][0] is ok

    check()
