"""A kiosk writing drafts and submissions as fast as it can, until it is killed.

Run by tests/test_crash_durability.py. It reports on stdout only what has been committed:
``{"draft": id, "answers": {...}}`` after a draft is saved, ``{"done": id}`` after a
submission is saved. The test kills it at random moments and checks the database.
"""

from __future__ import annotations

import json
import random
import sys

from store import KioskStore
from surveys.session import FormSession
from tests.gated import gated_one


def main() -> None:
    database, seed = sys.argv[1], int(sys.argv[2])
    store = KioskStore(database)
    form = store.load_form("test1")
    rng = random.Random(seed)
    print(json.dumps({"ready": True}), flush=True)
    while True:
        session = FormSession(form, "zh", kiosk="crash-test")
        steps = [
            ("age", rng.randint(11, 100)),
            ("ok", rng.choice(["yes", "no"])),
            ("imp", rng.choice([["park"], ["park", "other"]])),
            ("imp_other", "加装电梯"),
            ("nm", "测试居民"),
            ("d", f"2026-01-{rng.randint(1, 28):02d}"),
        ]
        for name, value in steps:
            if not session.is_relevant(name):
                continue
            problems = session.answer(name, value)
            assert not problems, problems
            store.save_draft(session)
            print(json.dumps({"draft": session.instance_id,
                              "answers": session.snapshot()["answers"]}), flush=True)
        store.save_submission(gated_one(store, session.finish()))
        print(json.dumps({"done": session.instance_id}), flush=True)


if __name__ == "__main__":
    main()
