"""Vectorised fake identities: names, 身份证号 with a valid GB 11643 check digit, phones, addresses.

All fictional: cities are invented (云影市 …), so addresses never point at a real place below province level.
Strings are built with pyarrow compute kernels (no Python loop per row).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
SURNAME_W = np.array([7.1, 7.0, 6.8, 5.4, 4.5, 3.1, 2.2, 2.0, 1.9, 1.8, 1.7, 1.5, 1.4, 1.3, 1.3, 1.2, 1.2, 1.2, 1.2,
                      0.9, 0.9, 0.8, 0.8, 0.8, 0.8, 0.7, 0.7, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6, 0.5, 0.5, 0.5, 0.5,
                      0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.3] + [0.3] * (len(SURNAMES) - 50))
GIVEN_M = list("伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家致树炎德行时泰盛雄琛钧冠策腾楠榕风航弘")
GIVEN_F = list("秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝丽")
PROVINCES = [("浙江省", "33"), ("江苏省", "32"), ("安徽省", "34"), ("江西省", "36"), ("福建省", "35"), ("上海市", "31"),
             ("湖南省", "43"), ("河南省", "41"), ("四川省", "51"), ("山东省", "37")]
CITIES = ["云影市", "青岚市", "松溪市", "明湖市", "白鹭市", "清河市", "临川市", "东阳市"]
DISTRICTS = ["东城区", "西湖区", "南山区", "北塘区", "新城区", "高新区", "城关镇", "桥头镇", "河西区", "滨江区"]
STREETS = ["建设路", "人民路", "解放路", "中山路", "文化路", "新华街", "长安街", "学院路", "光明路", "和平路",
           "青年路", "复兴路", "胜利街", "民主路", "健康路", "兴业大道", "滨河路", "东风路"]
EMPLOYERS = ["云影市机械厂", "青岚商贸有限公司", "松溪县第二中学", "明湖食品公司", "白鹭纺织有限公司", "个体",
             "云影市建筑公司", "清河物流公司", "临川电子科技公司", "无"]
PHONE_PREFIX = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "156",
                "157", "158", "159", "176", "177", "180", "181", "182", "186", "187", "188", "189", "199"]
ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
ID_CHECK = np.array(list("10X98765432"))


def _take(values: list[str], idx: np.ndarray) -> pa.Array:
    return pa.array(values, pa.string()).take(pa.array(idx))


def join(*parts, sep: str = "") -> pa.Array:
    """Element-wise concatenation of arrow string arrays / python scalars."""
    return pc.binary_join_element_wise(*[p if isinstance(p, (pa.Array, pa.ChunkedArray)) else pa.scalar(str(p))
                                         for p in parts], sep)


def digits(x: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(np.asarray(x, dtype=np.int64)), pa.string()), width, "0")


def names(rng: np.random.Generator, sex: np.ndarray) -> pa.Array:
    """sex: array of 1/2. Two-character given names in ~60 % of cases."""
    n = len(sex)
    p = SURNAME_W / SURNAME_W.sum()
    sur = _take(SURNAMES, rng.choice(len(SURNAMES), n, p=p))
    male = sex == 1
    g1 = np.where(male, rng.integers(0, len(GIVEN_M), n), rng.integers(0, len(GIVEN_F), n) + len(GIVEN_M))
    g2 = np.where(male, rng.integers(0, len(GIVEN_M), n), rng.integers(0, len(GIVEN_F), n) + len(GIVEN_M))
    pool = GIVEN_M + GIVEN_F
    two = rng.random(n) < 0.6
    g2s = pc.if_else(pa.array(two), _take(pool, g2), pa.scalar(""))
    return join(sur, _take(pool, g1), g2s)


def names_from_hash(h: np.ndarray, sex: np.ndarray) -> pa.Array:
    """Deterministic name per hashed patient id (outpatient: the same id always has the same name)."""
    cum = np.cumsum(SURNAME_W / SURNAME_W.sum())
    u = ((h >> np.uint64(11)) & np.uint64(0xFFFFF)).astype(np.float64) / 0x100000
    sur = _take(SURNAMES, np.minimum(np.searchsorted(cum, u), len(SURNAMES) - 1))
    male = sex == 1
    a = ((h >> np.uint64(31)) % np.uint64(997)).astype(np.int64)
    b = ((h >> np.uint64(41)) % np.uint64(991)).astype(np.int64)
    g1 = np.where(male, a % len(GIVEN_M), a % len(GIVEN_F) + len(GIVEN_M))
    g2 = np.where(male, b % len(GIVEN_M), b % len(GIVEN_F) + len(GIVEN_M))
    pool = GIVEN_M + GIVEN_F
    two = ((h >> np.uint64(53)) % np.uint64(10)) < 6
    return join(sur, _take(pool, g1), pc.if_else(pa.array(two), _take(pool, g2), pa.scalar("")))


def id_numbers(rng: np.random.Generator, birth: np.ndarray, sex: np.ndarray, prov_idx: np.ndarray) -> pa.Array:
    """18-char 身份证号: province + 4 fictional digits, birth date, 3-digit sequence (odd male / even female),
    GB 11643 MOD 11-2 check digit."""
    n = len(birth)
    area = np.array([int(PROVINCES[i][1]) for i in range(len(PROVINCES))])[prov_idx] * 10000 + \
        rng.integers(1, 99, n) * 100 + rng.integers(1, 30, n)
    b = birth.astype("datetime64[D]")
    y = b.astype("datetime64[Y]").astype(int) + 1970
    m = b.astype("datetime64[M]").astype(int) % 12 + 1
    d = (b - b.astype("datetime64[M]")).astype(int) + 1
    ymd = y * 10000 + m * 100 + d
    seq = rng.integers(0, 500, n) * 2 + np.where(sex == 1, 1, 0)
    seq = np.where(seq == 0, 2, seq)
    body = area.astype(np.int64) * 10**11 + ymd.astype(np.int64) * 1000 + seq
    dg = np.empty((n, 17), dtype=np.int64)
    x = body.copy()
    for k in range(16, -1, -1):           # 17 digit positions (fixed loop, not per row)
        dg[:, k] = x % 10
        x //= 10
    check = ID_CHECK[(dg * ID_WEIGHTS).sum(axis=1) % 11]
    return join(digits(body, 17), pa.array(check))


def phones(rng: np.random.Generator, n: int) -> pa.Array:
    return join(_take(PHONE_PREFIX, rng.integers(0, len(PHONE_PREFIX), n)), digits(rng.integers(0, 10**8, n), 8))


def addresses(rng: np.random.Generator, prov_idx: np.ndarray, local_city: str | None = None) -> pa.Array:
    n = len(prov_idx)
    prov = _take([p[0] for p in PROVINCES], prov_idx)
    city = _take(CITIES, rng.integers(0, len(CITIES), n))
    if local_city:
        city = pc.if_else(pa.array(rng.random(n) < 0.8), pa.scalar(local_city), city)
    return join(prov, city, _take(DISTRICTS, rng.integers(0, len(DISTRICTS), n)),
                _take(STREETS, rng.integers(0, len(STREETS), n)), digits(rng.integers(1, 300, n), 1), "号",
                digits(rng.integers(1, 30, n), 1), "幢", digits(rng.integers(101, 2600, n), 3), "室")


def postcodes(rng: np.random.Generator, prov_idx: np.ndarray) -> pa.Array:
    base = np.array([31, 21, 23, 33, 35, 20, 41, 45, 61, 25])[prov_idx]
    return digits(base * 10000 + rng.integers(0, 100, len(prov_idx)) * 100, 6)


def splitmix64(x: np.ndarray) -> np.ndarray:
    z = (x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15))
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
