"""The lifecycle every server of ours shares: start, stop and status, and what they say.

A Service (service.py) says what differs between the MLflow tracking server and the local S3
server; the rest is one flow. `start`: the pid file's verdict (processes.check), then reuse or
refusal, the checks before a launch, the launch and its identity record, the wait until it
answers (Ctrl-C stops what it launched). `stop`: signals only a process group proven ours.
`status`: whether ours runs and answers.
"""

from __future__ import annotations

from homework.interrupts import ctrl_c_held_back

import time

import psutil

from services import processes
from services.processes import (
    ELSEWHERE,
    NONE,
    NOT_OURS,
    ORPHANS,
    OTHER_PORT,
    OURS,
    STALE,
    Check,
)
from services.service import ServerError, Service, port_in_use

WAIT = 0.5  # seconds between two "does it answer yet?"


def check(service: Service) -> Check:
    return processes.check(service.pid_file, service.folder, service.port)


def forget(service: Service, found: Check) -> None:
    """Say what the pid file held that is not a server of ours, then remove it."""
    path, reason = service.pid_file, found.reason
    messages = {
        STALE: f"Removing stale pid file {path}: {reason}.",
        NOT_OURS: f"{reason}: left running. Removing the stale pid file {path}.",
        ELSEWHERE: f"{reason}: left alone. Removing {path}, a copy of that folder's record.",
    }
    unreadable = f"{reason}: nothing signalled. Removing the stale pid file {path}."
    service.say(messages.get(found.verdict, unreadable))
    if found.record:
        processes.remove_record(path, found.record)
    else:
        path.unlink(missing_ok=True)


def other_port(service: Service, found: Check, action: str) -> ServerError:
    record = found.record
    assert record is not None
    fix = f"`{service.stop_target} {service.port_variable}={record.port}`"
    return ServerError(
        f"the {service.name} started from here (pid {record.pid}) serves port {record.port}, "
        f"not {service.port}: {action} {fix}."
    )


def stop_recorded(service: Service, record: processes.Record) -> None:
    with ctrl_c_held_back():
        processes.stop_group(record.pid)
        processes.remove_record(service.pid_file, record)
    service.stopped(record)


def start(service: Service) -> None:
    """Start the server unless ours runs already; ServerError says why it cannot."""
    for path in (service.pid_file, service.log):
        path.parent.mkdir(parents=True, exist_ok=True)
    folder = service.pid_file.parent.resolve()
    waiting = f"Another start of a server is under way in {folder}; waiting for it ..."
    with processes.one_at_a_time(folder, lambda: service.say(waiting)):
        found = check(service)
        if found.verdict == OURS:
            assert found.record is not None
            service.reuse(found.record)
            return
        if found.verdict == OTHER_PORT:
            raise other_port(service, found, "stop it first with")
        if found.verdict == ORPHANS:
            assert found.record is not None
            pids = " ".join(map(str, found.orphans))
            service.say(
                f"The {service.name}'s main process (pid {found.record.pid}) is gone but its "
                f"workers still run (pids {pids}): stopping them."
            )
            stop_recorded(service, found.record)
        elif found.verdict != NONE:
            forget(service, found)
        service.prepare()
        if port_in_use(service.host, service.port):
            example = f"`{service.start_target} {service.port_variable}={service.other_port}`"
            raise ServerError(
                f"port {service.port} on {service.host} is taken by another program: pick "
                f"another, e.g. {example}."
            )
        record = None
        try:
            with ctrl_c_held_back():  # nothing runs unrecorded
                record = launch(service)
            service.announce(record.pid)
            wait_until_ready(service, record)
        except KeyboardInterrupt:
            if record:
                stop_recorded(service, record)
                service.say(
                    f"Interrupted: stopped the {service.name} it was starting (pid {record.pid})."
                )
            raise
    service.started()


def launch(service: Service) -> processes.Record:
    """Launch the server and write its identity record."""
    command = service.command()
    pid = processes.launch(command, service.log, service.environment(), service.cwd())
    try:
        record = processes.identify(pid, service.folder, service.port, command[1:])
    except psutil.NoSuchProcess:
        raise exited(service) from None
    if not processes.write_record(service.pid_file, record):
        processes.stop_group(pid)  # ours: launched just now
        raise ServerError(
            f"another `{service.start_target}` started at the same time and recorded its "
            f"server in {service.pid_file} first: this one stopped its own; "
            f"`{service.start_target}` again says which runs."
        )
    return record


def exited(service: Service) -> ServerError:
    message = f"the {service.name} exited during start-up; last lines of {service.log}:"
    return ServerError(message, service.log_tail())


def wait_until_ready(service: Service, record: processes.Record) -> None:
    """Return once the server answers; ServerError if it exits or stays silent too long."""
    deadline = time.monotonic() + service.timeout
    while not (service.ready() and processes.running(record.pid)):
        if not processes.running(record.pid):
            processes.remove_record(service.pid_file, record)
            raise exited(service)
        if time.monotonic() > deadline:
            details = service.log_tail()
            stop(service)
            raise ServerError(f"{service.timeout_message()}; last lines of {service.log}:", details)
        time.sleep(WAIT)


def wait_for_starting(service: Service, record: processes.Record) -> None:
    """Ours, started moments ago by another start, does not answer yet: wait for it."""
    if service.ready() or time.time() - record.create_time >= service.timeout:
        return
    service.say(f"The {service.name} (pid {record.pid}) is starting; waiting for {service.url} ...")
    deadline = time.monotonic() + service.timeout
    while not service.ready() and processes.running(record.pid) and time.monotonic() < deadline:
        time.sleep(WAIT)


def stop(service: Service) -> None:
    """Stop the server of the pid file if it is ours (workers included); nothing else."""
    found = check(service)
    record = found.record
    if found.verdict == OTHER_PORT:
        raise other_port(service, found, "left running; stop it with")
    if found.verdict in (OURS, ORPHANS):
        assert record is not None
        if found.verdict == ORPHANS:
            pids = " ".join(map(str, found.orphans))
            service.say(
                f"The {service.name}'s main process (pid {record.pid}) is gone; stopping its "
                f"workers (pids {pids})."
            )
        stop_recorded(service, record)
        service.say(f"{service.name} (pid {record.pid}) stopped.")
        return
    if found.verdict != NONE:
        forget(service, found)
    service.say(f"No {service.name} started from here is running.")


def status(service: Service) -> bool:
    """Print whether ours runs and answers; True if it does."""
    found = check(service)
    if found.verdict == OURS and found.record and service.ready():
        print(service.running_line(found.record.pid))
        return True
    print("not running")
    return False
