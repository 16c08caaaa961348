"""The daemon's side of the engine: the store (schema, migrations), and later the scheduler,
event intake and dispatch. Nothing in `engine/` imports from here."""
