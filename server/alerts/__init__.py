"""The early-warning engine: pure rules over a snapshot of the hall (rules/), the snapshot itself
(snapshot.py, loader.py), and the engine that turns conditions into stored, announced alerts."""
