"""The closed word lists of Callwise, each term once, with its label in every supported language.

Everything else is derived from these lists, so a word cannot read one way on the console and
another on the dashboard:

- the pydantic ``Literal`` types the API and config.toml validate with (:meth:`WordList.literal`),
  and through them the request-body enums of the OpenAPI document;
- the state enums of :mod:`server.queueing.machine` (:meth:`WordList.enum`);
- the answer enums of the OpenAPI document (:meth:`WordList.codes`);
- the outcome and pause-reason columns of the daily report's CSV and the pause reason inside alert
  messages (:meth:`WordList.phrase`);
- the ``vocabulary`` of ``GET /api/v1/branch`` (:func:`as_json`), from which every screen takes
  its labels.

Adding a pause reason is one :class:`Term` in :data:`PAUSE_REASONS` with its labels; its default
limit for the ``long_pause`` alert goes in ``AlertConfig.long_pause_s`` (without one, the limit
of ``other`` applies). Plain data: nothing here imports Flask, SQL or the rest of the server.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

LANGUAGES: tuple[str, ...] = ("zh", "en")  # every label exists in each; the branch picks its own order


def _in_running_text(lang: str, text: str) -> str:
    """A label as it reads inside a sentence: English drops the capital of its first word unless
    that word is an abbreviation ("Cash replenishment" -> "cash replenishment", "ATM" stays)."""
    if lang == "en" and text[:1].isupper() and not text[:2].isupper():
        return text[:1].lower() + text[1:]
    return text


@dataclass(frozen=True)
class Term:
    """One word of a list: its code (what the API and the database carry) and how people read it.

    ``label`` stands alone: a badge, a menu entry, a column heading. ``short`` is for tight spots
    (table columns); it defaults to the label. ``phrase`` is the label inside a sentence ("paused
    (cash replenishment)"); it defaults to the label, in English without its leading capital.
    """

    code: str
    label: Mapping[str, str]
    short: Mapping[str, str] | None = None
    phrase: Mapping[str, str] | None = None

    def forms(self) -> dict[str, dict[str, str]]:
        """label, short and phrase, each with every language (defaults filled in)."""
        return {
            "label": dict(self.label),
            "short": dict(self.short or self.label),
            "phrase": dict(self.phrase or {lang: _in_running_text(lang, text) for lang, text in self.label.items()}),
        }


@dataclass(frozen=True)
class WordList:
    """A closed list of terms, in the order screens show them."""

    name: str  # its key in the API's ``vocabulary``
    terms: tuple[Term, ...]
    _by_code: dict[str, Term] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_code: dict[str, Term] = {}
        for term in self.terms:
            if term.code in by_code:
                raise ValueError(f"{self.name}: {term.code!r} is listed twice")
            for form, texts in term.forms().items():
                missing = [lang for lang in LANGUAGES if not texts.get(lang)]
                if missing or set(texts) - set(LANGUAGES):
                    raise ValueError(f"{self.name}.{term.code}: the {form} needs exactly the languages {LANGUAGES}")
            by_code[term.code] = term
        object.__setattr__(self, "_by_code", by_code)

    def __iter__(self) -> Iterator[Term]:
        return iter(self.terms)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __getitem__(self, code: str) -> Term:
        return self._by_code[code]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(term.code for term in self.terms)

    def label(self, code: str) -> dict[str, str]:
        return self[code].forms()["label"]

    def short(self, code: str) -> dict[str, str]:
        return self[code].forms()["short"]

    def phrase(self, code: str) -> dict[str, str]:
        return self[code].forms()["phrase"]

    def literal(self) -> Any:
        """``Literal["a", "b", ...]`` of the codes, for pydantic fields (and so for OpenAPI enums)."""
        return Literal[self.codes]

    def check_enum(self, enum: type[StrEnum]) -> None:
        """Refuse an enum whose members are not exactly the codes, in order (``no_show`` -> ``NO_SHOW``)."""
        members = [(member.name, member.value) for member in enum]
        expected = [(code.upper(), code) for code in self.codes]
        if members != expected:
            raise ValueError(f"{enum.__name__} must list the {self.name} of server/vocabulary.py: {expected}")

    def as_json(self) -> list[dict[str, Any]]:
        return [{"code": term.code, **term.forms()} for term in self.terms]


TICKET_STATUSES = WordList("ticket_statuses", (
    Term("waiting", {"zh": "等候中", "en": "Waiting"}),
    Term("called", {"zh": "已叫号", "en": "Called"}),
    Term("serving", {"zh": "办理中", "en": "Being served"}),
    Term("held", {"zh": "暂挂", "en": "Set aside"}),
    Term("done", {"zh": "已办结", "en": "Done"}),
    Term("no_show", {"zh": "过号", "en": "No-show"}),
    Term("cancelled", {"zh": "已取消", "en": "Cancelled"}),
))

COUNTER_STATES = WordList("counter_states", (
    Term("closed", {"zh": "未开放", "en": "Closed"}),
    Term("idle", {"zh": "空闲", "en": "Free"}),
    Term("calling", {"zh": "呼叫中", "en": "Calling"}),
    Term("serving", {"zh": "办理中", "en": "Serving"}),
    Term("paused", {"zh": "暂停", "en": "Paused"}),
))

PAUSE_REASONS = WordList("pause_reasons", (
    Term("break", {"zh": "休息", "en": "Break"}),
    Term("meeting", {"zh": "开会", "en": "Meeting"}),
    Term("cash_replenish", {"zh": "清机加钞", "en": "Cash replenishment"}),
    Term("lunch", {"zh": "午餐", "en": "Lunch"}),
    Term("other", {"zh": "其他", "en": "Other"}),
))

# Why a teller pages the lobby manager (request-help).
HELP_REASONS = WordList("help_reasons", (
    Term("authorization", {"zh": "业务授权", "en": "Authorization"}),
    Term("documents", {"zh": "材料问题", "en": "Documents question"}),
    Term("difficult_customer", {"zh": "客户情绪", "en": "Difficult customer"}),
    Term("other", {"zh": "其他", "en": "Other"}),
))

# Where a help request stands: nobody has answered yet, or the manager is on the way.
HELP_STATES = WordList("help_states", (
    Term("waiting", {"zh": "等待经理", "en": "Waiting for the manager"}),
    Term("on_my_way", {"zh": "经理正在赶来", "en": "Manager on the way"}),
))

# What the lobby manager asks a counter to do (POST /counters/<n>/instruct).
INSTRUCTION_KINDS = WordList("instruction_kinds", (
    Term("call_next", {"zh": "请叫下一位", "en": "Please call the next customer"}),
    Term("end_pause", {"zh": "请结束暂停", "en": "Please end your pause"}),
    Term("serve_ticket", {"zh": "请接待指定客户", "en": "Please serve this customer"}),
    Term("come_to_desk", {"zh": "请到大堂经理处", "en": "Please come to the lobby desk"}),
    Term("note", {"zh": "留言", "en": "Note"}),
))

# How a teller answers an instruction.
INSTRUCTION_ANSWERS = WordList("instruction_answers", (
    Term("done", {"zh": "已照办", "en": "Done"}),
    Term("cannot", {"zh": "无法照办", "en": "Cannot"}),
))

# What an alert suggests the manager do (an alert's ``action.kind``).
ACTION_KINDS = WordList("action_kinds", (
    Term("ask_to_call", {"zh": "请窗口叫号", "en": "Ask to call"}),
    Term("end_pause", {"zh": "请结束暂停", "en": "Ask to end the pause"}),
    Term("open_counter", {"zh": "开启窗口", "en": "Open a counter"}),
    Term("serve_ticket", {"zh": "安排接待", "en": "Have the customer served"}),
    Term("assist", {"zh": "前往协助", "en": "Go and assist"}),
    Term("watch", {"zh": "留意", "en": "Keep an eye on it"}),
    Term("follow_up", {"zh": "回访客户", "en": "Follow up with the customer"}),
))

# The kinds of complaint staff record (POST /api/v1/complaints): the six of the product brief.
COMPLAINT_KINDS = WordList("complaint_kinds", (
    Term("teller_error", {"zh": "柜员差错", "en": "Teller error"}),
    Term("inconsistent_instructions", {"zh": "大堂与柜台说法不一", "en": "Lobby and counter said different things"}),
    Term("short_queue_wait", {"zh": "人少久等", "en": "Long wait in a short queue"}),
    Term("idle_during_service", {"zh": "办理中久等", "en": "Idle during the transaction"}),
    Term("idle_counter", {"zh": "有人不叫号", "en": "Staffed counter not calling"}),
    Term("counters_paused", {"zh": "窗口暂停过多", "en": "Too many counters paused"}),
    Term("other", {"zh": "其他", "en": "Other"}),
))

# The situations that become complaints, counted from the history (server/incident_history.py).
INCIDENT_KINDS = WordList("incident_kinds", (
    Term("short_queue", {"zh": "人少久等超10分钟", "en": "Short queue, wait over 10 min"}),
    Term("idle_counter", {"zh": "窗口有人不叫号", "en": "Counter free, not calling"}),
    Term("paused_ratio", {"zh": "半数窗口暂停", "en": "Half the counters paused"}),
    Term("service_overrun", {"zh": "办理超时", "en": "Transaction far past its time"}),
))

OUTCOMES = WordList("outcomes", (
    Term("done", {"zh": "办结", "en": "Done"}, short={"zh": "正常", "en": "Done"}),
    Term("redo", {"zh": "需重办", "en": "Redo"}, short={"zh": "重办", "en": "Redo"}),
    Term("error", {"zh": "差错", "en": "Error"}),
))

SERVICE_KINDS = WordList("service_kinds", (
    Term("quick", {"zh": "快速业务", "en": "Quick"}),
    Term("standard", {"zh": "普通业务", "en": "Standard"}),
    Term("complex", {"zh": "复杂业务", "en": "Complex"}),
))

CANCEL_REASONS = WordList("cancel_reasons", (
    Term("branch_closed", {"zh": "网点已停止营业", "en": "The branch closed"}),
    Term("day_end", {"zh": "当日未叫号，日终取消", "en": "Not called by the end of the day"}),
    Term("customer", {"zh": "客户取消排队", "en": "The customer left the queue"}),
))

ALERT_SEVERITIES = WordList("alert_severities", (
    Term("warning", {"zh": "警告", "en": "Warning"}),
    Term("critical", {"zh": "严重", "en": "Critical"}),
))

# One per module of server/alerts/rules (a test checks the two agree).
ALERT_RULES = WordList("alert_rules", (
    Term("idle_counter", {"zh": "窗口空闲", "en": "Idle counter"}),
    Term("short_queue_long_wait", {"zh": "人少久等", "en": "Short queue, long wait"}),
    Term("eta_broken", {"zh": "超出承诺等候", "en": "Wait past promise"}),
    Term("paused_ratio", {"zh": "暂停窗口过多", "en": "Too many paused"}),
    Term("long_pause", {"zh": "暂停过久", "en": "Long pause"}),
    Term("service_overrun", {"zh": "办理超时", "en": "Service overrun"}),
    Term("help_requested", {"zh": "请求授权/协助", "en": "Help requested"}),
    Term("service_level", {"zh": "等候超目标", "en": "Service level"}),
    Term("unstaffed_service", {"zh": "业务无人办理", "en": "Nobody serves a service"}),
    Term("low_rating", {"zh": "客户差评", "en": "Low rating"}),
))

ALERT_SUBJECT_KINDS = WordList("alert_subject_kinds", (
    Term("counter", {"zh": "窗口", "en": "Counter"}),
    Term("ticket", {"zh": "号票", "en": "Ticket"}),
    Term("service", {"zh": "业务", "en": "Service"}),
    Term("branch", {"zh": "网点", "en": "Branch"}),
))

ALL: tuple[WordList, ...] = (
    TICKET_STATUSES, COUNTER_STATES, PAUSE_REASONS, OUTCOMES, SERVICE_KINDS, CANCEL_REASONS,
    ALERT_SEVERITIES, ALERT_RULES, ALERT_SUBJECT_KINDS, HELP_REASONS, HELP_STATES, INSTRUCTION_KINDS,
    INSTRUCTION_ANSWERS, ACTION_KINDS, COMPLAINT_KINDS, INCIDENT_KINDS,
)


def as_json() -> dict[str, Any]:
    """Every list for the screens: ``{"languages": [...], "<list>": [{code, label, short, phrase}]}``."""
    return {"languages": list(LANGUAGES), **{words.name: words.as_json() for words in ALL}}
