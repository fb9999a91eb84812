"""kiln's native trainer: model, MDS data, train loop, checkpoints, export.

Kept import-free so `python -m kiln_trainer.<module>` loads only what that module needs.
"""
