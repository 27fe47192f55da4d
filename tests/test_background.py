"""homework/background.py: one job at a time in the background, its failure the caller's."""

from __future__ import annotations

import threading
import time

import pytest

from homework.background import Background


def test_jobs_run_one_at_a_time_in_order_while_the_caller_goes_on() -> None:
    done: list[int] = []
    started = {1: threading.Event(), 2: threading.Event()}
    release = {1: threading.Event(), 2: threading.Event()}

    def job(number: int) -> None:
        started[number].set()
        release[number].wait(5)
        done.append(number)

    background = Background()
    background.submit(job, 1)
    assert started[1].wait(5) and done == []  # the caller goes on while job 1 runs
    release[1].set()
    background.submit(job, 2)  # waits for job 1 first
    assert done == [1] and started[2].wait(5)
    release[2].set()
    background.wait()
    assert done == [1, 2]


def test_a_failed_job_is_raised_in_the_caller_and_no_job_runs_after_it() -> None:
    ran: list[str] = []

    def fails() -> None:
        raise ConnectionError("the tracking server went away")

    background = Background()
    background.submit(fails)
    with pytest.raises(ConnectionError, match="went away"):
        background.submit(ran.append, "after")
    assert ran == []
    background.wait()  # raised once: nothing left


def test_check_raises_a_failure_as_soon_as_it_is_known() -> None:
    def fails() -> None:
        raise OSError("disk full")

    background = Background()
    background.check()  # nothing in the background: nothing to raise
    background.submit(fails)
    deadline = time.monotonic() + 5
    while background.thread is not None and background.thread.is_alive():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with pytest.raises(OSError, match="disk full"):
        background.check()


def test_the_thread_never_keeps_the_process_alive() -> None:
    background = Background()
    background.submit(time.sleep, 0.2)
    assert background.thread is not None and background.thread.daemon
    background.wait()
