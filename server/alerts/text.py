"""Bilingual wording for alert messages."""

from __future__ import annotations


def duration(seconds: float) -> dict[str, str]:
    """'45 s' / '45秒' under a minute, whole minutes up to an hour, then hours and minutes."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return {"zh": f"{seconds}秒", "en": f"{seconds} s"}
    minutes = seconds // 60
    if minutes < 60:
        return {"zh": f"{minutes}分钟", "en": f"{minutes} min"}
    hours, rest = divmod(minutes, 60)
    return {"zh": f"{hours}小时{rest}分钟" if rest else f"{hours}小时", "en": f"{hours} h {rest} min" if rest else f"{hours} h"}


PAUSE_REASONS = {
    "break": {"zh": "休息", "en": "break"},
    "meeting": {"zh": "开会", "en": "meeting"},
    "cash_replenish": {"zh": "清机加钞", "en": "cash replenishment"},
    "other": {"zh": "其他", "en": "other"},
}


def people(count: int) -> dict[str, str]:
    return {"zh": f"{count}位客户", "en": f"{count} customer" + ("" if count == 1 else "s")}
