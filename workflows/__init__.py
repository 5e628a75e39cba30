"""Workflows: commands that launch things (studies, the conformance suite, git) around the analysis.

    python -m workflows.compare OPT            # make compare: conformance, dev-subset runs, report vs the baselines
    python -m workflows.subsets tasksets|run|collect   # make subset-data: the full-set runs and their data
    python -m workflows.baselines run|collect|check    # make baselines: reference runs on the subsets
    python -m workflows.changed_optimizers BASE        # make changed-optimizers: configs a change touches (git)

`analysis/` stays pure data -> tables / figures / tasksets; it never imports this package
(tests/test_analysis_boundary.py enforces that).
"""
