"""Runs and trials out of the queue database, in the shapes `analysis.gather` reads from run
directories: one run row per cell, the trial rows of its final attempt (earlier attempts, left by
workers that died or were stopped, stay in the database, superseded)."""
from __future__ import annotations

import json

import sqlalchemy as sa

from .db import cells, display_url, make_engine, trials

_STATUS = {"complete": "complete", "failed": "failed", "running": "incomplete", "pending": "incomplete"}


def read_queue(url: str, study: str | None = None) -> tuple[list[dict], list[tuple[dict, list[dict]]]]:
    """(run rows, [(run meta, trial rows)]) for every cell of `url` (or of one study)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            q = sa.select(cells).order_by(cells.c.id)
            if study is not None:
                q = q.where(cells.c.study == study)
            cell_rows = conn.execute(q).all()
            t = sa.select(trials.c.cell_id, trials.c.attempt, trials.c.row).order_by(trials.c.cell_id, trials.c.trial)
            by_cell: dict[int, list[dict]] = {}
            for cell_id, attempt, row in conn.execute(t):
                by_cell.setdefault((cell_id, attempt), []).append(json.loads(row))
    finally:
        engine.dispose()
    source = display_url(url)
    out = []
    for c in cell_rows:
        task_cfg = json.loads(c.task_config)
        meta = json.loads(c.meta) if c.meta else {}
        meta.update({"study": c.study, "optimizer_id": c.optimizer_id, "task_id": c.task_id, "seed": c.seed})
        meta.setdefault("task_type", (task_cfg.get("metadata") or {}).get("type"))
        meta.setdefault("task_metadata", task_cfg.get("metadata") or {})
        meta.setdefault("budget", task_cfg.get("budget") or {})
        meta.setdefault("optimizer_config", json.loads(c.optimizer_config))
        summary = json.loads(c.summary) if c.summary else {}
        meta.update({k: summary.get(k) for k in ("stop_reason", "error") if k in summary})
        meta["status"] = c.status
        meta["finished"] = c.finished_at
        meta["queue_status"] = _STATUS.get(c.status, "corrupt")
        meta["run_key"] = f"{source}#{c.study}/{c.optimizer_id}/{c.task_id}/seed_{c.seed}"
        meta["queue_attempt"] = c.attempt
        meta["reason"] = {"pending": "queued, not started", "running": f"running on {c.worker}"}.get(c.status, "")
        out.append((meta, by_cell.get((c.id, c.attempt), [])))
    return [m for m, _ in out], out
