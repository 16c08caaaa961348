"""The vocabulary the layers meet in, below the engine: what goes into the engine and comes out
(`model`: events, touches, state events), instants and local time (`localtime`), field values
(`values`), limit rules (`limits`), reasons (`reasons`) and the shard of an account (`shards`).

It imports nothing of the project but the leaf helpers (i18n, words), so `data/` (files →
events), `adapters/` (platform quotas, callbacks → events), the compiler (the default
timezone) and the engine use the same types without importing each other (docs/architecture.md).
"""
