"""A curriculum version as the rules see it, and the checks a new version must pass."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from services.common.errors import Problem
from services.progress.domain.completion import LevelDef, ModuleDef, Rule, check_prerequisites
from services.progress.schemas import CurriculumIn


@dataclass(frozen=True)
class Curriculum:
    """A parsed curriculum version (immutable once published or retired)."""

    id: uuid.UUID
    version: str
    spec: CurriculumIn
    levels: dict[int, LevelDef]
    modules: dict[str, ModuleDef]
    titles: dict[str, tuple[str, str]]  # module code or "level:N" -> (ko, en)

    def level_of(self, code: str) -> int | None:
        module = self.modules.get(code)
        return module.level if module else None

    def title(self, key: str) -> tuple[str, str]:
        return self.titles.get(key, ("", ""))


def parse_curriculum(cid: uuid.UUID, version: str, spec: CurriculumIn) -> Curriculum:
    levels: dict[int, LevelDef] = {}
    modules: dict[str, ModuleDef] = {}
    titles: dict[str, tuple[str, str]] = {}
    for lv in spec.levels:
        titles[f"level:{lv.level}"] = (lv.title_ko, lv.title_en)
        defs: list[ModuleDef] = []
        for c_index, course in enumerate(sorted(lv.courses, key=lambda c: c.order)):
            for m in course.modules:
                d = ModuleDef(
                    code=m.code,
                    level=lv.level,
                    course=course.code,
                    rule=Rule(m.rule),
                    required=m.required,
                    weight=m.weight,
                    order=c_index * 10_000 + m.order,
                    prerequisites=tuple(m.prerequisites),
                    min_score=m.min_score,
                    final=m.final,
                )
                defs.append(d)
                modules[m.code] = d
                titles[m.code] = (m.title_ko, m.title_en)
        levels[lv.level] = LevelDef(lv.level, tuple(defs), lv.attendance_threshold)
    return Curriculum(cid, version, spec, levels, modules, titles)


def _module_problems(spec: CurriculumIn) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    seen: set[str] = set()
    for li, lv in enumerate(spec.levels):
        finals = 0
        for ci, course in enumerate(lv.courses):
            for mi, m in enumerate(course.modules):
                where = f"levels[{li}].courses[{ci}].modules[{mi}]"
                if m.code in seen:
                    errors.append({"field": where + ".code", "message": f"module code {m.code} is used twice"})
                seen.add(m.code)
                assessed = m.rule in ("passed", "completed_and_passed")
                if assessed and m.min_score is None and m.final:
                    errors.append({"field": where + ".min_score", "message": "a final assessment needs min_score"})
                if not assessed and m.min_score is not None:
                    errors.append({"field": where + ".min_score", "message": f"rule {m.rule} takes no min_score"})
                if m.final:
                    finals += 1
                    if not assessed:
                        errors.append({"field": where + ".rule", "message": "a final assessment must be passed"})
        if finals > 1:
            errors.append({"field": f"levels[{li}]", "message": "a level has at most one final assessment"})
    return errors


def _prerequisite_problems(spec: CurriculumIn) -> list[dict[str, Any]]:
    parsed = parse_curriculum(uuid.uuid4(), spec.version, spec)
    errors = [{"field": "prerequisites", "message": m} for m in check_prerequisites(parsed.modules.values())]
    for md in parsed.modules.values():
        for p in md.prerequisites:
            other = parsed.modules.get(p)
            if other is not None and other.level > md.level:
                errors.append(
                    {"field": "prerequisites", "message": f"module {md.code} depends on a higher level's {p}"}
                )
    return errors


def validate(spec: CurriculumIn) -> None:
    """Refuse a version with every problem listed: levels 0-4 once each, unique module codes,
    assessment rules that fit, one final per level, prerequisites known, acyclic, not upward."""
    levels = [lv.level for lv in spec.levels]
    errors: list[dict[str, Any]] = []
    if sorted(levels) != [0, 1, 2, 3, 4]:
        errors.append({"field": "levels", "message": f"must hold levels 0-4 once each, got {levels}"})
    errors += _module_problems(spec)
    if not errors:
        errors = _prerequisite_problems(spec)
    if errors:
        raise Problem(422, "invalid-curriculum", "The curriculum has problems; fix every listed one.", errors=errors)
