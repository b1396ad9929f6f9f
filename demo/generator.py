"""The demo book's people, numbers and loans, generated from a seed.

``generate_demo_book(seed=..., customers=...)`` yields the same customers for the
same seed and day, with their full card numbers, national ids and settlement
accounts; nothing here touches the database (``demo.book`` writes them, masked).
"""

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

from debits.amortisation import add_months

# fmt: off
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN_NAMES = (
    "伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟",
    "涛", "明", "超", "秀兰", "霞", "平", "刚", "桂英", "建华", "文", "华", "金凤", "志强",
    "海燕", "晓东", "欣怡", "子涵", "浩然", "宇轩", "梓萱", "思远", "嘉怡", "俊杰", "雨桐",
    "一鸣", "佳琪", "振国", "丽娟", "建国", "春梅", "晨", "鹏", "婷", "慧", "昊",
)
# Region codes (first six digits of a national id) of large cities.
REGIONS = (
    "110105", "110108", "310104", "310115", "440106", "440305", "330106", "320102",
    "510107", "420106", "610113", "500103", "120101", "370202", "210202", "350203",
)
MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "138", "139", "150", "151", "152",
                   "155", "157", "158", "159", "180", "182", "183", "186", "187", "188", "189")
VEHICLES = (
    "BYD Qin PLUS DM-i", "BYD Song PLUS", "BYD Han EV", "Tesla Model 3", "Tesla Model Y",
    "Geely Xingyue L", "Geely Emgrand", "Changan CS75 PLUS", "Haval H6", "Chery Tiggo 8",
    "Toyota Camry", "Toyota RAV4", "Honda Accord", "Honda CR-V", "Nissan Sylphy",
    "Volkswagen Lavida", "Volkswagen Magotan", "Buick GL8", "NIO ES6", "Li Auto L7",
    "XPeng P7", "Audi A4L", "BMW 3 Series", "Mercedes-Benz C-Class", "Wuling Hongguang",
)
TERMS = (12, 24, 36, 48, 60)
# Promotional car-loan rates cluster on a few round figures; few distinct
# (principal, rate, term) triples also let schedules be computed once and reused.
RATES = tuple(Decimal(r) for r in ("0.0250", "0.0299", "0.0350", "0.0399", "0.0450", "0.0499",
                                   "0.0550", "0.0599", "0.0650", "0.0699", "0.0750", "0.0800"))
CARD_BIN = "625368"  # a car-loan card range
SETTLEMENT_BIN = "621700"  # customers' debit-card accounts the mandates collect from
# fmt: on


@dataclass(frozen=True)
class DemoCustomer:
    """One customer of the demo book, with the full identifiers only the generator knows."""

    index: int
    full_name: str
    national_id: str
    birth_date: dt.date
    phone: str
    email: str
    card_number: str
    credit_limit: Decimal
    credential_version: int
    loan_reference: str
    vehicle: str
    principal: Decimal
    annual_rate: Decimal
    term_months: int
    start_date: dt.date
    mandate_reference: str
    settlement_account: str
    agreement_token: str
    password_change_days_ago: tuple[int, ...]


def luhn_complete(partial: str) -> str:
    total = 0
    for position, char in enumerate(reversed(partial)):
        digit = int(char)
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return partial + str((10 - total % 10) % 10)


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def national_id_number(region: str, birth: dt.date, serial: int) -> str:
    """GB 11643: region, birth date, serial, ISO 7064 MOD 11-2 check character."""
    body = f"{region}{birth:%Y%m%d}{serial:03d}"
    check = "10X98765432"[sum(int(d) * w for d, w in zip(body, _ID_WEIGHTS, strict=True)) % 11]
    return body + check


def unique_number(index: int, offset: int, digits: int) -> int:
    # An odd multiplier not divisible by 5 is coprime with 10**digits: distinct
    # indexes give distinct numbers without a set of all numbers so far.
    return (index * 7_919_317 + offset) % 10**digits


def generate_demo_book(*, seed: int, customers: int, today: dt.date) -> Iterator[DemoCustomer]:
    """The same customers, numbers and loans for the same seed and day."""
    rng = random.Random(seed)  # nosec B311 # seeded on purpose: reproducible demo data
    card_offset, account_offset = rng.randrange(10**9), rng.randrange(10**12)
    seen_ids: set[str] = set()
    for index in range(customers):
        full_name = rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES)
        birth_date = dt.date(rng.randint(1965, 2002), rng.randint(1, 12), rng.randint(1, 28))
        national_id = national_id_number(rng.choice(REGIONS), birth_date, rng.randrange(1000))
        while national_id in seen_ids:
            national_id = national_id_number(national_id[:6], birth_date, rng.randrange(1000))
        seen_ids.add(national_id)
        phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        email = f"c{index + 1:07d}@mail.example.cn" if rng.random() < 0.6 else ""

        term = rng.choice(TERMS)
        # Car prices are quoted in round thousands; loans in steps of 5,000 also keep
        # the distinct schedules (and the memory caching them) few.
        principal = Decimal(rng.randrange(10, 81) * 5000)
        # At least one instalment is still ahead, so every loan is live.
        months_in = rng.randrange(term - 1)
        start_date = add_months(
            dt.date(today.year, today.month, rng.randint(1, 28)), -(months_in + 1)
        )
        version = 1 if rng.random() < 0.85 else rng.randint(2, 4)
        days_held = max(2, (today - start_date).days)
        changes = tuple(
            sorted((rng.randint(1, days_held - 1) for _ in range(version - 1)), reverse=True)
        )
        mandate_reference = f"MD{index + 1:012d}"
        yield DemoCustomer(
            index=index,
            full_name=full_name,
            national_id=national_id,
            birth_date=birth_date,
            phone=phone,
            email=email,
            card_number=luhn_complete(f"{CARD_BIN}{unique_number(index, card_offset, 9):09d}"),
            credit_limit=principal + Decimal(rng.choice((20_000, 30_000, 50_000))),
            credential_version=version,
            loan_reference=f"LN{index + 1:010d}",
            vehicle=rng.choice(VEHICLES),
            principal=principal,
            annual_rate=rng.choice(RATES),
            term_months=term,
            start_date=start_date,
            mandate_reference=mandate_reference,
            settlement_account=luhn_complete(
                f"{SETTLEMENT_BIN}{unique_number(index, account_offset, 12):012d}"
            ),
            agreement_token=f"agr-{mandate_reference}-v{version}-{rng.getrandbits(64):016x}",
            password_change_days_ago=changes,
        )
