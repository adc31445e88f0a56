"""`hotline simulate` walks the shipped flow with the config's calendars and the demo database's
accounts and notices (`hotline demo`'s, the same generator and seed)."""

import asyncio
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from ivr.adapters.flowtools import demo_database, simulator_services
from ivr.callerid import normalise_caller_id
from ivr.calls.flows import load_flow_catalog, references_from
from ivr.cli import main
from ivr.config import load_config
from ivr.flow.loader import load_flow
from ivr.flow.simulator import simulate
from ivr.numbers import customer_number
from ivr.store.accounts import AccountStore
from ivr.store.tables import accounts, notice_areas, notices, phones, premises

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CONFIG = load_config(ROOT / "config.yaml", env={})
CATALOG = load_flow_catalog(ROOT / "prompts" / "catalog.yaml")
HOTLINE = load_flow(ROOT / "dialplans" / "hotline.yaml", references_from(CONFIG, CATALOG))
TOKYO = ZoneInfo("Asia/Tokyo")
WEDNESDAY = datetime(2027, 2, 10, 10, 0, tzinfo=TOKYO)
SUNDAY = datetime(2027, 2, 14, 10, 0, tzinfo=TOKYO)
FOUNDATION_DAY = datetime(2027, 2, 11, 10, 0, tzinfo=TOKYO)  # a Thursday, a national holiday
# the README's test caller: the demo database's first account (active, nothing owed)
ACTIVE = "0935821234"
FIRST = customer_number(1)


async def call(keys: str, caller: str | None = ACTIVE, at: datetime = WEDNESDAY) -> str:
    async with demo_database(at.date()) as db, AccountStore(db) as store:
        return await walk(store, keys, caller, at)


async def walk(store: AccountStore, keys: str, caller: str | None, at: datetime) -> str:
    number = None if caller is None else normalise_caller_id(caller).e164
    services = simulator_services(store, CONFIG, CATALOG)
    return "\n".join(await simulate(HOTLINE, number, keys, at, services, CATALOG))


def first_row(db_rows: sa.Result[str, str]) -> tuple[str, str]:
    row = db_rows.first()
    assert row is not None
    return row[0], row[1]


async def test_greeting_and_main_menu() -> None:
    text = await call("1 2")
    assert "水道局お客さまセンターです" in text
    assert "[identify] account_lookup outcome=found" in text
    assert "料金とお支払いは6を" in text
    assert "[main_menu] menu_choice key=2, to=change_menu" in text


async def test_a_caller_in_an_area_with_a_demo_notice_hears_it() -> None:
    now = datetime.now(TOKYO)
    async with demo_database(now.date()) as db, AccountStore(db) as store:
        async with db.begin() as conn:
            # the demo's notices as the engine leaves them once it has rendered their audio
            await conn.execute(sa.update(notices).values(audio_ja="ready", audio_en="ready"))
            # a phone of an account whose (first) premise is in the area of a demo notice
            other = premises.alias()
            first_premise = (
                sa.select(sa.func.min(other.c.id))
                .where(other.c.account_id == accounts.c.id)
                .scalar_subquery()
            )
            phone, _ = first_row(
                await conn.execute(
                    sa.select(phones.c.e164, accounts.c.customer_number)
                    .join(accounts, accounts.c.id == phones.c.account_id)
                    .join(premises, premises.c.id == first_premise)
                    .join(notice_areas, notice_areas.c.area_code == premises.c.area_code)
                    .order_by(accounts.c.id)
                )
            )
        text = await walk(store, "1 .", phone, now)
    assert "[area_notices] notices count=1" in text


async def test_1_in_city_move_is_one_transfer_request() -> None:
    # dates out and in, then the meter number from the card at the new home
    text = await call("1 1 3 20270320 1 20270321 1 00012345# 1 2")
    assert "ご入力は、 2027年3月20日 です" in text
    assert "メーター番号を押し" in text
    assert (
        f"INTAKE transfer: customer_number={FIRST}, stop_date=2027-03-20, "
        "start_date=2027-03-21, new_meter_number=00012345, caller_id=+81935821234 -> K10001"
    ) in text
    assert "まとめて受け付けました" in text
    assert "受付番号は、 K10001 です" in text


async def test_1_a_mover_without_the_meter_card_reaches_an_agent_with_the_dates() -> None:
    text = await call("1 1 3 20270320 1 20270321 1 . . .")  # silence at the meter number
    assert "INTAKE" not in text
    assert "[moving_queue] queue_result queue=moving, outcome=answered" in text


async def test_1_stop_service() -> None:
    text = await call("1 1 2 20270331# 1 2")
    assert f"INTAKE stop: customer_number={FIRST}, stop_date=2027-03-31" in text
    assert "K10001" in text
    assert "最終の検針" in text


async def test_1_a_new_resident_starts_service_by_keypad_and_says_their_name() -> None:
    text = await call("1 1 1 20270215 1 00012345# 1 0312345678# 1 2")
    assert "メーター番号を押し" in text
    assert "お名前を、フルネームでお話しください" in text
    assert "RECORD up to 20 s" in text
    assert (
        "INTAKE start: start_date=2027-02-15, meter_number=00012345, "
        "contact_phone=0312345678, name_recording=rec-"
    ) in text
    assert "受付番号は、 K10001 です" in text


async def test_1_start_unfinished_goes_to_moving_queue_with_entries() -> None:
    text = await call("1 1 1 20270215 1 00012345# 1 123# 123# 123#")
    assert "電話番号を確認できませんでした" in text
    assert "QUEUE moving (priority 1):" in text
    assert "start_date=2027-02-15" in text
    assert "start_meter=00012345" in text
    assert "INTAKE" not in text


async def test_2_phone_change() -> None:
    text = await call("1 2 2 09011112222# 1 2")
    assert "ご入力は、 09011112222 です" in text
    assert f"INTAKE phone_change: customer_number={FIRST}, new_phone=09011112222" in text
    assert "電話番号の変更を受け付けました" in text


async def test_2_name_change_records_name() -> None:
    text = await call("1 2 1 2")
    assert "RECORD up to 20 s" in text
    assert f"INTAKE name_change: customer_number={FIRST}, name_recording=rec-" in text


async def test_3_leak_goes_straight_to_on_duty() -> None:
    text = await call("1 3")
    assert "担当の職員に直接おつなぎします" in text
    assert "EMERGENCY on-duty escalation" in text
    assert "QUEUE" not in text


async def test_3_leak_still_goes_through_when_closed() -> None:
    text = await call("1 3", at=SUNDAY)
    assert "受付時間は、月曜日から土曜日" in text
    assert "suido.example.jp" in text
    assert "EMERGENCY on-duty escalation" in text


async def test_closed_without_emergency_says_goodbye() -> None:
    text = await call("1 .", at=SUNDAY)
    assert "suido.example.jp" in text
    assert "QUEUE" not in text
    assert text.endswith("HANGUP")


async def test_4_reconnection_after_payment() -> None:
    async with demo_database(WEDNESDAY.date()) as db, AccountStore(db) as store:
        async with db.connect() as conn:
            # the first shut-off account of the demo data that has a phone of its own
            phone, number = first_row(
                await conn.execute(
                    sa.select(phones.c.e164, accounts.c.customer_number)
                    .join(accounts, accounts.c.id == phones.c.account_id)
                    .where(accounts.c.status == "shut_off")
                    .order_by(accounts.c.id, phones.c.id)
                )
            )
        text = await walk(store, "1 4 1 2", phone, WEDNESDAY)
    assert "お支払い済みの方は1を" in text
    assert f"INTAKE reconnection: customer_number={number}" in text
    assert "給水再開のお申し込みを受け付けました" in text


async def test_4_reconnection_for_active_account() -> None:
    text = await call("1 4 2")
    assert "給水停止になっておりません" in text


async def test_5_discoloured_water_and_construction() -> None:
    text = await call("1 5 2 2")
    assert "しばらく蛇口から水を流してください" in text
    text = await call("1 5 3")
    assert "TRANSFER construction" in text


async def test_6_balance_and_bank_debit() -> None:
    text = await call("1 6 1 2")
    assert "現在のご請求額は、 0円 です" in text
    text = await call("1 6 3 1 2")
    assert f"INTAKE bank_debit: customer_number={FIRST}" in text
    assert "口座振替申込書の送付を受け付けました" in text


async def test_0_operator() -> None:
    text = await call("1 0")
    assert "QUEUE general (priority 0):" in text
    assert f"account_number={FIRST}" in text


async def test_withheld_caller_in_english_enters_customer_number() -> None:
    text = await call(f"2 {FIRST} 6 1 2", caller=None)
    assert "10-digit customer number" in text
    assert "Your current balance is 0 yen" in text


async def test_barge_in_through_the_menu() -> None:
    text = await call("1 12")  # 2 is pressed while the moving menu is still playing
    assert "(prompt interrupted)" in text
    assert "[moving_menu] menu_choice key=2, to=stop_needs_account" in text


# --- the `hotline simulate` command ---------------------------------------------------------


async def simulate_command(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    # the command runs its own event loop (`asyncio.run`), as under `hotline`: in a worker thread
    argv = ["--config", str(ROOT / "config.yaml"), "simulate", *args]
    code = await asyncio.to_thread(main, argv)
    out = capsys.readouterr()
    assert code == 0, out.err
    return out.out


@pytest.fixture
def at_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the config's flows.dir and catalog are relative to it


@pytest.mark.usefixtures("at_root")
@pytest.mark.parametrize("caller", ["0935821234", "093-582-1234", "+81935821234"])
async def test_simulate_recognises_the_readme_test_caller(
    capsys: pytest.CaptureFixture[str], caller: str
) -> None:
    text = await simulate_command(
        capsys,
        "dialplans/hotline.yaml",
        "--caller",
        caller,
        "--keys",
        "1 0",
        "--at",
        "2027-02-10T10:00",
    )
    assert "[identify] account_lookup outcome=found" in text
    assert "QUEUE general (priority 0):" in text
    assert f"account_number={FIRST}," in text


@pytest.mark.usefixtures("at_root")
async def test_simulate_takes_the_readme_test_caller_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = await simulate_command(
        capsys, "dialplans/hotline.yaml", "--keys", "1 0", "--at", "2027-02-10T10:00"
    )
    assert f"account_number={FIRST}" in text


@pytest.mark.usefixtures("at_root")
async def test_simulate_on_a_national_holiday_says_the_hotline_is_closed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = await simulate_command(
        capsys, "dialplans/hotline.yaml", "--keys", "1 .", "--at", FOUNDATION_DAY.isoformat()
    )
    assert "[hours_check] hours calendar=phone, state=holiday" in text
    assert "受付時間は、月曜日から土曜日" in text
    assert "QUEUE" not in text
    assert "料金とお支払いは6を" not in text  # no main menu


@pytest.mark.usefixtures("at_root")
async def test_simulate_a_withheld_caller_is_asked_for_the_customer_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = await simulate_command(
        capsys,
        "dialplans/hotline.yaml",
        "--caller",
        "anonymous",
        "--keys",
        "2",
        "--at",
        "2027-02-10T10:00",
    )
    assert "10-digit customer number" in text
