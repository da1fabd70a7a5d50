"""The allocation policy: one warehouse for the whole order, else by line, else what exists."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from orderflow.allocation import AllocationPlan, plan_allocation

WAREHOUSES = ["HN", "HCM", "DN"]


def test_one_warehouse_that_can_fill_the_whole_order_is_used() -> None:
    available = {"A": {"HN": 1, "HCM": 5}, "B": {"HN": 9, "HCM": 2}}
    plan = plan_allocation({"A": 2, "B": 2}, available, WAREHOUSES)
    assert plan == AllocationPlan(reserve={"A": {"HCM": 2}, "B": {"HCM": 2}})


def test_the_channels_preferred_warehouse_goes_first_when_it_can_fill_everything() -> None:
    available = {"A": {"HN": 5, "DN": 5}}
    assert plan_allocation({"A": 2}, available, WAREHOUSES, preferred="DN").reserve == {
        "A": {"DN": 2}
    }
    assert plan_allocation({"A": 2}, available, WAREHOUSES).reserve == {"A": {"HN": 2}}


def test_a_preferred_warehouse_that_is_not_usable_is_ignored() -> None:
    available = {"A": {"HN": 5}}
    assert plan_allocation({"A": 1}, available, ["HN"], preferred="DN").reserve == {"A": {"HN": 1}}


def test_otherwise_each_line_comes_whole_from_one_warehouse() -> None:
    available = {"A": {"HN": 3}, "B": {"HCM": 4}}
    plan = plan_allocation({"A": 3, "B": 4}, available, WAREHOUSES)
    assert plan == AllocationPlan(reserve={"A": {"HN": 3}, "B": {"HCM": 4}})


def test_lines_prefer_the_warehouse_that_fills_more_of_the_order() -> None:
    available = {"A": {"HN": 5, "HCM": 5}, "B": {"HCM": 5}, "C": {"DN": 5}}
    plan = plan_allocation({"A": 1, "B": 1, "C": 1}, available, WAREHOUSES)
    assert plan.reserve == {"A": {"HCM": 1}, "B": {"HCM": 1}, "C": {"DN": 1}}


def test_otherwise_what_exists_is_reserved_and_the_rest_backordered() -> None:
    available = {"A": {"HN": 2, "HCM": 3}}
    plan = plan_allocation({"A": 7, "B": 1}, available, WAREHOUSES)
    assert plan.reserve == {"A": {"HCM": 3, "HN": 2}}
    assert plan.backorder == {"A": 2, "B": 1}


def test_stock_in_a_warehouse_not_listed_is_not_used() -> None:
    plan = plan_allocation({"A": 1}, {"A": {"OLD": 9}}, WAREHOUSES)
    assert plan == AllocationPlan(backorder={"A": 1})


def test_nothing_wanted_plans_nothing() -> None:
    assert plan_allocation({}, {"A": {"HN": 1}}, WAREHOUSES) == AllocationPlan()


stock = st.dictionaries(
    st.sampled_from(["A", "B", "C"]),
    st.dictionaries(st.sampled_from(WAREHOUSES), st.integers(0, 6)),
)
wants = st.dictionaries(st.sampled_from(["A", "B", "C"]), st.integers(1, 10), min_size=1)


@given(wants, stock, st.sampled_from([None, *WAREHOUSES]))
def test_a_plan_never_takes_more_than_available_and_accounts_for_every_unit(
    wanted: dict[str, int], available: dict[str, dict[str, int]], preferred: str | None
) -> None:
    plan = plan_allocation(wanted, available, WAREHOUSES, preferred)
    for sku, qty in wanted.items():
        reserved = plan.reserve.get(sku, {})
        assert sum(reserved.values()) + plan.backorder.get(sku, 0) == qty
        assert all(0 < units <= available.get(sku, {}).get(w, 0) for w, units in reserved.items())
        in_stock = sum(available.get(sku, {}).values())
        assert plan.backorder.get(sku, 0) == max(qty - in_stock, 0)  # never backorders what exists
