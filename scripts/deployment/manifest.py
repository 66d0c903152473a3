"""Every deployed function, read from the action tables: its namespace, memory, timeout,
trigger, and the settings it is given.

Namespaces: SCF allows 50 functions per namespace and 5 namespaces per region. Functions are
grouped by area (the package of their domain module) into the namespace groups of
``NAMESPACE_GROUPS``; an area nobody listed goes to ``shop-more``; a group that outgrows 50
functions spills whole areas into ``<group>-2``, ``<group>-3`` (an area of more than 50 is cut
by name). More than 4 namespaces of ours (the region's ``default`` is the fifth) is an error,
not a silent deploy.

Environment: a function's variables total at most 4 KB on SCF. A function gets only the
settings the code it can run reads: the modules its action (or timer, notify, invoke) loads,
what they import (imports inside functions count), and the subscribers of the domain events
they publish; plus everything ``shared.core`` reads and what production refuses to start
without. A setting no module names (one added elsewhere and not used yet) goes to every
function, so nothing is ever missing.
"""
from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Optional, get_args, get_origin

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from shared.core.actions import (  # noqa: E402
    ACTIONS,
    INTERNAL_FUNCTIONS,
    NOTIFY_ROUTES,
    SUBSCRIBERS,
    TIMERS,
)
from shared.core.config import Settings  # noqa: E402
from shared.core.http import GATEWAY_FUNCTION  # noqa: E402

RUNTIME = "Python3.10"  # SCF's newest Python runtime (CloudBase also has 3.11)
HANDLER = "index.main_handler"
LAYER_NAME = "shop-lib"
MAX_FUNCTIONS_PER_NAMESPACE = 50
MAX_NAMESPACES = 4   # SCF's 5 a region, less the "default" every region has
ENV_BUDGET_BYTES = 4096
LAYER_ZIP_LIMIT_BYTES = 50 * 1024 * 1024   # PublishLayerVersion's ZipFile
SLIM_LAYER_BYTES = 30 * 1000 * 1000        # our own ceiling for the zipped layer

# namespace -> the areas it holds, in this order (first fill first)
NAMESPACE_GROUPS: dict[str, tuple[str, ...]] = {
    "shop-core": ("core", "accounts", "catalog", "storage", "messaging", "live"),
    "shop-trade": ("orders", "checkout", "payments", "loyalty"),
    "shop-growth": ("nearby", "marketing", "social"),
    # SCF allows 5 namespaces a region, "default" among them: four of ours, at most 50 each
    "shop-data": ("insight", "reco", "forecast", "assistant", "trace", "ar"),
}
DEFAULT_GROUP = "shop-more"

# timer -> (cron with seconds and year, memory MB, timeout s); SCF reads crons in UTC+8
TIMER_SCHEDULES: dict[str, tuple[str, int, int]] = {
    "order_timeout": ("0 * * * * * *", 256, 60),
    "pay_reconcile": ("30 * * * * * *", 256, 60),
    "group_buy_expire": ("15 * * * * * *", 256, 60),
    "outbox_send": ("45 * * * * * *", 256, 120),
    "cart_reminder": ("0 5 * * * * *", 512, 300),
    "birthday_coupons": ("0 0 9 * * * *", 512, 300),
    "campaign_dispatch": ("0 * * * * * *", 512, 300),
    "points_expiry": ("0 30 3 * * * *", 512, 300),
    "order_events": ("20 * * * * * *", 256, 60),
    # insight: the rollups every 5 minutes (bounded per run), the rule tags every hour
    "insight_rollup": ("0 */5 * * * * *", 512, 300),
    "tags_refresh": ("0 10 * * * * *", 512, 600),
    # 08:15 in UTC+8 is 00:15 UTC: yesterday's (UTC) trace events are all in
    "trace_anchor": ("0 15 8 * * * *", 256, 120),
    "forecast_train": ("0 10 2 * * * *", 512, 300),   # 02:10 Beijing, after the day closes
    # nightly at 03:10 China time, after the day's orders: the recommendation model
    "reco_train": ("0 10 3 * * * *", 1024, 900),
    "assistant_purge": ("0 40 4 * * * *", 256, 120),    # conversations past retention, daily
    "assistant_inbox": ("50 * * * * * *", 256, 60),     # WeChat messages left unanswered
    "live_sync": ("0 */5 * * * * *", 256, 120),           # rooms, status, goods, replays
    "live_reminders": ("10 * * * * * *", 256, 60),        # a minute's precision on 10 minutes
    "commission_release": ("0 20 * * * * *", 256, 120),   # hourly: windows are days long
}
# a timer added to TIMERS without a line above still deploys, every five minutes
DEFAULT_TIMER_SCHEDULE = ("0 */5 * * * * *", 256, 120)

# what a function is given besides the settings: fixed for the production deployment
# how the interpreter of every deployed function runs: pydantic looks for plugins among the
# installed distributions' entry points when it builds its first validator (a scan of every
# dist-info at each cold start); the shop uses none (cold start, issue 14)
RUNTIME_FLAGS = {"PYDANTIC_DISABLE_PLUGINS": "__all__"}
FIXED_ENVIRONMENT = {"SHOP_ENV": "production", **RUNTIME_FLAGS}
# settings a deployed function never needs (the dev gateway's port, the tests' database)
NOT_DEPLOYED = frozenset({"SHOP_ENV", "PORT", "TEST_MONGODB_URI"})
# settings the deploy writes itself, from where it put the functions
DERIVED = frozenset({"SCF_NAMESPACE", "SCF_REGION", "FANOUT_FUNCTION"})
# trusted only where CloudBase injects the identity (cloudbaserc.json sets it)
CLOUDBASE_ONLY = frozenset({"TRUST_CLOUDBASE_IDENTITY"})
SECRETS = frozenset({"MONGODB_URI", "TOKEN_SECRET", "MERCHANT_TOKEN", "WX_SECRET",
                     "WXPAY_APIV3_KEY", "S3_SECRET_ACCESS_KEY", "TENCENTCLOUD_SECRET_KEY"})

# the longest value we expect of a setting, to hold the 4 KB budget before knowing the values
_VALUE_ESTIMATES = (("MONGODB_URI", 200), ("WX_MESSAGE_AES_KEY", 43),
                    ("WX_MESSAGE_TOKEN", 32), ("_URL", 128), ("_BASE", 64), ("_PATH", 64),
                    ("SECRET", 64), ("TOKEN", 64), ("_KEY", 64), ("_ID", 40))


def estimated_length(setting: str) -> int:
    field_info = Settings.model_fields.get(setting)
    default = "" if field_info is None or field_info.default is None else str(field_info.default)
    # a number or a flag first: UPLOAD_URL_TTL_SECONDS is seconds, not a URL
    bounded = _bounded_length(field_info)
    if bounded is not None:
        return max(len(default), bounded)
    for fragment, length in _VALUE_ESTIMATES:
        if fragment in setting:
            return length
    return max(len(default), 16)


def _bounded_length(field_info: Any) -> Optional[int]:
    """The longest text a setting's declaration allows: a boolean (5), a Literal (its longest
    choice), a number bounded both ways (an int up to 3650 is 4 characters, not 16; floats get
    6 more for decimals), a text with ``max_length``. None when unbounded: the estimates."""
    if field_info is None:
        return None
    annotation = field_info.annotation
    if annotation is bool:
        return 5
    if get_origin(annotation) is Literal:
        return max(len(str(choice)) for choice in get_args(annotation))
    if annotation is str and field_info.max_length is not None:
        return int(field_info.max_length)
    if annotation not in (int, float):
        return None
    upper = field_info.le if field_info.le is not None else field_info.lt
    lower = field_info.ge if field_info.ge is not None else field_info.gt
    if upper is None or lower is None:
        return None
    longest = max(len(str(int(upper))), len(str(int(lower))))
    return longest + (6 if annotation is float else 0)


@dataclass(frozen=True)
class Function:
    name: str
    kind: str          # action | notify | internal | timer | gateway
    module: str        # the module the call loads first
    area: str
    namespace: str
    memory: int
    timeout: int
    settings: tuple[str, ...]
    cron: Optional[str] = None
    http_path: Optional[str] = None   # the route this function answers over HTTP

    @property
    def description(self) -> str:
        return f"shop-backend {self.name} ({self.kind})"

    @property
    def scf_settings(self) -> tuple[str, ...]:
        """The settings passed on SCF: CloudBase's identity is never trusted there."""
        return tuple(name for name in self.settings if name not in CLOUDBASE_ONLY)

    def environment(self, values: dict[str, str], derived: dict[str, str]) -> dict[str, str]:
        """The variables this function is given: fixed, derived, and the settings it reads
        that ``values`` sets (an unset setting keeps its default)."""
        env = dict(FIXED_ENVIRONMENT)
        for name in self.scf_settings:
            if name in derived:
                env[name] = derived[name]
            elif values.get(name):
                env[name] = values[name]
        return env

    def estimated_env_bytes(self) -> int:
        fixed = sum(len(k) + 1 + len(v) for k, v in FIXED_ENVIRONMENT.items())
        return fixed + sum(len(name) + 1 + estimated_length(name) for name in self.settings)


@dataclass(frozen=True)
class Manifest:
    functions: tuple[Function, ...]
    namespaces: tuple[str, ...]
    fanout_function: str = "marketing_push_batch"
    extra: dict[str, str] = field(default_factory=dict)

    def by_name(self) -> dict[str, Function]:
        return {f.name: f for f in self.functions}

    def in_namespace(self, namespace: str) -> list[Function]:
        return [f for f in self.functions if f.namespace == namespace]

    def derived_environment(self, region: str) -> dict[str, str]:
        fanout = self.by_name().get(self.fanout_function)
        derived = {"SCF_REGION": region, "FANOUT_FUNCTION": self.fanout_function}
        if fanout is not None:
            derived["SCF_NAMESPACE"] = fanout.namespace
        return derived


class ManifestError(RuntimeError):
    """The action tables cannot be deployed within SCF's quotas."""


# ---- which settings a function reads -----------------------------------------------------------

def _module_file(module: str) -> Optional[Path]:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _all_modules() -> list[str]:
    modules = []
    for path in sorted((ROOT / "shared").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


@lru_cache(maxsize=None)
def _imports(module: str) -> frozenset[str]:
    """The shared.* modules ``module`` imports anywhere in its body."""
    path = _module_file(module)
    if path is None:
        return frozenset()
    known = set(_all_modules())
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name.startswith("shared"):
                if name in known:
                    found.add(name)
                    break
                name = name.rpartition(".")[0]
    return frozenset(found)


@lru_cache(maxsize=None)
def _source(module: str) -> str:
    path = _module_file(module)
    return path.read_text(encoding="utf-8") if path else ""


def _publishes(module: str) -> bool:
    return re.search(r"\bpublish\(", _source(module)) is not None and \
        module != "shared.core.events"


def _subscriber_modules() -> set[str]:
    return {entry.split(":", 1)[0] for entries in SUBSCRIBERS.values() for entry in entries}


def reachable_modules(roots: set[str]) -> set[str]:
    """What a call that starts in ``roots`` can load: imports, then event subscribers."""
    seen: set[str] = set()
    todo = list(roots | {m for m in _all_modules() if m.startswith("shared.core.")})
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(_imports(module) - seen)
        if _publishes(module):
            todo.extend(_subscriber_modules() - seen)
    return seen


def _production_required() -> set[str]:
    """What the settings object itself reads (check_production and the properties it uses):
    every function loads the settings, and production refuses to start without these."""
    for node in ast.walk(ast.parse(_source("shared.core.config"))):
        if isinstance(node, ast.ClassDef) and node.name == "Settings":
            return {n.attr for method in node.body if isinstance(method, ast.FunctionDef)
                    for n in ast.walk(method)
                    if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                    and n.value.id == "self" and n.attr in Settings.model_fields} \
                - Settings.CHECKED_WHEN_SET
    return set()


def _deployed_settings() -> list[str]:
    return [name for name in Settings.model_fields if name not in NOT_DEPLOYED]


@lru_cache(maxsize=None)
def _readers() -> dict[str, frozenset[str]]:
    """setting -> the modules (outside config.py) whose source names it."""
    modules = [m for m in _all_modules() if m != "shared.core.config"]
    return {name: frozenset(m for m in modules if re.search(rf"\b{name}\b", _source(m)))
            for name in _deployed_settings()}


def settings_for(roots: set[str]) -> tuple[str, ...]:
    reach = reachable_modules(roots)
    required = _production_required()
    chosen = [name for name, readers in _readers().items()
              if name in required or not readers or readers & reach]
    return tuple(chosen)


# ---- the functions -------------------------------------------------------------------------------

def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "shared" else "core"


def _declared() -> list[tuple[str, str, str]]:
    """(name, kind, module) of every deployed function: dev-only actions are not deployed."""
    found = [(GATEWAY_FUNCTION, "gateway", "shared.core.http")]
    found += [(name, "action", action.module) for name, action in sorted(ACTIONS.items())
              if not action.auth.startswith("dev")]
    found += [(name, "notify", route[1]) for name, route in sorted(NOTIFY_ROUTES.items())]
    found += [(name, "internal", entry[0]) for name, entry in sorted(INTERNAL_FUNCTIONS.items())]
    found += [(name, "timer", entry[0]) for name, entry in sorted(TIMERS.items())]
    return found


def _group_of(area: str) -> str:
    for group, areas in NAMESPACE_GROUPS.items():
        if area in areas:
            return group
    return DEFAULT_GROUP


def _area_order(area: str) -> tuple[int, str]:
    order = [a for areas in NAMESPACE_GROUPS.values() for a in areas]
    return (order.index(area) if area in order else len(order), area)


def assign_namespaces(areas: dict[str, str],
                      limit: int = MAX_FUNCTIONS_PER_NAMESPACE) -> dict[str, str]:
    """function -> namespace: by area into its group, overflowing whole areas into
    ``<group>-2``...; an area larger than ``limit`` is cut by function name."""
    by_group: dict[str, dict[str, list[str]]] = {}
    for name, area in areas.items():
        by_group.setdefault(_group_of(area), {}).setdefault(area, []).append(name)
    placed: dict[str, str] = {}
    for group in list(NAMESPACE_GROUPS) + [DEFAULT_GROUP]:
        buckets: list[list[str]] = [[]]
        for area in sorted(by_group.get(group, {}), key=_area_order):
            names = sorted(by_group[group][area])
            chunks = [names[i:i + limit] for i in range(0, len(names), limit)]
            for chunk in chunks:
                if len(buckets[-1]) + len(chunk) > limit:
                    buckets.append([])
                buckets[-1].extend(chunk)
        for index, bucket in enumerate(buckets):
            namespace = group if index == 0 else f"{group}-{index + 1}"
            placed.update({name: namespace for name in bucket})
    return placed


def build() -> Manifest:
    declared = _declared()
    namespaces = assign_namespaces({name: _area(module) for name, _, module in declared})
    functions = []
    # the gateway answers HTTP (actions and notifies), never a timer or an async invoke: it
    # needs the settings of what it serves, not those of timers' own modules
    served = {module for _, kind, module in declared if kind in ("action", "notify")}
    for name, kind, module in declared:
        memory, timeout, cron, path = 256, 10, None, None
        roots = {module}
        if kind == "gateway":
            memory, timeout, path, roots = 512, 30, "/", served | {module}
        elif kind == "action":
            path = f"/api/{name}"
        elif kind == "notify":
            path = NOTIFY_ROUTES[name][0]
        elif kind == "internal":
            memory, timeout = 512, 300
        else:
            cron, memory, timeout = TIMER_SCHEDULES.get(name, DEFAULT_TIMER_SCHEDULE)
        functions.append(Function(name=name, kind=kind, module=module, area=_area(module),
                                  namespace=namespaces[name], memory=memory, timeout=timeout,
                                  settings=settings_for(roots), cron=cron, http_path=path))
    used = sorted(set(namespaces.values()), key=lambda ns: (ns.split("-")[0:2], ns))
    manifest = Manifest(functions=tuple(functions), namespaces=tuple(used))
    check(manifest)
    return manifest


def check(manifest: Manifest) -> None:
    problems = []
    if len(manifest.namespaces) > MAX_NAMESPACES:
        problems.append(f"{len(manifest.namespaces)} namespaces, SCF allows {MAX_NAMESPACES}")
    for namespace in manifest.namespaces:
        count = len(manifest.in_namespace(namespace))
        if count > MAX_FUNCTIONS_PER_NAMESPACE:
            problems.append(f"{namespace}: {count} functions, SCF allows "
                            f"{MAX_FUNCTIONS_PER_NAMESPACE}")
    for function in manifest.functions:
        if len(function.namespace) + len(function.name) > 118 or len(function.name) > 60:
            problems.append(f"{function.name}: name too long for SCF")
        if function.estimated_env_bytes() > ENV_BUDGET_BYTES:
            problems.append(f"{function.name}: environment may reach "
                            f"{function.estimated_env_bytes()} bytes, SCF allows "
                            f"{ENV_BUDGET_BYTES}")
    if problems:
        raise ManifestError("; ".join(problems))
