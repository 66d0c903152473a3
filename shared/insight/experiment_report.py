"""The report of an A/B test: per variant its users, conversions and revenue, and the tests of
each treatment against the control (the first variant), with shared.insight.stats.

Who counts: every subject with an exposure, once. A device that became a user (linked by
``user_id``, or named by a user's ``from_device``) counts as that user only.

What counts: only what happens after a subject's first exposure (and before the experiment's
end, when it has one).
- ``order_paid`` and ``revenue``: the subject's orders paid or later (``shared.orders``'
  PAID_STATUSES, by ``paid_at``); revenue is what they paid (``total``, fen); a conversion is
  a paying subject. Anonymous devices cannot pay, so they count as users who did not.
- a tracked event name: a conversion is a subject with at least one such event in ``events``
  (by ``user_id``, or ``device_id`` for an anonymous device); revenue is still paid fen.

The top-level ``p_value``, ``revenue_p_value``, intervals and CUPED are those of the first
treatment (the second variant) against the control; ``comparisons`` has every treatment.
CUPED's covariate is each subject's paid revenue in the 14 days before its first exposure.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Iterator, Optional

from shared.core.context import Context, Database
from shared.core.errors import not_found
from shared.insight import stats
from shared.insight.experiments import ORDER_METRICS, ExperimentKeyInput, experiment_view
from shared.orders.lifecycle import PAID_STATUSES

CUPED_DAYS = 14
SRM_ALARM = 0.001  # srm_warning below this p-value: the split itself is broken
_CHUNK = 1000      # ids per $in query


@dataclass
class Subject:
    variant: str
    exposed_at: datetime
    user_id: Optional[str]
    device_id: Optional[str]
    converted: bool = False
    revenue: int = 0
    pre_revenue: int = 0


@dataclass
class Group:
    name: str
    weight: float
    subjects: list[Subject] = field(default_factory=list)

    @property
    def users(self) -> int:
        return len(self.subjects)

    @property
    def conversions(self) -> int:
        return sum(1 for s in self.subjects if s.converted)

    @property
    def revenue(self) -> int:
        return sum(s.revenue for s in self.subjects)


def experiment_report(ctx: Context, req: ExperimentKeyInput) -> dict[str, Any]:
    """Per variant users, conversions, rate, revenue per user; z-test and Welch p-values with
    95% intervals, CUPED, and the SRM check of the split."""
    experiment = ctx.db.experiments.find_one({"_id": req.key})
    if experiment is None:
        raise not_found("experiment")
    subjects = counted_subjects(ctx.db, req.key)
    _add_orders(ctx.db, subjects, experiment.get("ends_at"))
    if experiment["metric"] not in ORDER_METRICS:
        _add_events(ctx.db, subjects, experiment["metric"], experiment.get("ends_at"))
    groups = [Group(v["name"], v["weight"]) for v in experiment["variants"]]
    by_name = {g.name: g for g in groups}
    for subject in subjects:
        if subject.variant in by_name:
            by_name[subject.variant].subjects.append(subject)
    return report_of(experiment_view(experiment, ctx.now), groups)


def counted_subjects(db: Database, key: str) -> list[Subject]:
    docs = list(db.experiment_exposures.find(
        {"key": key}, {"kind": 1, "variant": 1, "exposed_at": 1, "user_id": 1, "device_id": 1,
                       "from_device": 1}))
    carried = {d["from_device"] for d in docs if d.get("kind") == "user" and d.get("from_device")}
    subjects = []
    for doc in docs:
        if doc.get("kind") == "device" and (doc.get("user_id") or doc["device_id"] in carried):
            continue  # counted as its user
        subjects.append(Subject(doc["variant"], doc["exposed_at"], doc.get("user_id"),
                                doc.get("device_id") if doc.get("kind") == "device" else None))
    return subjects


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _add_orders(db: Database, subjects: list[Subject], ends_at: Optional[datetime]) -> None:
    by_user = {s.user_id: s for s in subjects if s.user_id}
    if not by_user:
        return
    since = min(s.exposed_at for s in by_user.values()) - timedelta(days=CUPED_DAYS)
    for chunk in _chunks(list(by_user)):
        for order in db.orders.find({"user_id": {"$in": chunk}, "status": {"$in": PAID_STATUSES},
                                     "paid_at": {"$gte": since}},
                                    {"user_id": 1, "paid_at": 1, "total": 1}):
            subject, paid_at = by_user[order["user_id"]], order["paid_at"]
            if paid_at >= subject.exposed_at:
                if ends_at is None or paid_at < ends_at:
                    subject.converted = True
                    subject.revenue += int(order["total"])
            elif paid_at >= subject.exposed_at - timedelta(days=CUPED_DAYS):
                subject.pre_revenue += int(order["total"])


def _add_events(db: Database, subjects: list[Subject], name: str,
                ends_at: Optional[datetime]) -> None:
    """A tracked event as the conversion (revenue stays what the orders paid)."""
    for subject in subjects:
        subject.converted = False
    if not subjects:
        return
    since = min(s.exposed_at for s in subjects)
    by_user = {s.user_id: s for s in subjects if s.user_id}
    by_device = {s.device_id: s for s in subjects if s.device_id}
    for field_name, index in (("user_id", by_user), ("device_id", by_device)):
        for chunk in _chunks(list(index)):
            for event in db.events.find({"name": name, field_name: {"$in": chunk},
                                         "ts": {"$gte": since}}, {field_name: 1, "ts": 1}):
                subject = index[event[field_name]]
                if event["ts"] >= subject.exposed_at and (ends_at is None or event["ts"] < ends_at):
                    subject.converted = True


def _comparison(control: Group, treatment: Group) -> dict[str, Any]:
    rates = stats.proportions_ztest(treatment.conversions, treatment.users,
                                    control.conversions, control.users)
    revenue = stats.welch_ttest([float(s.revenue) for s in treatment.subjects],
                                [float(s.revenue) for s in control.subjects])
    adjusted = stats.cuped([(float(s.revenue), float(s.pre_revenue)) for s in treatment.subjects],
                           [(float(s.revenue), float(s.pre_revenue)) for s in control.subjects])
    cuped = adjusted.comparison
    return {
        "control": control.name, "variant": treatment.name,
        "rate_difference": rates.difference if rates else None,
        "rate_difference_ci": rates.ci if rates else None,
        "z": rates.statistic if rates else None,
        "p_value": rates.p_value if rates else None,
        "revenue_difference": revenue.difference if revenue else None,
        "revenue_difference_ci": revenue.ci if revenue else None,
        "t": revenue.statistic if revenue else None,
        "df": revenue.df if revenue else None,
        "revenue_p_value": revenue.p_value if revenue else None,
        "cuped": {"theta": adjusted.theta,
                  "revenue_difference": cuped.difference if cuped else None,
                  "revenue_difference_ci": cuped.ci if cuped else None,
                  "p_value": cuped.p_value if cuped else None,
                  "variance_reduction": adjusted.variance_reduction,
                  "covariate_days": CUPED_DAYS},
    }


def report_of(experiment: dict[str, Any], groups: list[Group]) -> dict[str, Any]:
    variants = [{"name": g.name, "weight": g.weight, "users": g.users,
                 "conversions": g.conversions,
                 "rate": g.conversions / g.users if g.users else 0.0,
                 "rate_ci": stats.wilson_interval(g.conversions, g.users),
                 "revenue": g.revenue,
                 "revenue_per_user": g.revenue / g.users if g.users else 0.0} for g in groups]
    comparisons = [_comparison(groups[0], g) for g in groups[1:]]
    srm = stats.srm_test([g.users for g in groups], [g.weight for g in groups])
    first = comparisons[0]
    return {
        **experiment, "variants": variants, "users": sum(g.users for g in groups),
        "p_value": first["p_value"], "rate_difference": first["rate_difference"],
        "rate_difference_ci": first["rate_difference_ci"],
        "revenue_p_value": first["revenue_p_value"],
        "revenue_difference": first["revenue_difference"],
        "revenue_difference_ci": first["revenue_difference_ci"],
        "cuped": first["cuped"],
        "srm_p_value": srm.p_value if srm else None,
        "srm_warning": bool(srm and srm.p_value < SRM_ALARM),
        "comparisons": comparisons,
    }
