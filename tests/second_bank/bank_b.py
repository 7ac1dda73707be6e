"""Bank B: a second bank, unlike the synthetic one, for the end-to-end test of issue 16 item 6.

Built from the generator's output so that a purchase signal is planted: the generator writes the
synthetic bank (clean, a few thousand clients, July-September 2025) and its planted truth; this
module rewrites the landing files with pandas/pyarrow into bank B's own layout:

* 4 products under other codes and product areas (MORTGAGE -> HYPO in area BYDLENI, ...); rows
  of the other 4 products are dropped (sales, holdings) or mapped to the general area OSTATNI
  (web pages, app screens);
* other column names everywhere and a numeric customer id ``cislo_klienta`` (each 64-hex key
  becomes an integer, the same in every source and in the truth; key pattern ``^[0-9]+$``);
* web events (channel ``portal``) as ``;``-separated CSV with ``dd.MM.yyyy HH:mm:ss`` timestamps
  in Prague wall-clock time; the four app tables as ONE Parquet source (channel ``mobil``, ISO
  timestamps in UTC, Czech event types, push messages the bank sent declared passive); no
  internet-banking and no campaigns source; sales as CSV with Czech statuses and
  ``dd.MM.yyyy`` dates; a clients table with string categoricals (one with diacritics), a
  category with a declared value set, a numeric attribute with nulls and a free-text column;
* the same monthly delivery folders ``<source>/<YYYY-MM>/``;
* a stronger purchase signal than the generator's own (whose behaviour shows a client's intent
  through a handful of sessions, too faint for a few thousand clients): before each label
  window, bank B's app logs product-calculator uses in the product's area at a rate that grows
  with the client's planted true probability of buying in that window (the generator's
  ``true_propensity``), so features before an as-of date carry the intent behind the purchases
  after it, and nothing of the purchases themselves;
* two rows of bank-B dirt: a sales row whose key is not numeric (MALFORMED_KEY) and a web row
  with an ISO timestamp instead of the bank's format (BAD_TIMESTAMP).

Bank B's contract and configuration (paths under the temporary folder, small Spark and model
settings) are written next to the files. The planted truth is rewritten the same way (keys and
product codes of bank B): ``truth/true_propensity`` in the layout the train stage reads for the
oracle, and ``truth/future_sales.parquet``, the purchases of the month after the data.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from conftest import make_config

from segrec_spark.generate import job as generate_job

START = dt.date(2025, 7, 1)
MONTHS = 3
END = dt.date(2025, 10, 1)  # the data's end: first day after the last complete month
HORIZON_DAYS = 30
WINDOWS = (7, 30)  # look-back windows: the first labelled as-of date has 32 days of history

# synthetic code -> (bank B code, display name, product area)
PRODUCTS: dict[str, tuple[str, str, str]] = {
    "MORTGAGE": ("HYPO", "Hypotéka", "BYDLENI"),
    "CONSUMER_LOAN": ("UVER", "Spotřebitelský úvěr", "PUJCKY"),
    "CREDIT_CARD": ("KARTA", "Kreditní karta", "KARTY"),
    "SAVINGS": ("SPORENI", "Spořicí účet", "VKLADY"),
}
CODES: dict[str, str] = {k: v[0] for k, v in PRODUCTS.items()}
AREAS: dict[str, str] = {k: v[2] for k, v in PRODUCTS.items()}
OTHER_AREA = "OSTATNI"  # pages and screens about the dropped products or about nothing in particular
WEB_CHANNEL = "portal"
APP_CHANNEL = "mobil"
STATUSES = {"SIGNED": "PODEPSANA", "ACTIVATED": "AKTIVNI", "PENDING": "CEKAJICI",
            "CANCELLED": "ZRUSENA"}
LABEL_STATUSES = ("PODEPSANA", "AKTIVNI")
WEB_EVENT_TYPES = {"page_view": "zobrazeni", "search": "hledani", "calculator": "kalkulacka",
                   "form_start": "formular_zacatek", "form_submit": "formular_odeslan"}
APP_EVENT_TYPES = {"login": "PRIHLASENI", "login_failed": "PRIHLASENI_CHYBA",
                   "screen_view": "OBRAZOVKA", "payment": "PLATBA", "transfer": "PREVOD",
                   "product_view": "PRODUKT", "calculator": "KALKULACKA", "apply_start": "ZADOST",
                   "push_sent": "PUSH_ODESLANO", "push_opened": "PUSH_OTEVRENO"}
PASSIVE = ("PUSH_ODESLANO",)
AGE_BANDS = {"18-25": "do 25 let", "26-35": "26 až 35 let", "36-45": "36 až 45 let",
             "46-55": "46 až 55 let", "56-65": "56 až 65 let", "66+": "nad 65 let"}
INCOME_BANDS = {"LOW": "NIZKY", "MID": "STREDNI", "HIGH": "VYSOKY", "VERY_HIGH": "VELMI_VYSOKY"}
REGIONS = {"PRG": "Praha", "STC": "Středočeský", "JHC": "Jihočeský", "PLK": "Plzeňský",
           "KVK": "Karlovarský", "ULK": "Ústecký", "LBK": "Liberecký",
           "HKK": "Královéhradecký", "PAK": "Pardubický", "VYS": "Vysočina",
           "JHM": "Jihomoravský", "OLK": "Olomoucký", "ZLK": "Zlínský",
           "MSK": "Moravskoslezský"}
# Planted calculator uses: Poisson with mean PLANT_RATE x (true probability / the product's mean
# true probability in that window), at most PLANT_CAP, in the PLANT_DAYS days before the window.
PLANT_RATE = 1.0
PLANT_CAP = 8.0
PLANT_DAYS = 14
NULL_SHARE = 0.2  # share of clients whose relationship length is not known
FIRST_KEY = 4_000_001

# bank B's sources: name -> generator sources it is made of
SOURCES = {"portal": ("web",), "aplikace": ("app_logins", "app_screens", "app_actions", "app_push"),
           "smlouvy": ("prodeje",), "klienti": ("clients",)}
# planted bank-B dirt: (source, reason)
PLANTED_DIRT = (("smlouvy", "MALFORMED_KEY"), ("portal", "BAD_TIMESTAMP"))


@dataclass(frozen=True)
class BankB:
    root: Path
    landing: Path
    lake: Path
    truth: Path
    contract: Path
    config: Path
    keys: dict[str, str]  # synthetic 64-hex key -> bank B's numeric key (as text)
    landing_rows: dict[str, int]  # rows written per bank B source (planted dirt included)


# --- contract and configuration -------------------------------------------------------------------

def contract() -> dict:
    """Bank B's data contract (as parsed YAML)."""
    key = {"name": "cislo_klienta", "type": "long", "role": "key"}
    return {
        "name": "banka_b",
        "key": {"column": "cislo_klienta", "pattern": "^[0-9]+$"},
        "dialect": {"delimiter": ";", "timestamp_format": "dd.MM.yyyy HH:mm:ss",
                    "date_format": "dd.MM.yyyy", "time_zone": "Europe/Prague",
                    "list_separator": ","},
        "products": [{"code": code, "name": name, "area": area, "margin": 100 * (i + 1),
                      "contact_cost": 2}
                     for i, (code, name, area) in enumerate(PRODUCTS.values())],
        "extra_areas": [OTHER_AREA],
        "label_statuses": list(LABEL_STATUSES),
        "sources": {
            "portal": {
                "kind": "events", "channel": WEB_CHANNEL, "format": "csv",
                "columns": [
                    {"name": "id_udalosti", "type": "string", "role": "event_id"},
                    {"name": "cookie_id", "type": "string", "role": "cookie", "nullable": True},
                    {**key, "nullable": True},
                    {"name": "cas", "type": "timestamp", "role": "time"},
                    {"name": "adresa", "type": "string", "role": "ignore", "nullable": True},
                    {"name": "oblast", "type": "category", "role": "product_area"},
                    {"name": "akce", "type": "category", "role": "event_type",
                     "values": list(WEB_EVENT_TYPES.values())},
                    {"name": "zarizeni", "type": "string", "role": "ignore"},
                    {"name": "doba_s", "type": "double", "role": "duration", "nullable": True},
                ],
            },
            "aplikace": {
                "kind": "events", "channel": APP_CHANNEL, "format": "parquet",
                "dialect": {"timestamp_format": "yyyy-MM-dd'T'HH:mm:ss", "time_zone": "UTC"},
                "passive_event_types": list(PASSIVE),
                "columns": [
                    {"name": "id_akce", "type": "string", "role": "event_id"},
                    key,
                    {"name": "cas_akce", "type": "timestamp", "role": "time"},
                    {"name": "druh", "type": "category", "role": "event_type",
                     "values": list(APP_EVENT_TYPES.values())},
                    {"name": "obrazovka", "type": "string", "role": "ignore", "nullable": True},
                    {"name": "oblast_produktu", "type": "category", "role": "product_area"},
                    {"name": "platforma", "type": "string", "role": "ignore"},
                    {"name": "trvani_s", "type": "double", "role": "duration", "nullable": True},
                ],
            },
            "smlouvy": {
                "kind": "sales", "format": "csv", "partition_by_delivery": True,
                "columns": [
                    {"name": "cislo_smlouvy", "type": "string", "role": "event_id"},
                    key,
                    {"name": "produkt", "type": "category", "role": "product"},
                    {"name": "datum_podpisu", "type": "date", "role": "time"},
                    {"name": "stav", "type": "category", "role": "status",
                     "values": list(STATUSES.values())},
                    {"name": "castka", "type": "double", "role": "amount", "nullable": True},
                    {"name": "kanal_prodeje", "type": "string", "role": "ignore"},
                ],
            },
            "klienti": {
                "kind": "clients", "format": "csv", "partition_by_delivery": True,
                "columns": [
                    key,
                    {"name": "vekova_skupina", "type": "string", "role": "categorical"},
                    {"name": "kraj", "type": "string", "role": "categorical"},
                    {"name": "prijmova_skupina", "type": "category", "role": "categorical",
                     "values": list(INCOME_BANDS.values())},
                    {"name": "delka_vztahu_mesice", "type": "int", "role": "numeric",
                     "nullable": True},
                    {"name": "poznamka", "type": "string", "role": "ignore", "nullable": True},
                    {"name": "produkty", "type": "list", "role": "holdings", "nullable": True},
                    {"name": "datum_snimku", "type": "date", "role": "time"},
                ],
            },
        },
    }


def configuration(root: Path) -> dict:
    """Bank B's configuration: every path under ``root``, test-sized Spark and models."""
    return {
        "paths": {"contract": str(root / "contract.yaml"), "root": str(root / "lake"),
                  "landing": str(root / "landing"), "ground_truth": str(root / "truth"),
                  "reports": str(root / "reports")},
        "mlflow": {"tracking_uri": f"sqlite:///{root}/mlflow/mlflow.db",
                   "artifact_location": str(root / "mlflow" / "artifacts"),
                   "experiment": "banka_b"},
        "spark": {"master": "local[2]", "shuffle_partitions": 2},
        "features": {"windows": list(WINDOWS), "horizon_days": HORIZON_DAYS},
        "segmentation": {"k_min": 2, "k_max": 3},
        "propensity": {"learners": ["random_forest", "logistic_regression"],
                       "validation": "split", "num_trees": [20], "max_depth": [4],
                       "min_instances_per_node": 10, "lr_reg_param": [0.01],
                       "min_positives": 5},
    }


# --- rewriting the generated files ----------------------------------------------------------------

def _deliveries(landing: Path, source: str) -> list[str]:
    return sorted(p.name for p in (landing / source).iterdir() if p.is_dir())


def _read_csv(landing: Path, source: str, delivery: str) -> pd.DataFrame:
    files = sorted((landing / source / delivery).glob("*.csv"))
    return pd.concat([pd.read_csv(f, dtype=str, keep_default_na=False) for f in files],
                     ignore_index=True)


def _read_parquet(landing: Path, source: str, delivery: str) -> pd.DataFrame:
    files = sorted((landing / source / delivery).glob("*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def _write_csv(df: pd.DataFrame, folder: Path, parts: int = 2) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    size = -(-len(df) // parts) if len(df) else 1
    for i in range(parts):
        chunk = df.iloc[i * size:(i + 1) * size]
        if i and chunk.empty:
            break
        chunk.to_csv(folder / f"export_{i + 1:03d}.csv", sep=";", index=False, encoding="utf-8")


def _write_parquet(df: pd.DataFrame, folder: Path) -> None:
    """Every column as text, as the bank's export writes it (nulls stay null)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = df.astype(object).where(df.notna() & (df != ""), None)
    schema = pa.schema([pa.field(c, pa.string()) for c in df.columns])
    pq.write_table(pa.Table.from_pandas(text, schema=schema, preserve_index=False),
                   folder / "aplikace.parquet")


def _area(value: str) -> str:
    return AREAS.get(value, OTHER_AREA)


def _key(keys: dict[str, str], value: str) -> str:
    return keys[value] if value else ""


def _prague(ts: pd.Series) -> pd.Series:
    """UTC wall-clock text -> Prague wall-clock text in bank B's format."""
    utc = pd.to_datetime(ts, format="%Y-%m-%d %H:%M:%S").dt.tz_localize("UTC")
    return utc.dt.tz_convert("Europe/Prague").dt.strftime("%d.%m.%Y %H:%M:%S")


def _web(df: pd.DataFrame, keys: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame({
        "id_udalosti": df["event_id"],
        "cookie_id": df["user_id"],
        "cislo_klienta": df["identity_id_hash"].map(lambda k: _key(keys, k)),
        "cas": _prague(df["event_ts"]),
        "adresa": df["page_url"],
        "oblast": df["page_category"].map(_area),
        "akce": df["event_type"].map(WEB_EVENT_TYPES),
        "zarizeni": df["device_type"],
        "doba_s": df["time_on_page_sec"],
    })


def _app(df: pd.DataFrame, keys: dict[str, str]) -> pd.DataFrame:
    ts = pd.to_datetime(df["event_ts"], format="%Y-%m-%d %H:%M:%S")
    return pd.DataFrame({
        "id_akce": df["app_event_id"],
        "cislo_klienta": df["identity_id_hash"].map(keys),
        "cas_akce": ts.dt.strftime("%Y-%m-%dT%H:%M:%S"),
        "druh": df["event_type"].map(APP_EVENT_TYPES),
        "obrazovka": df["screen_name"],
        "oblast_produktu": df["product_area"].map(_area),
        "platforma": df["os"].str.upper(),
        "trvani_s": df["duration_sec"],
    })


def _sales(df: pd.DataFrame, keys: dict[str, str]) -> pd.DataFrame:
    kept = df[df["product_code"].isin(list(CODES))]
    return pd.DataFrame({
        "cislo_smlouvy": kept["agreement_id"].str.replace("AGR", "SML-", regex=False),
        "cislo_klienta": kept["identity_id_hash"].map(keys),
        "produkt": kept["product_code"].map(CODES),
        "datum_podpisu": pd.to_datetime(kept["signed_date"], format="%Y-%m-%d")
        .dt.strftime("%d.%m.%Y"),
        "stav": kept["status"].map(STATUSES),
        "castka": kept["amount"],
        "kanal_prodeje": kept["sales_channel"],
    })


def _clients(df: pd.DataFrame, keys: dict[str, str], seed: int) -> pd.DataFrame:
    rng = random.Random(seed)
    tenure = [t if rng.random() >= NULL_SHARE else "" for t in df["tenure_months"]]
    held = df["products_held"].map(
        lambda text: ",".join(CODES[p] for p in text.split("|") if p in CODES) if text else "")
    return pd.DataFrame({
        "cislo_klienta": df["identity_id_hash"].map(keys),
        "vekova_skupina": df["age_band"].map(AGE_BANDS),
        "kraj": df["region"].map(REGIONS),
        "prijmova_skupina": df["income_band"].map(INCOME_BANDS),
        "delka_vztahu_mesice": tenure,
        "poznamka": [f"klient {rng.randrange(10**6)}" if rng.random() < 0.3 else ""
                     for _ in range(len(df))],
        "produkty": held,
        "datum_snimku": pd.to_datetime(df["snapshot_date"], format="%Y-%m-%d")
        .dt.strftime("%d.%m.%Y"),
    })


def _planted_app_events(propensity: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Calculator uses before each label window, more for clients likelier to buy in it.

    ``propensity``: bank B's true_propensity (identity_id_hash, product_code, window_start,
    true_probability). Returns app rows in bank B's columns plus ``_delivery`` (YYYY-MM)."""
    rng = np.random.default_rng(seed)
    active = propensity[propensity["true_probability"] > 0].copy()
    mean = active.groupby(["product_code", "window_start"])["true_probability"].transform("mean")
    rate = np.minimum(PLANT_RATE * active["true_probability"] / mean, PLANT_CAP)
    counts = rng.poisson(rate.to_numpy())
    rows = active.loc[active.index.repeat(counts)].reset_index(drop=True)
    starts = pd.to_datetime(rows["window_start"].astype(str))
    offsets = rng.uniform(-PLANT_DAYS * 86400, -60, size=len(rows))
    ts = starts + pd.to_timedelta(np.floor(offsets), unit="s")
    areas = {code: area for code, _, area in PRODUCTS.values()}
    return pd.DataFrame({
        "id_akce": [f"KALK-{i:07d}" for i in range(len(rows))],
        "cislo_klienta": rows["identity_id_hash"],
        "cas_akce": ts.dt.strftime("%Y-%m-%dT%H:%M:%S"),
        "druh": APP_EVENT_TYPES["calculator"],
        "obrazovka": "kalkulacka_" + rows["product_code"].str.lower(),
        "oblast_produktu": rows["product_code"].map(areas),
        "platforma": np.where(rng.random(len(rows)) < 0.5, "IOS", "ANDROID"),
        "trvani_s": np.round(rng.uniform(20, 240, size=len(rows)), 1).astype(str),
        "_delivery": ts.dt.strftime("%Y-%m"),
    })


def _truth(generated: Path, truth: Path, keys: dict[str, str]) -> pd.DataFrame:
    """The planted truth in bank B's keys and codes: true_propensity (the generator's layout,
    read by the train stage for the oracle) and future_sales.parquet (bank B's columns)."""
    propensity = pq.read_table(generated / "true_propensity").to_pandas()
    propensity = propensity[propensity["product_code"].isin(list(CODES))]
    out = pd.DataFrame({
        "identity_id_hash": propensity["identity_id_hash"].map(keys),
        "product_code": propensity["product_code"].astype(str).map(CODES),
        "window_start": pd.to_datetime(propensity["window_start"].astype(str)).dt.date,
        "window_end": pd.to_datetime(propensity["window_end"].astype(str)).dt.date,
        "true_probability": propensity["true_probability"].astype(float),
    })
    (truth / "true_propensity").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(out, preserve_index=False),
                   truth / "true_propensity" / "part-0.parquet")
    future = pq.read_table(generated / "future_sales").to_pandas()
    future = future[future["product_code"].isin(list(CODES))]
    pq.write_table(pa.Table.from_pandas(pd.DataFrame({
        "cislo_klienta": future["identity_id_hash"].map(keys),
        "produkt": future["product_code"].map(CODES),
        "datum_podpisu": pd.to_datetime(future["signed_date"].astype(str)).dt.date,
        "stav": future["status"].map(STATUSES),
    }), preserve_index=False), truth / "future_sales.parquet")
    return out


def build_bank_b(spark, root: Path, n_clients: int = 4000, activity: float = 0.4,
                 seed: int = 7) -> BankB:
    """Generate the synthetic bank under ``root/generated`` and rewrite it as bank B."""
    generated = root / "generated"
    gen_cfg = make_config(generated, "generator.scale=tiny", f"generator.n_clients={n_clients}",
                          f"generator.activity={activity}", "generator.partitions=2",
                          f"generator.seed={seed}", f"generator.start_date={START.isoformat()}",
                          f"generator.months={MONTHS}", "generator.dirt_rate=0",
                          f"features.horizon_days={HORIZON_DAYS}")
    generate_job.run(spark, gen_cfg)
    source_landing = generated / "landing"
    landing = root / "landing"

    clients = _read_csv(source_landing, "clients", _deliveries(source_landing, "clients")[0])
    hexes = sorted(clients["identity_id_hash"])
    keys = {h: str(FIRST_KEY + 7 * i) for i, h in enumerate(hexes)}
    rows: dict[str, int] = {}

    for delivery in _deliveries(source_landing, "web"):
        web = _web(_read_csv(source_landing, "web", delivery), keys)
        if delivery == START.strftime("%Y-%m"):  # an ISO timestamp: not bank B's format
            bad = web.iloc[[0]].copy()
            bad["id_udalosti"] = "SPATNY-CAS-1"
            bad["cas"] = "2025-07-03 10:00:00"
            web = pd.concat([web, bad], ignore_index=True)
        _write_csv(web, landing / "portal" / delivery)
        rows["portal"] = rows.get("portal", 0) + len(web)

    truth = root / "truth"
    planted = _planted_app_events(_truth(generated / "ground_truth", truth, keys), seed)
    for delivery in _deliveries(source_landing, "app_logins"):
        extra = planted[planted["_delivery"] == delivery].drop(columns="_delivery")
        app = pd.concat([*(_app(_read_parquet(source_landing, s, delivery), keys)
                           for s in SOURCES["aplikace"]), extra], ignore_index=True)
        _write_parquet(app, landing / "aplikace" / delivery)
        rows["aplikace"] = rows.get("aplikace", 0) + len(app)

    for delivery in _deliveries(source_landing, "prodeje"):
        sales = _sales(_read_csv(source_landing, "prodeje", delivery), keys)
        if delivery == "2025-08":  # a key that is not a number
            bad = sales.iloc[[0]].copy()
            bad["cislo_smlouvy"] = "SML-SPATNY-KLIC"
            bad["cislo_klienta"] = "K-0042"
            sales = pd.concat([sales, bad], ignore_index=True)
        _write_csv(sales, landing / "smlouvy" / delivery, parts=1)
        rows["smlouvy"] = rows.get("smlouvy", 0) + len(sales)

    delivery = _deliveries(source_landing, "clients")[0]
    table = _clients(clients, keys, seed)
    _write_csv(table, landing / "klienti" / delivery, parts=1)
    rows["klienti"] = len(table)

    (root / "contract.yaml").write_text(
        yaml.safe_dump(contract(), allow_unicode=True, sort_keys=False), encoding="utf-8")
    (root / "banka_b.yaml").write_text(
        yaml.safe_dump(configuration(root), allow_unicode=True, sort_keys=False),
        encoding="utf-8")
    return BankB(root=root, landing=landing, lake=root / "lake", truth=truth,
                 contract=root / "contract.yaml", config=root / "banka_b.yaml", keys=keys,
                 landing_rows=rows)
