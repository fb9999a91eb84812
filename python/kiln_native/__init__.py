"""kiln's native tools: one command-line module per job the TypeScript activities hand to Python,
each speaking kiln_trainer.events' stdout protocol. Data: tokenizer_train (BPE) and shard (MDS
shards with provenance), reading inputs through native_io. Eval: generate (HumanEval samples) and
sandbox (runs them; sandbox_child is its stdlib-only guard). Serving: export (a checkpoint to a
Hugging Face folder) and serve (an OpenAI-style completions server). The activities run
`python -m kiln_native.<tool>` (lib/pythonTool.ts, activities/deploy.ts, activities/eval/sandbox.ts).
These modules may import kiln_trainer (model, config, events), never the other way round. Kept
import-free so `python -m kiln_native.<module>` loads only what that module needs.
"""
