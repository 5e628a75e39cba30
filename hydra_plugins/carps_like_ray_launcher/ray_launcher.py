"""The Launcher class Hydra instantiates; Ray itself is imported only when jobs are launched."""
from __future__ import annotations

from typing import Any, Optional, Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

from .config import RayLauncherConf


class RayLauncher(Launcher):
    def __init__(self, **kwargs: Any) -> None:
        # Hydra 1.3 validates configs/hydra/launcher/ray.yaml against the schema of the same name;
        # merging again here keeps the types if that deprecated matching goes
        merged = OmegaConf.merge(OmegaConf.structured(RayLauncherConf), kwargs)
        self.ray: dict = OmegaConf.to_container(merged, resolve=True)
        self.ray.pop("_target_", None)
        self.config: Optional[DictConfig] = None
        self.task_function: Optional[TaskFunction] = None
        self.hydra_context: Optional[HydraContext] = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.task_function = task_function
        self.hydra_context = hydra_context

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from . import _core

        return _core.launch(launcher=self, job_overrides=job_overrides, initial_job_idx=initial_job_idx)
