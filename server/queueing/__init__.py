"""Queueing: the pure rules of tickets and counters (machine, policy, estimate, numbering), the
commands that apply them to the database (tickets, counters; announce says who hears what), and the
reads behind what screens show (catalog, figures, reads)."""
