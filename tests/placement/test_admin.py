"""Admin statistics, calibration over HTTP on simulated responses, pretest items in live
sessions, the seed bank and the simulate command."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
from click.testing import CliRunner

from services.common.db import plain_url
from services.placement.cli import cli
from services.placement.domain.cat.model import prob
from services.placement.seed import seed, seed_rows
from tests.placement.conftest import DOMAIN_NAMES, Service, bank_rows, finish, learner, load_bank, make_app
from tests.support import Keys, client_for

SERVICE = "placement"


async def test_stats_exposure_lengths_and_levels(svc: Service, bank, keys: Keys) -> None:
    for k in range(3):
        await finish(svc.client, learner(keys, f"stat-{k}"), bank, right=k != 1)
    await svc.client.post("/v1/sessions", headers=learner(keys, "stat-open"))
    stats = (await svc.client.get("/v1/admin/stats", headers=keys.headers("admin"))).json()
    assert stats["sessions_started"] == 4 and stats["sessions_completed"] == 3
    assert sum(d["count"] for d in stats["level_distribution"]) == 3
    assert sum(d["count"] for d in stats["length_distribution"]) == 3
    assert all(3 <= d["value"] <= 5 for d in stats["length_distribution"])
    used = [i for i in stats["items"] if i["administered"]]
    assert used and all(i["exposure_rate"] == round(i["administered"] / 4, 4) for i in used)
    assert stats["max_exposure_rate"] == max(i["exposure_rate"] for i in stats["items"])
    assert sum(i["answered"] for i in stats["items"]) >= 9
    assert (await svc.client.get("/v1/admin/stats", headers=learner(keys, "x"))).status_code == 403


async def test_pretest_items_served_unscored(database_url: str, keys: Keys) -> None:
    async with client_for(make_app(database_url, min_items=3, max_items=4, pretest_rate=0.95, pretest_max=1)) as c:
        bank = await load_bank(c, keys, bank_rows(per_domain=4, pretest=1))
        reply = await finish(c, learner(keys, "pre-1"), bank)
        result = (await c.get(f"/v1/results/{reply['result']['id']}", headers=keys.headers("admin"))).json()
    pretest_codes = {f"T-{d}-004" for d in range(5)}
    used = [(i["code"], i["scored"]) for i in result["items"]]
    assert any(code in pretest_codes and not scored for code, scored in used), used
    assert all(scored for code, scored in used if code not in pretest_codes)
    assert result["length"] == sum(1 for _, scored in used if scored)


async def test_calibration_run_review_and_publish(svc: Service, keys: Keys, database_url: str) -> None:
    admin = keys.headers("admin", sub="calibrator")
    rng = np.random.default_rng(5)
    true_a = rng.uniform(0.8, 2.0, 10)
    true_b = rng.normal(0, 0.8, 10)
    rows = [
        {
            "code": f"CAL-{k}",
            "domain": DOMAIN_NAMES[k % 5],
            "a": 1.0,
            "b": 0.0,
            "stem": f"Item {k}",
            "options": ["x", "y"],
            "answer": 0,
            "status": "pretest" if k == 9 else "active",
        }
        for k in range(10)
    ]
    assert (await svc.client.post("/v1/items/import", json=rows, headers=admin)).status_code == 200
    assert (await svc.client.post("/v1/bank/versions", headers=admin)).status_code == 201
    r = await svc.client.post("/v1/calibrations", headers=admin)
    assert r.status_code == 409 and r.json()["type"] == "urn:lms:problem:no-responses"
    # simulated officials answered every item: write their sessions and responses directly
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        version = await conn.fetchval("SELECT id FROM bank_version WHERE active")
        items = await conn.fetch("SELECT idx, item_id, code FROM version_item WHERE version_id = $1", version)
        order = {r["code"]: r for r in items}
        people = 2000
        theta = rng.standard_normal(people)
        p = prob(theta[:, None], true_a[None, :], true_b[None, :], np.zeros((1, 10)))
        u = rng.random(p.shape) < p
        now = datetime.now(UTC)
        sessions, responses = [], []
        for person in range(people):
            sid = uuid.uuid4()
            sessions.append(
                (sid, f"sim-{person}", "", "", version, "completed", "{}", [], [], [], False, 0.0, 1.0, now, now)
            )
            for k in range(10):
                row = order[f"CAL-{k}"]
                responses.append(
                    (sid, k + 1, version, row["idx"], row["item_id"], 0, bool(u[person, k]), k != 9, now, "{}")
                )
        await conn.copy_records_to_table(
            "diagnostic_session",
            records=sessions,
            columns=[
                "id",
                "official_id",
                "official_name",
                "official_org",
                "version_id",
                "status",
                "config",
                "items",
                "scored",
                "responses",
                "current_pretest",
                "theta",
                "se",
                "started_at",
                "last_activity_at",
            ],
        )
        await conn.copy_records_to_table(
            "response",
            records=responses,
            columns=[
                "session_id",
                "position",
                "version_id",
                "idx",
                "item_id",
                "choice",
                "correct",
                "scored",
                "answered_at",
                "reply",
            ],
        )
    finally:
        await conn.close()
    keyed = {**admin, "Idempotency-Key": "calibrate-once"}
    r = await svc.client.post("/v1/calibrations", json={"model": "2pl", "min_responses": 50}, headers=keyed)
    assert r.status_code == 201, r.text
    run = r.json()
    retry = await svc.client.post("/v1/calibrations", json={"model": "2pl", "min_responses": 50}, headers=keyed)
    assert retry.status_code == 200 and retry.json()["id"] == run["id"]
    assert run["status"] == "draft" and run["responses"] == 20000 and run["examinees"] == 2000
    by_code = {i["code"]: i for i in run["items"]}
    est_a = np.array([by_code[f"CAL-{k}"]["new"]["a"] for k in range(10)])
    est_b = np.array([by_code[f"CAL-{k}"]["new"]["b"] for k in range(10)])
    assert np.abs(est_a - true_a).max() < 0.35 and np.abs(est_b - true_b).max() < 0.25
    assert all(i["old"] == {"a": 1.0, "b": 0.0, "c": 0.0} for i in run["items"])
    assert all(i["fit_chi2"] is not None and i["standard_errors"]["b"] > 0 for i in run["items"])
    # nothing changes until it is published
    assert (await svc.client.get(f"/v1/calibrations/{run['id']}", headers=admin)).json()["status"] == "draft"
    listed = (await svc.client.get("/v1/items", headers=admin)).json()["items"]
    assert all(i["a"] == 1.0 for i in listed)
    published = await svc.client.post(f"/v1/calibrations/{run['id']}/publish", headers=admin)
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert published.json()["published_version"] == 2 and published.json()["bank_version"] == 2
    again = await svc.client.post(f"/v1/calibrations/{run['id']}/publish", headers=admin)
    assert again.json()["published_version"] == 2
    items = {i["code"]: i for i in (await svc.client.get("/v1/items", headers=admin)).json()["items"]}
    assert items["CAL-3"]["calibrated"] is True and items["CAL-3"]["a"] == by_code["CAL-3"]["new"]["a"]
    assert items["CAL-9"]["status"] == "active"  # the pretest item graduated
    version = (await svc.client.get("/v1/bank/versions/2", headers=admin)).json()
    assert version["active"] and version["calibrated"]
    assert version["c_prior"] == [2.0, 20.0]  # kept from version 1, the default
    assert run["c_prior"] is None  # a 2PL run has no prior on c
    assert (await svc.client.post("/v1/calibrations", headers=learner(keys, "l"))).status_code == 403
    await _c_prior_per_bank_version(svc, admin)


async def _c_prior_per_bank_version(svc: Service, admin: dict[str, str]) -> None:
    """The Beta prior on c belongs to the bank version: a 3PL run uses the active version's (and
    records it), a run may name its own, and bad priors are refused with a problem."""
    three = {"model": "3pl", "min_responses": 50}
    default = await svc.client.post("/v1/calibrations", json=three, headers=admin)
    assert default.status_code == 201 and default.json()["c_prior"] == [2.0, 20.0]
    for bad in ([0, 20], [2], [2, 20, 1], [-1, 5], ["x", 5], [2, 1e6]):
        for path, body in (("/v1/bank/versions", {"c_prior": bad}), ("/v1/calibrations", {**three, "c_prior": bad})):
            r = await svc.client.post(path, json=body, headers=admin)
            assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json"), r.text
            assert "c_prior" in r.json()["detail"], r.text
    # the same items with another prior are another version; again with the same prior: that version
    strong = await svc.client.post("/v1/bank/versions", json={"c_prior": [5, 17]}, headers=admin)
    assert strong.status_code == 201 and strong.json()["c_prior"] == [5.0, 17.0] and strong.json()["number"] == 3
    same = await svc.client.post("/v1/bank/versions", json={"c_prior": [5, 17]}, headers=admin)
    assert same.status_code == 200 and same.json()["number"] == 3
    kept = await svc.client.post("/v1/bank/versions", json={"note": "no prior named"}, headers=admin)
    assert kept.status_code == 200 and kept.json()["number"] == 3 and kept.json()["c_prior"] == [5.0, 17.0]
    pulled = await svc.client.post("/v1/calibrations", json=three, headers=admin)
    assert pulled.status_code == 201 and pulled.json()["c_prior"] == [5.0, 17.0]
    named = await svc.client.post("/v1/calibrations", json={**three, "c_prior": [2, 20]}, headers=admin)
    assert named.status_code == 201 and named.json()["c_prior"] == [2.0, 20.0]

    def mean_c(run: dict[str, Any]) -> float:
        return float(np.mean([i["new"]["c"] for i in run["items"] if i["new"] is not None]))

    # the responses come from c = 0: the version's Beta(5, 17) (mode .2) pulls c up, Beta(2, 20) much less
    assert mean_c(pulled.json()) > mean_c(default.json()) + 0.03
    assert abs(mean_c(named.json()) - mean_c(default.json())) < 1e-9
    back = await svc.client.post("/v1/bank/versions", json={"c_prior": [2, 20]}, headers=admin)
    assert back.status_code == 200 and back.json()["number"] == 2  # the default prior: version 2's content


async def test_seed_is_idempotent(database_url: str, keys: Keys) -> None:
    rows = seed_rows()
    assert len(rows) >= 120 and {r["domain"] for r in rows} == set(DOMAIN_NAMES)
    assert all(isinstance(r["stem"], dict) and r["stem"]["ko"] and r["stem"]["en"] for r in rows)
    assert not any(r["calibrated"] for r in rows)
    first = await seed(database_url)
    assert f"{len(rows)} of {len(rows)} items added" in first and "not yet calibrated" in first
    second = await seed(database_url)
    assert f"0 of {len(rows)} items added" in second
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        assert await conn.fetchval("SELECT count(*) FROM item") == len(rows)
        assert await conn.fetchval("SELECT count(*) FROM bank_version") == 1
        assert await conn.fetchval("SELECT calibrated FROM bank_version WHERE active") is False
    finally:
        await conn.close()
    async with client_for(make_app(database_url)) as c:
        r = await c.post("/v1/sessions", headers=learner(keys, "seeded"))
        assert r.status_code == 201 and r.json()["current_item"]["stem"]["ko"]


def test_simulate_command(tmp_path) -> None:
    runner = CliRunner()
    bank_file = tmp_path / "bank.json"
    made = runner.invoke(cli, ["synth-bank", "--items", "150", "--model", "2pl", "--out", str(bank_file)])
    assert made.exit_code == 0, made.output
    common = ["simulate", "--bank", str(bank_file), "--examinees", "60", "--seed", "3", "--no-frontier", "--json"]
    r = runner.invoke(cli, common)
    assert r.exit_code == 0, r.output
    figures = json.loads(r.output)
    for key in (
        "exact_level_accuracy",
        "within_one_level_accuracy",
        "mean_length",
        "p95_length",
        "ability_rmse",
        "max_exposure_rate",
        "step_p50_us",
    ):
        assert key in figures
    assert figures["examinees"] == 60 and 0 <= figures["exact_level_accuracy"] <= 1
    same = runner.invoke(cli, common)
    assert json.loads(same.output)["mean_length"] == figures["mean_length"]  # reproducible by seed
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps([{"code": "x", "domain": "nope", "a": -1, "b": 0, "stem": "s", "options": ["a"], "answer": 0}])
    )
    r = runner.invoke(cli, ["simulate", "--bank", str(bad), "--examinees", "5"])
    assert r.exit_code != 0 and "row 1" in r.output


def test_simulate_prints_the_frontier_beside_the_engine(tmp_path, monkeypatch) -> None:
    """The frontier is an upper bound on the accuracy at the engine's mean length: above what the
    engine reaches (by E[acc], whose sampling error at 600 officials is about a point), below 1,
    the reported one the lower of the two bounds, and the gaps measured against it."""
    monkeypatch.setenv("LMS_PLACEMENT_MAX_ITEMS", "12")  # a short test keeps the bounds' programme small
    runner = CliRunner()
    bank_file = tmp_path / "bank.json"
    made = runner.invoke(cli, ["synth-bank", "--items", "150", "--model", "2pl", "--out", str(bank_file)])
    assert made.exit_code == 0, made.output
    args = ["simulate", "--bank", str(bank_file), "--draws", "1", "--examinees", "600", "--seed", "5", "--json"]
    r = runner.invoke(cli, args)
    assert r.exit_code == 0, r.output
    f = json.loads(r.output)
    assert f["max_length"] <= 12
    assert f["frontier"] == min(f["frontier_clairvoyant"], f["frontier_path"]) < 1
    assert f["frontier"] > f["expected_accuracy"] - 2 * f["expected_accuracy_ci95"]
    assert abs(f["frontier_gap_expected"] - (f["expected_accuracy"] - f["frontier"])) < 2e-4
    assert abs(f["frontier_gap_exact"] - (f["exact_level_accuracy"] - f["frontier"])) < 2e-4
    # the exposure-aware frontier (the engine keeps its ceiling): below the unconstrained one, above the engine
    exposure = f["frontier_exposure_aware"]
    assert exposure == min(f["frontier"], f["frontier_exposure_aware_priced_path"]) <= f["frontier"]
    assert exposure > f["expected_accuracy"] - 2 * f["expected_accuracy_ci95"]
    assert abs(f["frontier_exposure_aware_gap_expected"] - (f["expected_accuracy"] - exposure)) < 2e-4
    assert abs(f["frontier_exposure_aware_gap_exact"] - (f["exact_level_accuracy"] - exposure)) < 2e-4
    text = runner.invoke(cli, args[:-1])
    assert text.exit_code == 0 and "frontier_gap_expected" in text.output and "%" in text.output
    assert "frontier_exposure_aware_gap_expected" in text.output


async def test_live_exposure_counts_limit_items_over_http(database_url: str, keys: Keys) -> None:
    """Without exposure control every official would get the same (most informative) first item;
    the eligibility rule, fed by the live counts in the database, spreads them."""
    app = make_app(database_url, randomesque_items=0, max_exposure=0.25, exposure_warmup=1)
    async with client_for(app) as c:
        await load_bank(c, keys)
        firsts = []
        for k in range(8):
            r = await c.post("/v1/sessions", headers=learner(keys, f"exposed-{k}"))
            assert r.status_code == 201
            firsts.append(r.json()["current_item"]["item_id"])
        stats = (await c.get("/v1/admin/stats", headers=keys.headers("admin"))).json()
    assert stats["sessions_started"] == 8
    assert max(firsts.count(i) for i in set(firsts)) <= 2  # ceil(0.25 * 8)
    assert max(i["administered"] for i in stats["items"]) <= 2
