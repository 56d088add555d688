"""Item bank rules (pure): the programme's domains, import validation, CSV/JSON parsing, export rows
and the content hash of a published snapshot."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Collection
from typing import Any

# The five domains the programme started with, in order (Levels 0-4 follow the same arc). A bank's
# domains are the admin's (the content_domain table, seeded with these by its migration); these
# serve files read without a database (`lms placement simulate`, synth-bank).
DOMAINS: dict[str, dict[str, str]] = {
    "data-literacy": {"en": "Data literacy basics", "ko": "데이터 리터러시 기초"},
    "data-collection": {"en": "Collecting data for policy", "ko": "정책을 위한 데이터 수집"},
    "data-analysis": {"en": "Data analysis and statistics", "ko": "데이터 분석과 통계"},
    "analysis-tools": {"en": "Analysis and visualisation tools", "ko": "분석·시각화 도구"},
    "modelling-ai": {"en": "Data modelling and AI", "ko": "데이터 모델링과 AI"},
}
STATUSES = ("active", "pretest", "retired")
FIELDS = ("code", "domain", "a", "b", "c", "stem", "options", "answer", "status", "calibrated")
REQUIRED = ("code", "domain", "a", "b", "stem", "options", "answer")
LANGS = ("ko", "en")


class ImportErrors(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} problems")
        self.errors = errors

    def unknown_domains(self, rows: list[Any]) -> list[str]:
        """The domain codes of the rows refused for an unknown domain."""
        refused = {e["row"] for e in self.errors if e["field"] == "domain" and "unknown domain" in e["reason"]}
        return sorted(
            {str(raw.get("domain")) for k, raw in enumerate(rows, start=1) if k in refused and isinstance(raw, dict)}
        )


def _text(value: Any) -> str | None:
    """Why ``value`` is not a valid text (plain string or {"ko", "en"}), or None if it is."""
    if isinstance(value, str):
        return None if value.strip() else "must not be empty"
    if isinstance(value, dict):
        if not value:
            return 'must have "ko" and/or "en"'
        extra = set(value) - set(LANGS)
        if extra:
            return f"unknown languages {sorted(extra)}; use ko and en"
        if not all(isinstance(v, str) and v.strip() for v in value.values()):
            return "every language must be a non-empty string"
        return None
    return 'must be a string or {"ko": ..., "en": ...}'


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def validate_row(
    raw: Any, row: int, domains: Collection[str] | None = DOMAINS
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """A normalised item, or the list of every problem with it (row, field, reason). ``domains``
    are the bank's content areas (None: any code)."""
    errors: list[dict[str, Any]] = []

    def bad(field: str, reason: str) -> None:
        errors.append({"row": row, "field": field, "reason": reason})

    if not isinstance(raw, dict):
        bad("row", "must be an object with the item's fields")
        return None, errors
    for key in raw:
        if key not in FIELDS:
            bad(str(key), f"unknown field; expected {', '.join(FIELDS)}")
    for key in REQUIRED:
        if raw.get(key) in (None, ""):
            bad(key, "is required")
    out: dict[str, Any] = {}
    code = raw.get("code")
    if code not in (None, ""):
        if (
            not isinstance(code, str)
            or not code.strip()
            or len(code) > 64
            or any(not (ch.isalnum() or ch in "._-") for ch in code)
        ):
            bad("code", "must be 1-64 characters of letters, digits, '.', '_' or '-'")
        else:
            out["code"] = code.strip()
    domain = raw.get("domain")
    if domain not in (None, ""):
        if not isinstance(domain, str) or len(domain) > 64:
            bad("domain", "must be a domain code of at most 64 characters")
        elif domains is not None and domain not in domains:
            bad("domain", f"unknown domain {domain!r}; use one of {', '.join(domains)} or define it first")
        else:
            out["domain"] = domain
    for name in ("a", "b", "c"):
        value = raw.get(name)
        if value in (None, ""):
            if name == "c":
                out["c"] = 0.0
            continue
        number = _number(value)
        if number is None or math.isnan(number):
            bad(name, "must be a number (NaN is not one)")
            continue
        if math.isinf(number):
            bad(name, "must be finite")
        elif name == "a" and number <= 0:
            bad("a", "must be positive")
        elif name == "c" and not 0 <= number < 0.5:
            bad("c", "must be in [0, 0.5)")
        elif name == "b" and abs(number) > 10:
            bad("b", "must be between -10 and 10")
        elif name == "a" and number > 10:
            bad("a", "must be at most 10")
        else:
            out[name] = number
    stem = raw.get("stem")
    if stem not in (None, ""):
        why = _text(stem)
        if why:
            bad("stem", why)
        else:
            out["stem"] = stem
    options = raw.get("options")
    if options not in (None, ""):
        if not isinstance(options, list) or not 2 <= len(options) <= 6:
            bad("options", "must be a list of 2 to 6 options")
        else:
            reasons = [f"option {i}: {why}" for i, o in enumerate(options) if (why := _text(o))]
            if reasons:
                bad("options", "; ".join(reasons))
            else:
                out["options"] = options
    answer = raw.get("answer")
    if answer not in (None, ""):
        index = _number(answer)
        if index is None or index != int(index):
            bad("answer", "must be the integer index of the correct option")
        elif isinstance(options, list) and not 2 <= len(options) <= 6:
            pass  # the options are refused above; which of them is right cannot be checked yet
        elif isinstance(options, list) and not 0 <= int(index) < len(options):
            bad(
                "answer",
                f"the correct answer is option {int(index)}, but the item's options are numbered "
                f"0 to {len(options) - 1}",
            )
        else:
            out["answer"] = int(index)
    status = raw.get("status")
    if status in (None, ""):
        out["status"] = "active"
    elif status not in STATUSES:
        bad("status", f"must be one of {', '.join(STATUSES)}")
    else:
        out["status"] = status
    calibrated = raw.get("calibrated", False)
    if isinstance(calibrated, str):
        calibrated = calibrated.strip().lower() in {"1", "true", "yes"}
    out["calibrated"] = bool(calibrated)
    return (None if errors else out), errors


def validate_rows(rows: list[Any], domains: Collection[str] | None = DOMAINS) -> list[dict[str, Any]]:
    """All rows normalised, or :class:`ImportErrors` listing every problem (all-or-nothing)."""
    errors: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    if not rows:
        raise ImportErrors([{"row": 0, "field": "items", "reason": "the file has no items"}])
    for row, raw in enumerate(rows, start=1):
        item, problems = validate_row(raw, row, domains)
        errors.extend(problems)
        code = raw.get("code") if isinstance(raw, dict) else None
        if isinstance(code, str) and code:
            if code in seen:
                errors.append(
                    {"row": row, "field": "code", "reason": f"duplicate code {code!r} (first on row {seen[code]})"}
                )
            else:
                seen[code] = row
        if item is not None:
            items.append(item)
    if errors:
        raise ImportErrors(errors)
    return items


def parse_json(body: bytes) -> list[Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportErrors([{"row": 0, "field": "body", "reason": f"not valid JSON: {exc}"}]) from exc
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        data = data["items"]
    if not isinstance(data, list):
        raise ImportErrors([{"row": 0, "field": "body", "reason": 'expected a JSON list of items or {"items": [...]}'}])
    return data


def _cell_json(value: str) -> Any:
    value = value.strip()
    if value.startswith(("{", "[")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def parse_csv(body: bytes) -> list[Any]:
    """CSV with a header row; ``stem`` is text or a JSON object, ``options`` a JSON list."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportErrors([{"row": 0, "field": "body", "reason": "CSV must be UTF-8"}]) from exc
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ImportErrors([{"row": 0, "field": "header", "reason": "the CSV has no header row"}])
    rows: list[Any] = []
    for record in reader:
        row: dict[str, Any] = {}
        for key, value in record.items():
            if key is None:
                row["(extra cells)"] = value
                continue
            value = value or ""
            if key in ("stem", "options"):
                row[key] = _cell_json(value)
                if key == "options" and isinstance(row[key], str) and row[key]:
                    row[key] = "not a JSON list"
            else:
                row[key] = value.strip()
        rows.append(row)
    return rows


def export_row(item: Any) -> dict[str, Any]:
    return {
        "code": item.code,
        "domain": item.domain,
        "a": item.a,
        "b": item.b,
        "c": item.c,
        "stem": item.stem,
        "options": item.options,
        "answer": item.answer,
        "status": item.status,
        "calibrated": item.calibrated,
    }


def csv_cells(row: dict[str, Any]) -> list[Any]:
    """One exported item as CSV cells in ``FIELDS`` order (stem and options as JSON text)."""
    return [
        json.dumps(row[f], ensure_ascii=False) if f in ("stem", "options") and not isinstance(row[f], str) else row[f]
        for f in FIELDS
    ]


def snapshot_hash(rows: list[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
