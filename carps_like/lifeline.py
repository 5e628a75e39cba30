"""A launch ends itself and its process group when the study that started it is gone.

The study front end (carps_like.study) starts each launch in a process group of its own, so that it
can stop all of a launch's processes (joblib's workers included) on an interrupt. That handling runs
in the study; when the study itself is killed outright (SIGKILL, the out-of-memory killer), nothing
stopped its launches: they went on running and writing runs, holding the runs' locks, with no study
to report them. Each launch therefore watches its parent: the study passes its pid in
`STUDY_PID_VARIABLE`, and once the launch's parent is another process (the study died and the launch
was re-parented), the launch sends SIGTERM to its own process group. Runs it interrupts keep their
recorded trials and resume on the next `make run` (carps_like.store). Without the variable (a launch
started by hand, or under nohup) nothing is watched.
"""
from __future__ import annotations

import os
import signal
import threading
import time

STUDY_PID_VARIABLE = "CARPS_LIKE_STUDY_PID"
POLL_SECONDS = 0.5


def _watch(study_pid: int) -> None:
    while os.getppid() == study_pid:
        time.sleep(POLL_SECONDS)
    os.killpg(os.getpgrp(), signal.SIGTERM)


def watch_study() -> bool:
    """Start the watcher (a daemon thread) when a study started this process; True when it did."""
    try:
        study_pid = int(os.environ.pop(STUDY_PID_VARIABLE, ""))
    except ValueError:
        return False
    if os.getpgrp() != os.getpid():  # a launch leads a process group of its own; anything else is not one
        return False
    threading.Thread(target=_watch, args=(study_pid,), name="carps-like-lifeline", daemon=True).start()
    return True
