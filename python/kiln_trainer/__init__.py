"""kiln's trainer: the Llama model, the MDS data reader and its provenance, the train loop (DDP or
FSDP under torchrun), checkpoints, loss-spike detection, MFU and the stdout event protocol. The
GPU worker's gang node runs `python -m kiln_trainer.train` (activities/train), `kiln explain-step`
runs kiln_trainer.explain_step, and kiln_native imports its model, config and events; it never
imports kiln_native. Kept import-free so `python -m kiln_trainer.<module>` loads only what that
module needs.
"""
