"""The search indexes of a warm instance: the active stores (a ``grid.StoreIndex``) and the
active deals by the store they run at, each rebuilt when its version changes.

Every store write must bump the stores' version and every deal write the deals' version
(``bump_stores_version`` / ``bump_deals_version``), or warm instances keep answering from what
they knew. The deal index follows the stores' version too: a deal shows at stores.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable, Optional

from shared.nearby.grid import (
    PRUNE_MARGIN_M,
    VIEW_FIELDS,
    StoreIndex,
    chord2,
    load_numpy,
    metres,
    ranges,
    ranks,
)
from shared.nearby.versioned import VersionedIndex, bump_version, read_versions

STORES_VERSION = "stores_version"
DEALS_VERSION = "deals_version"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_EPOCH_NAIVE = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)

# a page row of nearby deals: (distance_m, -discount, deal id, store id, deal document)
DealRow = tuple[float, float, str, str, dict[str, Any]]


def bump_stores_version(db: Any) -> None:
    bump_version(db, STORES_VERSION, "stv")


def bump_deals_version(db: Any) -> None:
    bump_version(db, DEALS_VERSION, "dlv")


def read_stores_and_deals_versions(db: Any) -> tuple[Any, Any]:
    """The stores' and the deals' versions, in one read."""
    stores_version, deals_version = read_versions(db, (STORES_VERSION, DEALS_VERSION))
    return stores_version, deals_version


# ---- the stores ----------------------------------------------------------------------------

def _build_store_index(db: Any) -> StoreIndex:
    return StoreIndex.from_documents(db.stores.find({"active": True}, VIEW_FIELDS))


_store_index = VersionedIndex((STORES_VERSION,), _build_store_index)


def store_index(db: Any, stores_version: Any = None) -> StoreIndex:
    """The search index of this warm instance, rebuilt when a store changed anywhere
    (``stores_version``: the version already read, else it is read here)."""
    return _store_index.get(db, None if stores_version is None else (stores_version,))


# ---- the deals -----------------------------------------------------------------------------

def _micros(moment: datetime) -> int:
    """Microseconds since the epoch: ordered exactly as the datetimes compare."""
    return (moment - (_EPOCH if moment.tzinfo is not None else _EPOCH_NAIVE)) // _MICROSECOND


@dataclass
class DealTable:
    """What decides whether a deal is shown, per deal number (DealIndex.deals), as arrays."""
    starts: Any      # microseconds since the epoch
    ends: Any
    kind: Any        # codes of deal.get("kind") / deal.get("category_id"), see kinds/categories
    category: Any
    everywhere: Any  # runs at every store
    # what a page sorts by after the distance: minus the discount (the very float
    # 1 - deal_price / max(original_price, 1) a scan computes) and the rank of the deal's id
    neg_discount: Any
    id_rank: Any
    kinds: dict[Any, int]
    categories: dict[Any, int]


@dataclass
class DealIndex:
    """The active deals of one moment, by the store they run at."""
    everywhere: list[dict[str, Any]] = field(default_factory=list)  # for all stores
    deals: list[dict[str, Any]] = field(default_factory=list)  # every one once: its number
    numbers_by_store: dict[str, list[int]] = field(default_factory=dict)
    table: Optional[DealTable] = None
    # (the store index they were made for, first link, link count per grid position, the
    # deal numbers of the links, and the rank of each grid position's store id): which deals
    # run at the store at each grid position, and how stores at one distance tie
    links: Optional[tuple[StoreIndex, Any, Any, Any, Any]] = None
    # the views a page shows (deal and store views by id), made once per index: they change
    # only when a deal or a store does, and then the index is rebuilt
    views: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def from_documents(cls, docs: Iterable[dict[str, Any]]) -> "DealIndex":
        """The index of these deal documents (active ones); whether a deal is on now (and
        matches the kind and category asked for) is decided per query."""
        np = load_numpy()
        fresh = cls()
        kinds: dict[Any, int] = {}
        categories: dict[Any, int] = {}
        starts: list[int] = []
        ends: list[int] = []
        kind: list[int] = []
        category: list[int] = []
        everywhere: list[bool] = []
        neg_discount: list[float] = []
        for deal in docs:
            if not (isinstance(deal.get("starts_at"), datetime)
                    and isinstance(deal.get("ends_at"), datetime)):
                continue  # never on: a query for it by time would not match it either
            number = len(fresh.deals)
            fresh.deals.append(deal)
            starts.append(_micros(deal["starts_at"]))
            ends.append(_micros(deal["ends_at"]))
            kind.append(kinds.setdefault(deal.get("kind"), len(kinds)))
            category.append(categories.setdefault(deal.get("category_id"), len(categories)))
            everywhere.append(bool(deal.get("all_stores")))
            neg_discount.append(-(1 - deal["deal_price"] / max(deal["original_price"], 1)))
            if deal.get("all_stores"):
                fresh.everywhere.append(deal)
                continue
            for store_id in set(deal.get("store_ids") or ()):
                fresh.numbers_by_store.setdefault(store_id, []).append(number)
        fresh.table = DealTable(
            starts=np.array(starts, dtype=np.int64), ends=np.array(ends, dtype=np.int64),
            kind=np.array(kind, dtype=np.intp), category=np.array(category, dtype=np.intp),
            everywhere=np.array(everywhere, dtype=bool),
            neg_discount=np.array(neg_discount, dtype=np.float64),
            id_rank=ranks([deal["_id"] for deal in fresh.deals]),
            kinds=kinds, categories=categories)
        return fresh

    def shown(self, now: datetime, kind: Optional[str], category_id: Optional[str]) -> Any:
        """Which deals are on now and of the kind and category asked for (if asked)."""
        table = self.table
        assert table is not None
        at = _micros(now)
        mask = (table.starts <= at) & (at < table.ends)
        for wanted, codes, column in ((kind, table.kinds, table.kind),
                                      (category_id, table.categories, table.category)):
            if wanted:
                code = codes.get(wanted)
                mask &= (column == code) if code is not None else False
        return mask

    def links_for(self, index: StoreIndex) -> tuple[Any, Any, Any, Any]:
        links = self.links
        if links is None or links[0] is not index:
            np = load_numpy()
            position = index.position
            pairs = sorted((position[store_id], number)
                           for store_id, numbers in self.numbers_by_store.items()
                           if store_id in position for number in numbers)
            at = np.array([p for p, _ in pairs], dtype=np.intp)
            counts = np.bincount(at, minlength=len(index.ids)).astype(np.intp)
            links = (index, np.cumsum(counts) - counts, counts,
                     np.array([number for _, number in pairs], dtype=np.intp),
                     index.id_ranks())
            self.links = links  # the same for every thread that makes it: no lock needed
        return links[1], links[2], links[3], links[4]

    def page(self, index: StoreIndex, lat: float, lng: float, radius_m: float, now: datetime,
             kind: Optional[str], category_id: Optional[str], skip: int, limit: int) \
            -> tuple[int, list[DealRow]]:
        """How many deals are shown, and the rows of the page: each deal on now (of the kind
        and category asked for) that runs at a store in reach, at the nearest such store
        (ties by store id), sorted by distance, then deepest discount, then id. Only the deals
        that can be on the page get exact distances, and only the page's rows are made: the
        rest is array work over the links in reach (no Python loop over links or deals)."""
        np = load_numpy()
        table = self.table
        assert table is not None
        positions, chords = index.reach(lat, lng, radius_m)
        if not positions.size:
            return 0, []
        shown = self.shown(now, kind, category_id)
        first_link, link_count, linked, store_rank = self.links_for(index)
        # the (deal, store) links of the stores in reach, of the deals shown
        counts = link_count.take(positions)
        with_deals = np.flatnonzero(counts)
        counts = counts.take(with_deals)
        starts = first_link.take(positions.take(with_deals))
        link_deal = linked.take(ranges(np, starts, starts + counts))
        link_store = np.repeat(positions.take(with_deals), counts)
        link_chord = np.repeat(chords.take(with_deals), counts)
        keep = shown.take(link_deal)
        link_deal, link_store, link_chord = link_deal[keep], link_store[keep], link_chord[keep]
        # each deal's nearest store in reach by the chord; the deals for every store are at the
        # nearest store in reach
        order = np.lexsort((link_chord, link_deal))
        by_deal = link_deal.take(order)
        head = np.ones(by_deal.size, dtype=bool)
        head[1:] = by_deal[1:] != by_deal[:-1]
        everywhere = np.flatnonzero(shown & table.everywhere)
        numbers = np.concatenate([by_deal[head], everywhere])
        approx = np.concatenate([link_chord.take(order)[head],
                                 np.full(everywhere.size, chords.min())])
        total = int(numbers.size)
        if skip >= total:
            return total, []
        wanted = skip + limit
        if wanted < total:
            # as for stores (StoreIndex.ordered): no deal among the first ``wanted`` is more
            # than two margins further by the chord than the wanted-th nearest by the chord
            kth = float(np.partition(approx, wanted - 1)[wanted - 1])
            near = approx <= chord2(metres(kth) + 2 * PRUNE_MARGIN_M)
            numbers = numbers[near]
        picked = np.zeros(len(self.deals), dtype=bool)
        picked[numbers] = True
        # the exact distance of every store in reach of the picked deals; each deal's nearest
        # by (distance, store id), as a scan's tuples compare
        links = picked.take(link_deal)
        link_deal, link_store = link_deal[links], link_store[links]
        stores = np.unique(link_store)
        exact = np.array([d for d, _ in index.distances(lat, lng, stores)], dtype=np.float64)
        link_distance = exact.take(np.searchsorted(stores, link_store))
        order = np.lexsort((store_rank.take(link_store), link_distance, link_deal))
        by_deal = link_deal.take(order)
        head = np.ones(by_deal.size, dtype=bool)
        head[1:] = by_deal[1:] != by_deal[:-1]
        numbers = by_deal[head]
        distance = link_distance.take(order)[head]
        at_store = link_store.take(order)[head]
        picked_everywhere = everywhere[picked.take(everywhere)]
        if picked_everywhere.size:
            everywhere_at = index.ordered(lat, lng, positions, chords, 0, 1)[0]
            numbers = np.concatenate([numbers, picked_everywhere])
            distance = np.concatenate([distance, np.full(picked_everywhere.size,
                                                         everywhere_at[0])])
            at_store = np.concatenate([at_store, np.full(picked_everywhere.size,
                                                         index.position[everywhere_at[1]],
                                                         dtype=np.intp)])
        # distance, then deepest discount, then id; only the page becomes rows
        order = np.lexsort((table.id_rank.take(numbers), table.neg_discount.take(numbers),
                            distance))[skip:wanted]
        rows: list[DealRow] = []
        ids = index.ids
        for number, meters, position in zip(numbers.take(order).tolist(),
                                            distance.take(order).tolist(),
                                            at_store.take(order).tolist()):
            deal = self.deals[number]
            discount = 1 - deal["deal_price"] / max(deal["original_price"], 1)
            rows.append((meters, -discount, deal["_id"], ids[position], deal))
        return total, rows


def _build_deal_index(db: Any) -> DealIndex:
    return DealIndex.from_documents(db.deals.find({"active": True}))


_deal_index = VersionedIndex((STORES_VERSION, DEALS_VERSION), _build_deal_index)


def deal_index(db: Any, versions: Optional[tuple[Any, Any]] = None) -> DealIndex:
    """The deals index, rebuilt when a deal or a store changed anywhere (``versions``: the
    stores' and deals' versions already read, ``read_stores_and_deals_versions``, else they
    are read here)."""
    return _deal_index.get(db, versions)
