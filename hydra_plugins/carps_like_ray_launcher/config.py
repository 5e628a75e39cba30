"""Structured config of the Ray launcher, registered as hydra/launcher=ray."""
# no `from __future__ import annotations`: Hydra execs plugin modules outside sys.modules, where
# dataclasses cannot resolve string annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore


@dataclass
class RayLauncherConf:
    _target_: str = "hydra_plugins.carps_like_ray_launcher.ray_launcher.RayLauncher"
    # None: start a local Ray; "auto", "host:port" or "ray://host:port": join a running cluster
    address: Optional[str] = None
    # CPUs of the local Ray (None: all cores); ignored when joining a cluster
    num_cpus: Optional[int] = None
    # options of each run's Ray task (ray.remote(...).options); a dict, so that any other option
    # (num_gpus, resources, runtime_env, ...) can be added with +hydra.launcher.remote.<name>=...
    remote: Dict[str, Any] = field(default_factory=lambda: {
        "num_cpus": 1,  # one run = one core
        "memory": None,  # bytes reserved per run; None: no reservation
        "max_retries": 0,  # a lost run is restarted by running the study again, not by Ray
    })
    # driver environment variables set in every run's worker (reproducibility, one thread per run)
    env_vars: List[str] = field(default_factory=lambda: ["PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS"])
    # extra ray.init() keyword arguments
    init: Dict[str, Any] = field(default_factory=lambda: {"include_dashboard": False, "log_to_driver": True})


ConfigStore.instance().store(group="hydra/launcher", name="ray", node=RayLauncherConf, provider="carps_like_ray_launcher")
