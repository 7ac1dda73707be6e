"""The data contract file: a bad declaration is one ConfigError line naming the file and field."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from segrec_spark.contract import contract_from_dict, load_contract
from segrec_spark.typed_yaml import ConfigError

FILE = "conf/contracts/bank.yaml"
BASE = {
    "key": {"column": "cust_id", "pattern": "^[0-9]+$"},
    "products": [{"code": "LOAN"}, {"code": "CARD", "area": "CARDS"}],
    "sources": {
        "clicks": {"kind": "events", "channel": "web", "columns": [
            {"name": "cust_id", "type": "key", "role": "key"},
            {"name": "ts", "type": "timestamp", "role": "time"},
            {"name": "area", "type": "category", "role": "product_area"},
        ]},
    },
}


def _error(change) -> str:
    data = copy.deepcopy(BASE)
    change(data)
    with pytest.raises(ConfigError) as info:
        contract_from_dict(data, FILE)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{FILE}: ")
    return message


def _columns(data):
    return data["sources"]["clicks"]["columns"]


def test_a_valid_contract_builds():
    contract = contract_from_dict(copy.deepcopy(BASE), FILE)
    assert contract.product_areas == ("LOAN", "CARDS")
    assert contract.sources["clicks"].key_column == "cust_id"
    own = copy.deepcopy(BASE)
    own["products"][0]["actions"] = {"High Value Engaged": "Call about the {product}"}
    assert contract_from_dict(own, FILE).products[0].actions == {
        "High Value Engaged": "Call about the {product}"}


@pytest.mark.parametrize(("change", "field", "says"), [
    (lambda d: _columns(d)[1].update(type="decimal"), "sources.clicks.columns[1].type",
     "expected one of 'string', 'key'"),
    (lambda d: _columns(d).pop(0), "sources.clicks.columns",
     "an events source needs a column with role key or cookie"),
    (lambda d: _columns(d).append({"name": "TS", "type": "string"}), "sources.clicks.columns",
     "duplicate column name(s) ['ts']"),
    (lambda d: _columns(d)[2].update(values=["LOAN", "CARDS", "PROMO"]), "extra_areas",
     "product area(s) ['PROMO'] appear in events but no product has them"),
    (lambda d: _columns(d).append({"name": "since", "type": "date", "role": "numeric"}),
     "sources.clicks.columns[3].type",
     "role numeric needs a column of type boolean or double or int or long, found date (a date "
     "feature: leave since undeclared in a snapshot source"),
    (lambda d: d["products"][0].update(actions={"High": "Call"}), "products[0].actions",
     "'High' is not a tier; the tiers are High Value Engaged, Potential Upsell, Nurture and "
     "Educate, Low Engagement"),
    (lambda d: d["products"][0].update(actions={"Low Engagement": " "}),
     "products[0].actions.Low Engagement", "must not be empty"),
], ids=["unknown_type", "events_without_key_or_cookie", "duplicate_column", "orphan_area",
        "date_as_number", "action_of_no_tier", "empty_action"])
def test_contract_errors_name_the_file_and_the_field(change, field, says):
    message = _error(change)
    assert message.startswith(f"{FILE}: {field}: "), message
    assert says in message


def test_load_contract_names_the_file_it_read(tmp_path):
    data = copy.deepcopy(BASE)
    _columns(data)[1]["type"] = "decimal"
    path = tmp_path / "bank.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: sources.clicks.columns[1].type:")):
        load_contract(path)
    with pytest.raises(ConfigError, match="data contract file not found"):
        load_contract(tmp_path / "missing.yaml")


def test_the_default_contract_file_is_valid():
    root = Path(__file__).resolve().parents[1]
    contract = load_contract(root / "conf" / "contracts" / "synthetic_bank.yaml")
    assert contract.key.column == "identity_id_hash"
