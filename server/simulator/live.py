"""The simulator driving a running server through its HTTP API, paced to the wall clock (make demo).

The same people as ``python -m server simulate`` (customers, tellers with habits, a lobby manager),
but every action is a request to the server: a kiosk token issues tickets, each teller logs in and
works a counter and answers the manager's instructions, the manager reads ``GET /alerts`` and
``GET /counters``, acknowledges, instructs and answers help requests, and the branch's manual clock
moves by ``POST /clock/advance`` at ``speed`` times real time. So kiosk, display, console and
dashboard pages opened on the server show a busy branch day, and its alerts, as they happen.
"""

from __future__ import annotations

import secrets
import sys
import time
from datetime import datetime, timedelta
from typing import Any

import requests

from server.accounts import add_device, save_staff
from server.actors import ANONYMOUS, Actor
from server.errors import NotFound
from server.runtime import Runtime
from server.simulator.manager import CounterSeen, Hall
from server.simulator.run import Result, Simulation, _mode
from server.simulator.world import Draws, World

COUNTER_PATHS = {
    "open": "open", "call_next": "call-next", "recall": "recall", "no_show": "no-show", "start": "start",
    "request_help": "request-help", "complete": "complete", "pause": "pause", "resume": "resume", "close": "close",
}


class LiveSimulation(Simulation):
    """``rt`` is the server's own runtime (for accounts, and to read its config); everything the
    people do goes over HTTP to ``base_url``."""

    records_complaints = False  # its customers stay silent: the in-process simulation records theirs

    def __init__(self, rt: Runtime, base_url: str, manager_token: str, *, seed: int = 1, speed: float = 30.0,
                 world: World | None = None, manager: bool = True, tick_s: float = 15.0) -> None:
        self.seed, self.policy, self.manager = seed, rt.config.queue.policy, _mode(manager)
        self.world = world or World(reserve_counters=0)
        self.draws = Draws(self.world, seed)
        self.progress = None
        self.tick_s = tick_s
        self.rt = rt
        self.branch_id = rt.default_branch_id
        self.base_url = base_url.rstrip("/")
        self.speed = speed
        self.http = requests.Session()
        self.manager_token = manager_token
        day = datetime.fromisoformat(self._get("/clock", manager_token)["now"]).astimezone(rt.config.tz).date()
        self._set_day(rt.config, day)
        self._make_people()
        self._hire_manager()
        self._known_alerts: set[tuple[int, str]] = set()
        self._real_start: float | None = None
        # The in-process simulator's actors are only placeholders here: every action is a request
        # made with the tokens of _make_people.
        self.kiosk = self.manager_actor = ANONYMOUS

    # --- accounts ----------------------------------------------------------------------------------

    def _make_people(self) -> None:
        """A teller account per counter and a kiosk, made for this run, with fresh secrets."""
        counters = sorted(self.config.counters, key=lambda c: c.number)
        kiosk_token = add_device(self.rt, "sim-kiosk", "kiosk")
        self.tokens: dict[str, str] = {"kiosk": kiosk_token}
        self.tellers = {}
        from server.simulator.run import Teller

        for c in counters:
            password = secrets.token_urlsafe(12)
            username = f"sim-teller-{c.number}"
            save_staff(self.rt, username, "teller", password, display_name=f"模拟柜员 {c.number} Sim teller {c.number}")
            answer = self.http.post(f"{self.base_url}/api/v1/auth/login",
                                    json={"username": username, "password": password})
            answer.raise_for_status()
            self.tokens[username] = answer.json()["token"]
            self.tellers[c.number] = Teller(c.number, tuple(c.services), Actor(kind="staff", name=username),
                                            self.draws.slow_teller(c.number), False, self.draws.lunch(c.number))

    # --- HTTP ----------------------------------------------------------------------------------------

    def _get(self, path: str, token: str) -> Any:
        answer = self.http.get(f"{self.base_url}/api/v1{path}", headers={"Authorization": f"Bearer {token}"},
                               timeout=30)
        answer.raise_for_status()
        return answer.json()

    def _post(self, what: str, path: str, token: str, body: dict[str, Any] | None = None) -> Any:
        answer = self.http.post(f"{self.base_url}/api/v1{path}", json=body or {},
                                headers={"Authorization": f"Bearer {token}"}, timeout=30)
        if answer.status_code in (200, 201):
            return answer.json()
        code = (answer.json().get("error") or {}).get("code", str(answer.status_code)) if answer.content else ""
        if code == "queue_empty":
            raise NotFound("nobody is waiting", code="queue_empty")
        key = f"{what}:{code}"
        self.errors[key] = self.errors.get(key, 0) + 1
        return None

    def _do(self, what: str, call: Any, *args: Any) -> Any:
        if what == "issue":
            ticket = self._post(what, "/tickets", self.tokens["kiosk"], {"service": args[2]})
            return None if ticket is None else (ticket, True)
        if what == "answer":
            actor, _branch, instruction_id, reply, text = args
            return self._post(what, f"/instructions/{instruction_id}/ack", self.tokens[actor.name],
                              {"answer": reply, **({"text": text} if text else {})})
        actor, _branch, number, *extra = args
        body: dict[str, Any] = {}
        if what == "complete":
            body = {"outcome": extra[0]}
        elif what == "pause":
            body = {"reason": extra[0]}
        return self._post(what, f"/counters/{number}/{COUNTER_PATHS[what]}", self.tokens[actor.name], body)

    # --- time --------------------------------------------------------------------------------------

    def _move_to(self, when: float) -> None:
        """Wait for the wall clock to catch up (``speed`` x), then move the branch's clock there."""
        if self._real_start is None:
            self._real_start = time.monotonic() - self.now / self.speed
        delay = self._real_start + when / self.speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        target = self.opening + timedelta(seconds=when)
        now = datetime.fromisoformat(self._get("/clock", self.manager_token)["now"])
        step = (target - now).total_seconds()
        if step > 0:
            self.http.post(f"{self.base_url}/api/v1/clock/advance", json={"seconds": step},
                           headers={"Authorization": f"Bearer {self.manager_token}"}, timeout=60).raise_for_status()
        self.now = max(self.now, when)

    def _sweep(self) -> None:
        """The server evaluates on every clock move; here the manager looks at the dashboard."""
        for alert in self._get("/alerts?state=open", self.manager_token):
            key = (alert["id"], alert["severity"])
            if key not in self._known_alerts:
                self._known_alerts.add(key)
                self.publish("alert_raised", alert, [])

    def _alert_open(self, alert_id: int) -> bool:
        return any(a["id"] == alert_id for a in self._get("/alerts?state=open", self.manager_token))

    # --- the manager's hands, over HTTP --------------------------------------------------------------

    def hall(self) -> Hall:
        views = self._get("/counters", self.manager_token)
        waiting = {s["code"]: s.get("waiting", 0) for s in self._get("/services", self.manager_token)}
        return Hall(self.now, tuple(CounterSeen(
            v["number"], v["state"], self._seconds(datetime.fromisoformat(v["state_since"])) or 0.0
            if v.get("state_since") else 0.0, tuple(v["services"]), v.get("pause_reason"),
            (v.get("help") or {}).get("state")) for v in views), waiting)

    def help_alert_at(self, counter: int) -> int | None:
        return next((a["id"] for a in self._get("/alerts?state=open", self.manager_token)
                     if a["rule"] == "help_requested" and a.get("counter") == counter), None)

    def acknowledge(self, alert_id: int) -> None:
        self._post("acknowledge", f"/alerts/{alert_id}/ack", self.manager_token)

    def respond(self, alert_id: int, state: str) -> bool:
        return self._post("respond", f"/alerts/{alert_id}/respond", self.manager_token, {"state": state}) is not None

    def instruct(self, counter: int, kind: str, ticket: int | None, alert_id: int | None) -> bool:
        body: dict[str, Any] = {"kind": kind}
        if kind == "serve_ticket" and ticket is not None:
            body["ticket"] = ticket
        if alert_id is not None:
            body["alert"] = alert_id
        view = self._post("instruct", f"/counters/{counter}/instruct", self.manager_token, body)
        if view is None:
            return False
        self.at(self.now + self.draws.answer_delay_s(counter), self.heard, self.tellers[counter], view["id"], kind)
        return True

    def _result(self, run_s: float) -> Result:
        return Result({"tickets": len(self.customers), "run_s": round(run_s, 1),
                       "manager": self.boss.summary(self.day_s / 3600) if self.boss is not None else None,
                       "refused_actions": self.errors})


def drive(
    rt: Runtime, base_url: str, manager_password: str, *, seed: int, speed: float, start_after: float = 2.0
) -> None:
    """Run one simulated day against the server (in its own background task)."""
    time.sleep(start_after)  # the server is listening by then
    answer = requests.post(f"{base_url}/api/v1/auth/login", json={"username": "manager", "password": manager_password},
                           timeout=30)
    answer.raise_for_status()
    simulation = LiveSimulation(rt, base_url, answer.json()["token"], seed=seed, speed=speed)
    print(f"Simulated customers and tellers are at work ({speed:g}x real time, seed {seed}).", flush=True)
    result = simulation.run()
    print(f"The simulated day is over: {result.summary}", file=sys.stderr, flush=True)
