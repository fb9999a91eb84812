"""Token counts of kiln's tokenizer, per language, for scripts/tokenizer-report.ts.

    python scripts/tokenizer-report.py <tokenizer.json> <docs.jsonl>   ({"lang": s, "text": s} per line)

Prints {"<lang>": tokens, ...}. Text is encoded as the shard stage encodes it: no special tokens
added, and text that looks like a special token is split as ordinary text.
"""

import json
import sys

from tokenizers import Tokenizer


def main(tokenizer_path: str, docs_path: str) -> None:
    tokenizer = Tokenizer.from_file(tokenizer_path)
    tokenizer.encode_special_tokens = True
    with open(docs_path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    counts: dict = {}
    for doc, enc in zip(docs, tokenizer.encode_batch([d["text"] for d in docs], add_special_tokens=False)):
        counts[doc["lang"]] = counts.get(doc["lang"], 0) + len(enc.ids)
    print(json.dumps(counts))


if __name__ == "__main__":
    main(*sys.argv[1:3])
