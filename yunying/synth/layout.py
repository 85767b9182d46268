"""Column layout of the generated 首页 file: the national upload codes (卫统4-1) in form order, or the
national-tcm interface dialect (三级公立中医医院病案首页数据采集接口) for a TCM profile.

Every header is a key of yunying/ingest/profiles/national.yaml (or national-tcm.yaml) `columns:` or a
repeat-group pattern of its `repeats:` — tests/synth/test_format.py checks that against the profile files.
"""

from __future__ import annotations

HEAD = ["ZZJGDM", "JGMC", "YLFKFS", "JKKH", "ZYCS", "BAH", "XM", "XB", "CSRQ", "NL", "GJ", "BZYZS_NL", "XSECSTZ",
        "XSECSTZ2", "XSECSTZ3", "XSERYTZ", "CSD", "GG", "MZ", "SFZH", "ZY", "HY", "XZZ", "DH", "YB1", "HKDZ", "YB2",
        "GZDWJDZ", "DWDH", "YB3", "LXRXM", "GX", "DZ", "DH2", "RYTJ", "RYSJ", "RYKB", "RYBF", "ZKKB", "CYSJ", "CYKB",
        "CYBF", "SJZYTS", "MZZD", "JBBM"]
DX0 = ["JBDM", "ZYZD", "RYBQ"]
MID = ["WBYY", "H23", "BLZD", "JBMM", "BLH", "YWGM", "GMYW", "SWHZSJ", "XX", "RH", "KZR", "ZRYS", "ZZYS", "ZYYS",
       "ZRHS", "JXYS", "SXYS", "BMY", "BAZL", "ZKYS", "ZKHS", "ZKRQ"]
PX = ["SSJCZBM", "SSJCZMC", "SSJCZRQ", "SSJB", "SZ", "YZ", "EZ", "QKDJ", "QKYHLB", "MZFS", "MZYS"]
TAIL = ["LYFS", "YZZY_YLJG", "WSY_YLJG", "SFZZYJH", "MD", "RYQ_T", "RYQ_XS", "RYQ_F", "RYH_T", "RYH_XS", "RYH_F",
        "HXJSYSJ", "TJHLTS", "YJHLTS", "EJHLTS", "SJHLTS", "QJCS", "QJCGCS"]
FEES_WEST = ["ZFY", "ZFJE", "YLFUF", "BZLZF", "ZYBLZHZF", "ZLCZF", "HLF", "QTFY", "BLZDF", "SYSZDF", "YXXZDF",
             "LCZDXMF", "FSSZLXMF", "WLZLF", "SSZLF", "MAF", "SSF", "KFF", "ZYZLF", "XYF", "KJYWF", "ZCYF", "ZYZJF",
             "ZCYF1", "XF", "BDBLZPF", "QDBLZPF", "NXYZLZPF", "XBYZLZPF", "HCYYCLF", "YYCLF", "YCXYYCLF", "QTF"]
TCM_FLAGS = ["ZLLB", "SSLCLJ", "ZYYJ", "ZYZLSB", "ZYZLJS", "BZSH"]
TCM_FEES = ["ZYL_ZYZD", "ZYZL", "ZYWZ", "ZYGS", "ZCYJF", "ZYTNZL", "ZYGCZL", "ZYTSZL", "ZYQT", "ZYTSTPJG", "BZSS"]
N_SYNDROMES = 2


def tcm_rename(max_dx: int, max_px: int) -> dict[str, str]:
    """Western upload code -> TCM interface code, where the TCM interface names the same item differently."""
    r = {"XSECSTZ": "XSETZ", "XSECSTZ2": "XSETZ2", "XSECSTZ3": "XSETZ3", "SJZYTS": "SJZY", "MZZD": "MZZD_XYZD",
         "H23": "JBBM1", "JBMM": "JBBM2", "SWHZSJ": "SJ", "SFZZYJH": "ZZYJH", "YZZY_YLJG": "YZZY_JGMC",
         "WSY_YLJG": "WSY_JGMC", "RYQ_F": "RYQ_FZ", "RYH_F": "RYH_FZ", "YLFUF": "YLFWF", "SYSZDF": "ZDF",
         "WLZLF": "ZLF", "MAF": "MZF", "HCYYCLF": "JCYYCLF", "YCXYYCLF": "SSYCXCLF",
         "JBDM": "ZYZD_JBBM", "RYBQ": "XY_RYBQ", "JBDM_TCM": "JBDM"}
    for i in range(1, max_dx + 1):
        r[f"JBDM{i}"] = f"ZYZD_JBBM{i}"
    for i in range(1, max_px + 1):
        r[f"SSJB{i}"] = f"SHJB{i}"
        r[f"QKYHLB{i}"] = f"QKYLB{i}"
    return r


def discharge_header(tcm: bool, max_dx: int = 15, max_px: int = 7) -> list[str]:
    dx = DX0 + [f"{p}{i}" for i in range(1, max_dx + 1) for p in ("JBDM", "QTZD", "RYBQ")]
    px = [f"{p}{i}" for i in range(1, max_px + 1) for p in PX]
    if not tcm:
        return HEAD + dx + MID + px + TAIL + FEES_WEST
    ren = tcm_rename(max_dx, max_px)
    head = HEAD[:HEAD.index("RYTJ")] + ["RYTJ", "ZLLB"] + HEAD[HEAD.index("RYTJ") + 1:] + ["MZD_ZYZD", "JBDM_TCM"]
    tcm_dx = ["ZB", "ZB_JBBM", "ZB_RYBQ"] + [f"{p}{i}" for i in range(1, N_SYNDROMES + 1)
                                              for p in ("ZZ", "ZZ_JBBM", "ZZ_RYBQ")]
    mid = [c for c in MID if c != "WBYY"]
    fees = [c for c in FEES_WEST if c != "ZYZLF"]
    fees = fees[:fees.index("KFF") + 1] + TCM_FEES + fees[fees.index("KFF") + 1:]
    cols = head + ["SSLCLJ", "ZYYJ", "ZYZLSB", "ZYZLJS", "BZSH"] + tcm_dx + dx + mid + px + TAIL + fees
    return [ren.get(c, c) for c in cols]
