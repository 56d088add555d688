"""Generate the numeric item families of the seed bank (run once; the output is in seed_bank.json).

Ten families of worked questions, two per domain, from Level 0 (reading a table) to Level 4
(precision and recall of a model), each drawn with different numbers: a bilingual stem, four
options (the right answer and three typical mistakes) and provisional parameters: ``b`` from the
family's level with some spread, ``a`` between 1.4 and 2.0, ``c`` 0.15. They are provisional, like
every seed item, until a calibration replaces them.

    .venv/bin/python services/placement/data/generate_seed_items.py   # rewrites seed_bank.json

The hand-written items of seed_bank.json are kept (their provisional parameters a 1.5, c 0.15);
the family items are replaced by a fresh generation (the same, for the same seed).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path

Item = tuple[str, str, list[str], int]  # ko stem, en stem, options (right one first), level
Family = Callable[[random.Random], Item]


def cells(r: random.Random) -> Item:
    rows, cols = r.randint(4, 25), r.randint(3, 12)
    right = rows * cols
    return (
        f"표에 자치구 {rows}곳의 {cols}개 연도별 인구가 있습니다. 값은 모두 몇 개입니까?",
        f"A table lists the population of {rows} districts for {cols} years. How many values does it hold?",
        [str(right), str(rows + cols), str(rows), str(right + rows)],
        0,
    )


def share(r: random.Random) -> Item:
    total = r.choice([200, 250, 400, 500, 800, 1000])
    part = r.randint(1, 19) * total // 20
    pct = 100 * part / total
    return (
        f"민원 {total}건 중 {part}건이 교통 관련입니다. 교통 민원의 비율은?",
        f"Of {total} complaints, {part} are about traffic. What share is about traffic?",
        [f"{pct:g}%", f"{100 - pct:g}%", f"{part / 10:g}%", f"{pct / 10:g}%"],
        0,
    )


def response_rate(r: random.Random) -> Item:
    asked = r.choice([120, 150, 200, 240, 300, 400, 600])
    replied = r.randint(3, 18) * asked // 20
    rate = 100 * replied / asked
    return (
        f"설문을 {asked}명에게 보냈고 {replied}명이 응답했습니다. 응답률은?",
        f"A survey went to {asked} officials and {replied} replied. What is the response rate?",
        [f"{rate:g}%", f"{100 - rate:g}%", f"{replied / asked:.2f}%", f"{asked - replied}%"],
        1,
    )


def sample_size(r: random.Random) -> Item:
    per, groups = r.randint(8, 40), r.randint(3, 9)
    return (
        f"{groups}개 부서에서 부서마다 {per}명씩 무작위로 뽑았습니다. 표본 크기는?",
        f"{per} officials were drawn at random from each of {groups} departments. What is the sample size?",
        [str(per * groups), str(per + groups), str(per), str(groups)],
        1,
    )


def mean(r: random.Random) -> Item:
    values = [r.randint(2, 30) for _ in range(5)]
    while sum(values) % 5:
        values[r.randrange(5)] += 1
    m = sum(values) // 5
    med = sorted(values)[2]
    wrong = [str(med), str(sum(values)), str(max(values) - min(values))]
    if str(m) in wrong:
        wrong = [str(m + 1), str(sum(values)), str(max(values) - min(values) + 1)]
    return (
        f"다섯 달의 민원 수가 {', '.join(map(str, values))}건입니다. 월평균은?",
        f"Complaints over five months were {', '.join(map(str, values))}. What is the monthly mean?",
        [str(m), *wrong],
        2,
    )


def median(r: random.Random) -> Item:
    values = r.sample(range(1, 60), 7)
    med = sorted(values)[3]
    avg = round(sum(values) / 7, 1)
    wrong = [str(values[3]), f"{avg:g}", str(max(values))]
    if str(med) in wrong:
        wrong = [str(med + 2), f"{avg + 0.5:g}", str(max(values) + 1)]
    return (
        f"일곱 개 동의 대기 시간(분)이 {', '.join(map(str, values))}입니다. 중앙값은?",
        f"Waiting times (minutes) in seven offices were {', '.join(map(str, values))}. What is the median?",
        [str(med), *wrong],
        2,
    )


def change(r: random.Random) -> Item:
    before = r.choice([200, 400, 500, 800, 1000, 1250, 2000])
    pct = r.choice([-40, -25, -20, -10, 5, 10, 15, 20, 25, 40, 50, 60])
    after = before * (100 + pct) // 100
    return (
        f"방문자가 {before}명에서 {after}명으로 바뀌었습니다. 변화율은?",
        f"Visitors went from {before} to {after}. What is the percentage change?",
        [f"{pct:+d}%", f"{after - before:+d}%", f"{-pct:+d}%", f"{100 * after // before}%"],
        3,
    )


def per_capita(r: random.Random) -> Item:
    people = r.choice([20_000, 40_000, 50_000, 80_000, 100_000, 250_000])
    events = r.randint(2, 90) * people // 10_000
    rate = events * 10_000 / people
    return (
        f"인구 {people:,}명인 구에서 사고가 {events}건 있었습니다. 인구 1만 명당 사고 건수는?",
        f"A district of {people:,} people had {events} accidents. How many accidents per 10,000 people?",
        [f"{rate:g}", f"{events:g}", f"{rate * 10:g}", f"{rate / 10:g}"],
        3,
    )


def precision(r: random.Random) -> Item:
    tp = r.randint(4, 40) * 5
    fp = r.randint(1, 20) * 5
    p = 100 * tp / (tp + fp)
    return (
        f"분류 모델이 {tp + fp}건을 위험으로 표시했고 그중 {tp}건이 실제 위험이었습니다. 정밀도는?",
        f"A model flagged {tp + fp} cases as risky and {tp} of them really were. What is its precision?",
        [f"{p:.1f}%", f"{100 - p:.1f}%", f"{100 * fp / tp:.1f}%", f"{100 * tp / (tp + 2 * fp):.1f}%"],
        4,
    )


def recall(r: random.Random) -> Item:
    tp = r.randint(4, 40) * 5
    fn = r.randint(1, 20) * 5
    q = 100 * tp / (tp + fn)
    return (
        f"실제 위험 {tp + fn}건 중 모델이 {tp}건을 찾아냈습니다. 재현율은?",
        f"Of {tp + fn} truly risky cases, a model found {tp}. What is its recall?",
        [f"{q:.1f}%", f"{100 - q:.1f}%", f"{100 * fn / tp:.1f}%", f"{100 * tp / (tp + 2 * fn):.1f}%"],
        4,
    )


FAMILIES: list[tuple[str, str, Family]] = [
    ("data-literacy", "TAB", cells),
    ("data-literacy", "SHR", share),
    ("data-collection", "RSP", response_rate),
    ("data-collection", "SMP", sample_size),
    ("data-analysis", "AVG", mean),
    ("data-analysis", "MED", median),
    ("analysis-tools", "CHG", change),
    ("analysis-tools", "PCP", per_capita),
    ("modelling-ai", "PRC", precision),
    ("modelling-ai", "RCL", recall),
]
LEVEL_B = {0: -2.0, 1: -1.0, 2: 0.0, 3: 1.0, 4: 2.0}


PER_FAMILY = 70
SEED_FILE = Path(__file__).parent / "seed_bank.json"


def generate(per_family: int = PER_FAMILY, seed: int = 2026) -> list[dict[str, object]]:
    r = random.Random(seed)
    out: list[dict[str, object]] = []
    for domain, tag, family in FAMILIES:
        seen: set[str] = set()
        k = 0
        while k < per_family:
            ko, en, options, level = family(r)
            if en in seen or len(set(options)) < 4:
                continue
            seen.add(en)
            k += 1
            order = r.sample(range(4), 4)
            out.append(
                {
                    "code": f"SEED-{tag}-{k:03d}",
                    "domain": domain,
                    "a": round(r.uniform(1.7, 2.3), 2),
                    "b": round(LEVEL_B[level] + r.uniform(-1.5, 1.5), 2),
                    "c": 0.1,
                    "stem": {"ko": ko, "en": en},
                    "options": [options[i] for i in order],
                    "answer": order.index(0),
                    "status": "active",
                    "calibrated": False,
                }
            )
    return out


def main() -> None:
    data = json.loads(SEED_FILE.read_text())
    tags = {f"SEED-{tag}-" for _, tag, _ in FAMILIES}
    written = [i for i in data["items"] if not any(i["code"].startswith(t) for t in tags)]
    for item in written:
        item["a"], item["c"] = 1.5, 0.15
    data["items"] = written + generate()
    SEED_FILE.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")
    print(f"{len(data['items'])} items ({len(written)} written by hand) in {SEED_FILE}")


if __name__ == "__main__":
    main()
