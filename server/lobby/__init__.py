"""The line between the lobby manager and the counters: instructions the manager sends to a counter
and the teller answers, and the complaints staff record. (Help requests, which move a counter, are
commands of server/queueing/counters.py; the manager answers them from the alert.)"""
