"""Queueing: the pure rules of tickets and counters (machine, estimates, numbering) and the
service functions that apply them to the database (:mod:`server.queueing.service`)."""
