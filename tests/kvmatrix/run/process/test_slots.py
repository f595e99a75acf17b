"""A cell's run slots (kvmatrix.run.process.slots): never more holders than slots, and a freed slot goes to the
waiting run that ranks first, so the long first runs of every environment start before any re-run."""

from __future__ import annotations

import threading
import time

from kvmatrix.run.process.slots import FIRST_RUN, RERUN, RunSlots, priority


def test_a_first_run_of_more_suite_files_ranks_before_a_smaller_one_and_every_first_run_before_a_rerun() -> None:
    whole = priority(FIRST_RUN, None)
    core = priority(FIRST_RUN, ["suites/test_export.py", "suites/test_compile.py"])
    client = priority(FIRST_RUN, ["suites/test_tico.py"])
    rerun = priority(RERUN, [f"suites/test_export.py::test_{n}" for n in range(50)])
    assert sorted([rerun, client, core, whole]) == [whole, core, client, rerun]


def test_no_more_holders_than_slots_run_at_once() -> None:
    slots, lock = RunSlots(2), threading.Lock()
    running, most = [0], [0]

    def hold() -> None:
        with slots.hold(priority(FIRST_RUN, None)):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.05)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=hold) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most[0] == 2


def test_a_freed_slot_goes_to_the_waiting_first_run_before_an_earlier_waiting_rerun() -> None:
    slots, order = RunSlots(1), []
    release, holding = threading.Event(), threading.Event()

    def blocker() -> None:
        with slots.hold(priority(FIRST_RUN, None)):
            holding.set()
            release.wait()

    def waiter(name: str, rank: tuple[int, int]) -> None:
        with slots.hold(rank):
            order.append(name)

    first = threading.Thread(target=blocker)
    first.start()
    holding.wait()
    rerun = threading.Thread(target=waiter, args=("rerun", priority(RERUN, ["suites/test_a.py::test_x"])))
    rerun.start()
    while not slots.waiting():  # the re-run is queued before the first run asks
        time.sleep(0.01)
    later_first = threading.Thread(target=waiter, args=("first run", priority(FIRST_RUN, ["suites/test_a.py"])))
    later_first.start()
    while slots.waiting() < 2:
        time.sleep(0.01)
    release.set()
    for thread in (first, rerun, later_first):
        thread.join()
    assert order == ["first run", "rerun"]
