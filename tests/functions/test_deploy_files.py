"""The generated deployment files: serverless.yml per namespace in serverless-cloud-framework's
multi-scf format, within SCF's quotas (50 functions a namespace, 5 namespaces, 4 KB of
environment a function), and cloudbaserc.json for CloudBase."""
from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

from deployment import files, manifest  # noqa: E402

SECRET_SETTINGS = ("MONGODB_URI", "TOKEN_SECRET", "MERCHANT_TOKEN", "WX_SECRET",
                   "WXPAY_APIV3_KEY", "TENCENTCLOUD_SECRET_KEY")


def instances() -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(ROOT.glob("sls-*/serverless.yml")):
        found[path.parent.name] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return found


def deployed_names() -> set[str]:
    from shared.core.actions import ACTIONS, INTERNAL_FUNCTIONS, NOTIFY_ROUTES, TIMERS
    return ({n for n, a in ACTIONS.items() if not a.auth.startswith("dev")} | set(TIMERS)
            | set(NOTIFY_ROUTES) | set(INTERNAL_FUNCTIONS) | {"gateway"})


def test_the_root_serverless_yml_is_the_parent_of_one_instance_per_namespace():
    parent = yaml.safe_load((ROOT / "serverless.yml").read_text(encoding="utf-8"))
    # a parent with a component would be deployed itself instead of the folders below it
    assert set(parent) == {"app", "stage"}
    found = instances()
    assert 2 <= len(found) <= manifest.MAX_NAMESPACES
    for folder, instance in found.items():
        assert instance["component"] == "multi-scf"
        assert (instance["app"], instance["stage"]) == (parent["app"], parent["stage"])
        assert folder == f"sls-{instance['inputs']['namespace']}"
        assert instance["name"] == instance["inputs"]["namespace"]


def test_every_deployed_function_is_in_exactly_one_namespace_of_at_most_50():
    seen: list[str] = []
    for instance in instances().values():
        functions = instance["inputs"]["functions"]
        assert len(functions) <= 50
        seen += [spec["name"] for spec in functions.values()]
    assert sorted(seen) == sorted(deployed_names())


def test_dev_only_actions_are_not_deployed():
    from shared.core.actions import ACTIONS
    dev_only = {n for n, a in ACTIONS.items() if a.auth.startswith("dev")}
    deployed = {spec["name"] for i in instances().values()
                for spec in i["inputs"]["functions"].values()}
    assert dev_only and not dev_only & deployed


def test_functions_are_python_3_10_with_the_layer_and_their_own_folder():
    for instance in instances().values():
        assert instance["inputs"]["runtime"] == "Python3.10"
        assert instance["inputs"]["src"]["src"] == "../functions"
        for spec in instance["inputs"]["functions"].values():
            assert spec["handler"] == "index.main_handler"
            assert (ROOT / "functions" / spec["src"] / "index.py").is_file()
            assert spec["layers"] == [{"name": "shop-lib", "version": "${env:SHOP_LAYER_VERSION}"}]
            assert 64 <= spec["memorySize"] <= 3072 and 1 <= spec["timeout"] <= 900


def test_environments_are_key_value_lists_never_an_environment_mapping():
    for instance in instances().values():
        for spec in instance["inputs"]["functions"].values():
            assert "environment" not in spec  # multi-scf overwrites it with `environments`
            env = spec["environments"]
            assert all(set(item) == {"key", "value"} for item in env)
            assert all(isinstance(item["value"], str) for item in env)
            assert {"key": "SHOP_ENV", "value": "production"} in env
            keys = [item["key"] for item in env]
            assert len(keys) == len(set(keys))
            assert "TRUST_CLOUDBASE_IDENTITY" not in keys  # SCF: never trust CloudBase identity


def test_secrets_come_from_the_deployer_s_environment_and_are_never_written():
    text = "".join(p.read_text(encoding="utf-8") for p in ROOT.glob("sls-*/serverless.yml"))
    for instance in instances().values():
        for spec in instance["inputs"]["functions"].values():
            for item in spec["environments"]:
                if item["key"] in SECRET_SETTINGS:
                    assert item["value"] == "${env:%s}" % item["key"]
    assert "dev-token-secret" not in text and "dev-merchant-token" not in text


def test_every_setting_is_passable_from_the_environment():
    from shared.core.config import Settings
    passed = {item["key"] for i in instances().values()
              for spec in i["inputs"]["functions"].values() for item in spec["environments"]}
    cloudbase_only = {"TRUST_CLOUDBASE_IDENTITY"}
    assert set(Settings.model_fields) - manifest.NOT_DEPLOYED - cloudbase_only <= passed


def test_no_function_environment_can_exceed_4_kb():
    """Estimated with long values (a 200-byte MONGODB_URI, 64-byte secrets, 128-byte URLs):
    the deploy checks the real values again before it sends them."""
    plan = manifest.build()
    worst = max(plan.functions, key=lambda f: f.estimated_env_bytes())
    assert worst.estimated_env_bytes() <= 4096, worst.name


def test_a_function_gets_only_the_settings_its_code_reads():
    plan = manifest.build().by_name()
    assert "WXPAY_APIV3_KEY" not in plan["list_products"].settings
    assert "UPLOAD_URL_TTL_SECONDS" not in plan["list_products"].settings
    # a profile's avatar is an upload of the shopper's: the accounts module checks it
    assert "UPLOAD_MAX_BYTES" in plan["update_profile"].settings
    assert "UPLOAD_URL_TTL_SECONDS" in plan["get_upload_url"].settings
    # paid orders reach loyalty through the order_paid subscribers
    assert "POINTS_PER_YUAN" in plan["pay_notify"].settings
    assert {"MONGODB_URI", "TOKEN_SECRET", "WX_APPID"} <= set(plan["list_products"].settings)
    assert set(plan["gateway"].settings) >= set(plan["pay_notify"].settings)


def test_the_fan_out_is_told_where_marketing_push_batch_is_deployed():
    plan = manifest.build()
    where = plan.by_name()["marketing_push_batch"].namespace
    derived = plan.derived_environment("ap-shanghai")
    assert derived == {"SCF_REGION": "ap-shanghai", "FANOUT_FUNCTION": "marketing_push_batch",
                       "SCF_NAMESPACE": where}
    env = plan.by_name()["cart_reminder"].environment({"SCF_NAMESPACE": "default"}, derived)
    assert env["SCF_NAMESPACE"] == where and env["FANOUT_FUNCTION"] == "marketing_push_batch"


def test_timers_have_seven_field_crons_in_their_namespace():
    from shared.core.actions import TIMERS
    from shared.core.cron import Cron
    triggers = {}
    for instance in instances().values():
        names = {spec["name"] for spec in instance["inputs"]["functions"].values()}
        for trigger in instance["inputs"].get("triggers", []):
            assert trigger["type"] == "timer" and trigger["function"] in names
            triggers[trigger["function"]] = trigger["parameters"]
    assert set(triggers) == set(TIMERS)
    for parameters in triggers.values():
        assert len(parameters["cronExpression"].split()) == 7
        Cron(parameters["cronExpression"])
        assert parameters["enable"] is True


def test_more_functions_spill_into_more_namespaces_never_over_50():
    areas = {f"catalog_extra_{n:03}": "catalog" for n in range(70)}
    areas |= {f"insight_{n:03}": "insight" for n in range(45)}
    areas |= {f"reco_{n:03}": "reco" for n in range(20)}
    areas |= {f.name: f.area for f in manifest.build().functions}
    placed = manifest.assign_namespaces(areas)
    counts: dict[str, int] = {}
    for namespace in placed.values():
        counts[namespace] = counts.get(namespace, 0) + 1
    assert max(counts.values()) <= 50
    assert set(placed) == set(areas)
    assert placed["insight_000"] == placed["insight_044"]  # an area that fits stays together
    assert placed["login"] == "shop-core"


def test_more_namespaces_than_scf_allows_is_refused(monkeypatch):
    many = {f"f{n:04}": f"area{n % 12}" for n in range(400)}
    placed = manifest.assign_namespaces(many)
    functions = tuple(manifest.Function(name=n, kind="action", module="shared.x.y", area="x",
                                        namespace=ns, memory=256, timeout=10, settings=())
                      for n, ns in placed.items())
    with pytest.raises(manifest.ManifestError, match="namespaces"):
        manifest.check(manifest.Manifest(functions=functions,
                                         namespaces=tuple(sorted(set(placed.values())))))


def test_cloudbaserc_json_deploys_the_same_functions_trusting_cloudbase_identity():
    config = json.loads((ROOT / "cloudbaserc.json").read_text(encoding="utf-8"))
    assert config["version"] == "2.0" and config["functionRoot"] == "./functions"
    names = {f["name"] for f in config["functions"]}
    assert names == deployed_names() - {"gateway"}
    for function in config["functions"]:
        assert function["runtime"] == "Python3.10"
        assert function["handler"] == "index.main_handler"
        assert function["envVariables"]["TRUST_CLOUDBASE_IDENTITY"] == "1"
        assert function["envVariables"]["SHOP_ENV"] == "production"
        assert re.fullmatch(r"\{\{env\.[A-Z_]+\}\}", function["envVariables"]["MONGODB_URI"])
    timers = {f["name"]: f["triggers"] for f in config["functions"] if "triggers" in f}
    from shared.core.actions import TIMERS
    assert set(timers) == set(TIMERS)


def test_the_generated_files_are_what_the_tables_give():
    for relative, text in files.generated_files(manifest.build()).items():
        assert (ROOT / relative).read_text(encoding="utf-8") == text, \
            f"{relative}: run scripts/gen_functions"
