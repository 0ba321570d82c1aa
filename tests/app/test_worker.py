"""The bounded inference queue: slots and waiting places, refusal when full, timeouts, arrival order."""

import asyncio
import threading

import pytest

from ..conftest import require_module

require_module("fastapi")
from cocosnet.app.worker import InferenceQueue, QueueFull, QueueTimeout  # noqa: E402


async def until(condition, seconds: float = 20.0) -> None:
    """Let the event loop run until `condition()` holds (worker threads are slow on a busy machine)."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def test_slots_and_waiting_places_are_checked():
    with pytest.raises(ValueError, match="slots >= 1 and waiting >= 0, got 0 and 4"):
        InferenceQueue(slots=0)
    with pytest.raises(ValueError, match="got 1 and -1"):
        InferenceQueue(waiting=-1)
    assert InferenceQueue(slots=2, waiting=3).capacity == 5


def test_a_job_runs_on_a_worker_thread_and_is_counted():
    queue = InferenceQueue(slots=1, waiting=0, timeout=30)
    name = asyncio.run(queue.run(lambda: threading.current_thread().name))
    assert name.startswith("cocosnet-infer")
    assert queue.stats() == {"slots": 1, "waiting_places": 0, "pending": 0, "completed": 1, "rejected": 0,
                             "timed_out": 0}
    queue.shutdown()


def test_each_slot_runs_on_its_share_of_the_threads():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(4)
    try:
        for slots, share in ((1, 4), (2, 2), (3, 1), (8, 1)):
            queue = InferenceQueue(slots=slots, waiting=0, timeout=30)
            assert asyncio.run(queue.run(torch.get_num_threads)) == share == queue.threads_per_slot
            queue.shutdown()
        assert torch.get_num_threads() == 4  # the server's own thread keeps its count
    finally:
        torch.set_num_threads(before)


def test_a_full_queue_refuses_at_once_with_a_retry_after():
    queue = InferenceQueue(slots=1, waiting=1, timeout=30)
    gate = threading.Event()

    async def main():
        running = asyncio.create_task(queue.run(lambda: gate.wait(30) and "ran"))
        waiting = asyncio.create_task(queue.run(lambda: "waited"))
        await until(lambda: queue.pending == 2)
        with pytest.raises(QueueFull, match="busy") as refused:
            await queue.run(lambda: "never")
        assert refused.value.retry_after >= 1 and f"retry in {refused.value.retry_after} s" in str(refused.value)
        gate.set()
        return await asyncio.gather(running, waiting)

    assert asyncio.run(main()) == ["ran", "waited"]
    assert (queue.completed, queue.rejected, queue.pending) == (2, 1, 0)
    queue.shutdown()


def test_retry_after_is_the_queue_ahead_times_the_median_run():
    queue = InferenceQueue(slots=2, waiting=8)
    assert queue.retry_after() == 1  # no run measured yet: 1 s per job, at least 1 s
    queue._durations.extend([1.0, 3.0, 2.5])  # median 2.5 s
    queue._pending = 5
    assert queue.retry_after() == 7  # ceil(2.5 * 5 / 2)
    queue.shutdown()


def test_a_timeout_drops_the_waiting_job_and_the_running_one_keeps_its_slot():
    queue = InferenceQueue(slots=1, waiting=1, timeout=1.0)
    gate, started, ran = threading.Event(), threading.Event(), []

    def job(name):
        started.set()
        ran.append(name)
        gate.wait(30)
        return name

    async def main():
        running = asyncio.create_task(queue.run(job, "running"))
        await until(started.is_set)
        with pytest.raises(QueueTimeout, match="longer than 1 s"):
            await queue.run(job, "waiting")
        with pytest.raises(QueueTimeout):
            await running
        assert queue.pending == 1  # the dropped job freed its place; the running one still holds its slot
        gate.set()
        await until(lambda: queue.pending == 0)

    asyncio.run(main())
    assert ran == ["running"] and queue.timed_out == 2 and queue.completed == 0
    queue.shutdown()


def test_a_request_that_goes_away_drops_its_waiting_job():
    queue = InferenceQueue(slots=1, waiting=2, timeout=30)
    gate, ran = threading.Event(), []

    async def main():
        running = asyncio.create_task(queue.run(lambda: gate.wait(30) and ran.append("running")))
        gone = asyncio.create_task(queue.run(ran.append, "gone"))
        await until(lambda: queue.pending == 2)
        gone.cancel()  # the client disconnected
        await until(lambda: queue.pending == 1)
        gate.set()
        await running

    asyncio.run(main())
    assert ran == ["running"] and queue.pending == 0
    queue.shutdown()


def test_jobs_run_in_arrival_order():
    queue = InferenceQueue(slots=1, waiting=5, timeout=30)
    gate, order = threading.Event(), []

    def job(i):
        if i == 0:
            gate.wait(30)
        order.append(i)
        return i

    async def main():
        tasks = []
        for i in range(6):
            tasks.append(asyncio.create_task(queue.run(job, i)))
            await until(lambda n=i + 1: queue.pending == n)
        gate.set()
        return await asyncio.gather(*tasks)

    assert asyncio.run(main()) == list(range(6))
    assert order == list(range(6))
    queue.shutdown()


def test_a_shut_down_queue_refuses_and_holds_no_place():
    queue = InferenceQueue()
    queue.shutdown()
    with pytest.raises(RuntimeError):
        asyncio.run(queue.run(lambda: None))
    assert queue.pending == 0


def test_light_work_takes_a_place_but_not_a_slot():
    queue = InferenceQueue(slots=1, waiting=1, timeout=30)
    gate = threading.Event()

    async def main():
        running = asyncio.create_task(queue.run(lambda: gate.wait(30) and "ran"))
        await until(lambda: queue.pending == 1)
        light = await queue.run(lambda: threading.current_thread().name, slot=False)  # the slot is busy
        assert light.startswith("cocosnet-light")
        held = asyncio.create_task(queue.run(lambda: gate.wait(30) and "light", slot=False))
        await until(lambda: queue.pending == 2)
        with pytest.raises(QueueFull):  # the light job holds the last place
            await queue.run(lambda: "never", slot=False)
        gate.set()
        return await asyncio.gather(running, held)

    assert asyncio.run(main()) == ["ran", "light"]
    assert (queue.completed, queue.rejected, queue.pending) == (3, 1, 0)
    queue.shutdown()
