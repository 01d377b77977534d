"""Bilingual wording for alert messages."""

from __future__ import annotations

from server.vocabulary import PAUSE_REASONS


def both(zh: str, en: str) -> dict[str, str]:
    """A text in both languages."""
    return {"zh": zh, "en": en}


def duration(seconds: float) -> dict[str, str]:
    """'45 s' / '45秒' under a minute, whole minutes up to an hour, then hours and minutes."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return {"zh": f"{seconds}秒", "en": f"{seconds} s"}
    minutes = seconds // 60
    if minutes < 60:
        return {"zh": f"{minutes}分钟", "en": f"{minutes} min"}
    hours, rest = divmod(minutes, 60)
    return {"zh": f"{hours}小时{rest}分钟" if rest else f"{hours}小时",
            "en": f"{hours} h {rest} min" if rest else f"{hours} h"}


def pause_reason(code: str | None) -> dict[str, str]:
    """A pause reason as it reads inside a sentence ("cash replenishment"); an unknown one reads as "other"."""
    return PAUSE_REASONS.phrase(code if code is not None and code in PAUSE_REASONS else "other")


def people(count: int) -> dict[str, str]:
    return {"zh": f"{count}位客户", "en": f"{count} customer" + ("" if count == 1 else "s")}
