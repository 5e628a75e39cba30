"""carps-like's joblib launcher (`hydra/launcher=joblib`): Hydra's, except that a worker process
that dies ends the launch with exit status WORKER_DIED instead of a traceback (joblib_launcher.py)."""
