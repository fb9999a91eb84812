"""Inputs shared by the native tools (tokenizer_train, shard, generate): Parquet files with a
`content` column, JSONL problems. The stdout protocol and its error path (run_tool) are in
kiln_trainer/events.py."""

import gzip
import json
from pathlib import Path

from kiln_trainer.events import FatalError

CONTENT_COLUMN = "content"


def sorted_inputs(paths) -> list:
    """Input files in a canonical order (the CLI's order must not change the result)."""
    files = sorted({str(Path(p)) for p in paths})
    for path in files:
        if not Path(path).is_file():
            raise FatalError(f"input file not found: {path}")
    return files


def open_parquet(path: str):
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as error:  # noqa: BLE001 - pyarrow raises several types for bad files
        raise FatalError(f"{path}: not a readable Parquet file ({error})") from None
    names = pf.schema_arrow.names
    if CONTENT_COLUMN not in names:
        raise FatalError(f"{path}: no `{CONTENT_COLUMN}` column (columns: {', '.join(names)})")
    kind = pf.schema_arrow.field(CONTENT_COLUMN).type
    if str(kind) not in ("string", "large_string"):
        raise FatalError(f"{path}: column `{CONTENT_COLUMN}` must be a string column, got {kind}")
    return pf


def read_jsonl(path: str) -> list:
    """Objects of a .jsonl or .jsonl.gz file (told apart by the gzip magic bytes)."""
    raw = Path(path).read_bytes() if Path(path).is_file() else None
    if raw is None:
        raise FatalError(f"file not found: {path}")
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise FatalError(f"{path}: not a readable gzip file ({error})") from None
    rows = []
    for number, line in enumerate(raw.decode("utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as error:
            raise FatalError(f"{path}: line {number} is not valid JSON ({error})") from None
        if not isinstance(value, dict):
            raise FatalError(f"{path}: line {number}: expected a JSON object")
        rows.append((number, value))
    return rows


def read_problems(path: str, limit=None) -> list:
    """HumanEval-format problems (task_id, prompt, ...), the first `limit` when given."""
    problems = []
    for number, row in read_jsonl(path):
        for field in ("task_id", "prompt"):
            if not isinstance(row.get(field), str):
                raise FatalError(f"{path}: line {number}: expected the field `{field}` to be a string")
        problems.append(row)
    if not problems:
        raise FatalError(f"{path}: no problems (the file is empty)")
    return problems[:limit] if limit else problems
