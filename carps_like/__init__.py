"""carps-like: benchmark hyperparameter optimizers on tasks of four types (see README.md)."""
from .task_query import find_tasks

__all__ = ["find_tasks"]
