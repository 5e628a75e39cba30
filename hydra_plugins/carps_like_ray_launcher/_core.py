"""Run each Hydra job as a Ray task (structure of hydra_joblib_launcher's _core.py)."""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Dict, Sequence

from hydra.core.hydra_config import HydraConfig
from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, configure_log, filter_overrides, run_job, setup_globals
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, open_dict

log = logging.getLogger(__name__)


def execute_job(idx: int, overrides: Sequence[str], hydra_context: HydraContext, config: DictConfig,
                task_function: TaskFunction, singleton_state: Dict[Any, Any]) -> JobReturn:
    """Runs in a Ray worker: rebuild Hydra's state there, then run the job as Hydra would."""
    setup_globals()
    Singleton.set_state(singleton_state)
    # relative paths (out=runs) mean the driver's directory; a worker of a running cluster starts
    # elsewhere, so move there when that directory exists on the worker (a shared filesystem)
    cwd = str(config.hydra.runtime.cwd)
    if os.path.isdir(cwd):
        os.chdir(cwd)
    sweep_config = hydra_context.config_loader.load_sweep_config(config, list(overrides))
    with open_dict(sweep_config):
        sweep_config.hydra.job.id = f"{sweep_config.hydra.job.name}_{idx}"
        sweep_config.hydra.job.num = idx
    HydraConfig.instance().set_config(sweep_config)
    return run_job(hydra_context=hydra_context, config=sweep_config, task_function=task_function,
                   job_dir_key="hydra.sweep.dir", job_subdir_key="hydra.sweep.subdir")


def init_ray(cfg: dict) -> None:
    """Start a local Ray (address None) or join a cluster, once per process."""
    import ray

    if ray.is_initialized():
        return
    kwargs = dict(cfg.get("init") or {})
    if cfg.get("address"):
        kwargs["address"] = cfg["address"]
        if cfg.get("num_cpus") is not None:
            log.warning("hydra.launcher.num_cpus is ignored when joining the cluster at %s", cfg["address"])
    else:  # "local": a new Ray, even where `ray start` or RAY_ADDRESS points at a running one
        kwargs["address"] = "local"
        if cfg.get("num_cpus") is not None:
            kwargs["num_cpus"] = int(cfg["num_cpus"])
    ray.init(**kwargs)


def launch(launcher, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
    """Submit every job as a Ray task and return the JobReturns in the order of job_overrides."""
    import ray

    setup_globals()
    assert launcher.config is not None and launcher.task_function is not None and launcher.hydra_context is not None
    configure_log(launcher.config.hydra.hydra_logging, launcher.config.hydra.verbose)
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)

    cfg = launcher.ray
    init_ray(cfg)
    options = {k: v for k, v in (cfg.get("remote") or {}).items() if v is not None}
    env = {k: os.environ[k] for k in cfg.get("env_vars") or () if k in os.environ}
    if env:  # set when each worker process starts (PYTHONHASHSEED only counts then)
        runtime_env = dict(options.get("runtime_env") or {})
        runtime_env["env_vars"] = {**env, **(runtime_env.get("env_vars") or {})}
        options["runtime_env"] = runtime_env
    remote = ray.remote(execute_job).options(**options)

    log.info("Ray is launching %d jobs, sweep output dir: %s", len(job_overrides), sweep_dir)
    # shared arguments go to the object store once, not once per job
    shared = [ray.put(x) for x in (launcher.hydra_context, launcher.config, launcher.task_function, Singleton.get_state())]
    refs = []
    for idx, overrides in enumerate(job_overrides):
        log.info("\t#%d : %s", initial_job_idx + idx, " ".join(filter_overrides(overrides)))
        refs.append(remote.remote(initial_job_idx + idx, list(overrides), *shared))
    runs = ray.get(refs)
    assert all(isinstance(r, JobReturn) for r in runs)
    return runs
