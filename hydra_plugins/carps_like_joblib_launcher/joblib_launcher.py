"""Hydra's joblib launcher, except for a worker process that dies (SIGKILL, the out-of-memory
killer): loky then kills the other workers and joblib raises TerminatedWorkerError, which Hydra
prints as a traceback. This launcher says it in one line and exits with WORKER_DIED instead; the
study front end (carps_like.study) then launches the runs left unfinished again."""
from __future__ import annotations

import re
import sys

from hydra_plugins.hydra_joblib_launcher.joblib_launcher import JoblibLauncher as HydraJoblibLauncher

WORKER_DIED = 3  # the exit status of a launch whose worker process died (carps_like.study.WORKER_DIED)


class JoblibLauncher(HydraJoblibLauncher):
    def launch(self, job_overrides, initial_job_idx):
        from joblib.externals.loky.process_executor import TerminatedWorkerError

        try:
            return super().launch(job_overrides, initial_job_idx)
        except TerminatedWorkerError as exc:
            codes = re.search(r"exit codes of the workers are (\{.*?\})", str(exc))
            print(f"error: a joblib worker process died (exit codes {codes.group(1) if codes else '?'}); "
                  f"the runs it left unfinished are incomplete", file=sys.stderr)
            raise SystemExit(WORKER_DIED) from None  # Hydra would print an Exception with its traceback
