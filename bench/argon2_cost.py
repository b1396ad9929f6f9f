"""How long one argon2id hash takes for staff passwords and for card passwords.

Hashes with the parameters the application uses (``accounts.hashers`` and
``accounts.card_passwords``) and OWASP's floor for comparison, ``--rounds``
times each after one warm-up, and prints min / median / max in milliseconds
with the parameters, the machine's CPU count and the command to reproduce.

    .venv/bin/python bench/argon2_cost.py
    .venv/bin/python bench/argon2_cost.py --rounds 50
"""

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")

import django  # noqa: E402

django.setup()

from argon2 import PasswordHasher, Type  # noqa: E402

from accounts import card_passwords  # noqa: E402
from accounts.hashers import StaffArgon2PasswordHasher  # noqa: E402

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1 (minimum).
OWASP_FLOOR = {"memory_kib": 19 * 1024, "time_cost": 2, "parallelism": 1}
# Its equivalent (memory KiB, passes) pairs; any one of them is the minimum.
OWASP_EQUIVALENTS = [(47104, 1), (19456, 2), (12288, 3), (9216, 4), (7168, 5)]


def meets_owasp(params: dict) -> bool:
    return any(
        params["memory_kib"] >= memory and params["time_cost"] >= passes
        for memory, passes in OWASP_EQUIVALENTS
    )


def measure(label: str, hash_once, rounds: int, params: dict) -> None:
    hash_once()  # warm-up: first allocation of the memory block
    timings = []
    for _ in range(rounds):
        started = time.perf_counter()
        hash_once()
        timings.append((time.perf_counter() - started) * 1000)
    print(
        f"{label:<28} m={params['memory_kib'] // 1024:>3} MiB t={params['time_cost']} "
        f"p={params['parallelism']}  min {min(timings):7.1f} ms  "
        f"median {statistics.median(timings):7.1f} ms  max {max(timings):7.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    staff = StaffArgon2PasswordHasher()
    staff_params = {
        "memory_kib": staff.memory_cost,
        "time_cost": staff.time_cost,
        "parallelism": staff.parallelism,
    }
    card_params = {
        "memory_kib": card_passwords.ARGON2_MEMORY_KIB,
        "time_cost": card_passwords.ARGON2_TIME_COST,
        "parallelism": card_passwords.ARGON2_PARALLELISM,
    }
    floor = PasswordHasher(
        time_cost=OWASP_FLOOR["time_cost"],
        memory_cost=OWASP_FLOOR["memory_kib"],
        parallelism=OWASP_FLOOR["parallelism"],
        type=Type.ID,
    )
    for name, params in (("staff", staff_params), ("card", card_params)):
        if not meets_owasp(params):
            print(f"WARNING: {name} parameters are below every OWASP configuration")

    print(
        f"argon2id hashing cost on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{args.rounds} rounds"
    )
    measure(
        "staff password (Django)",
        lambda: staff.encode("correct horse battery staple 42", staff.salt()),
        args.rounds,
        staff_params,
    )
    measure(
        "card password (peppered)",
        lambda: card_passwords.hash_card_password("480135"),
        args.rounds,
        card_params,
    )
    measure("OWASP floor (reference)", lambda: floor.hash("480135"), args.rounds, OWASP_FLOOR)
    print("reproduce:", shlex.join([".venv/bin/python", "bench/argon2_cost.py", *sys.argv[1:]]))


if __name__ == "__main__":
    main()
