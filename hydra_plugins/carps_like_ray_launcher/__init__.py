"""carps-like's Hydra launcher for Ray (`hydra/launcher=ray`).

hydra-ray-launcher cannot be installed next to joblib 1.6 and dask (it pins cloudpickle<3), so
this small plugin drives Ray directly. `hydra_plugins` itself has no __init__.py: it is a
namespace package, so Hydra's plugin discovery finds this next to the installed plugins.
"""
import warnings


def quiet_launcher_schema_warning() -> None:
    """configs/hydra/launcher/{joblib,submitit_local,submitit_slurm,ray}.yaml share their names
    with the plugins' structured configs, so Hydra validates each against that schema (wanted:
    typed overrides) and warns, in every process that composes, that this is deprecated. Hydra
    1.3.8 is pinned and still supports it, so the warning is noise; drop only that one."""
    warnings.filterwarnings(
        "ignore", category=UserWarning,
        message=r"\s*'hydra/launcher/(joblib|submitit_local|submitit_slurm|ray)' is validated against ConfigStore schema")


# job processes (joblib/submitit workers, Ray tasks) import this package when they unpickle
# Hydra's plugin state; the driver gets the filter from search_path.py (imports made during
# plugin discovery run inside warnings.catch_warnings, which would undo it)
quiet_launcher_schema_warning()
