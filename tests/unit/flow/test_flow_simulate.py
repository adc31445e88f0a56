from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ivr.flow.catalog import load_catalog
from ivr.flow.cli import demo_fakes
from ivr.flow.loader import References, load_flow
from ivr.flow.simulator import simulate

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CATALOG = load_catalog(ROOT / "prompts" / "catalog.yaml")
HOTLINE = load_flow(ROOT / "dialplans" / "hotline.yaml", References(catalog=CATALOG))
TOKYO = ZoneInfo("Asia/Tokyo")
WEDNESDAY = datetime(2027, 2, 10, 10, 0, tzinfo=TOKYO)
SUNDAY = datetime(2027, 2, 14, 10, 0, tzinfo=TOKYO)
ACTIVE = "0312345678"  # demo account 1000000018, area north-3, balance 3240 yen
SHUT_OFF = "0398765432"


async def call(keys: str, caller: str | None = ACTIVE, at: datetime = WEDNESDAY) -> str:
    return "\n".join(await simulate(HOTLINE, caller, keys, at, demo_fakes(), CATALOG))


async def test_greeting_notices_and_main_menu() -> None:
    text = await call("1 2")
    assert "水道局お客さまセンターです" in text
    assert "断水を予定しております" in text  # notice for the caller's area
    assert "料金とお支払いは6を" in text
    assert "[main_menu] menu_choice key=2, to=change_menu" in text


async def test_1_in_city_move_is_one_transfer_request() -> None:
    # dates out and in, then the meter number from the card at the new home
    text = await call("1 1 3 20270320 1 20270321 1 00012345# 1 2")
    assert "ご入力は、 2027年3月20日 です" in text
    assert "メーター番号を押し" in text
    assert (
        "INTAKE transfer: customer_number=1000000018, stop_date=2027-03-20, "
        "start_date=2027-03-21, new_meter_number=00012345, caller_id=0312345678 -> K10001"
    ) in text
    assert "まとめて受け付けました" in text
    assert "受付番号は、 K10001 です" in text


async def test_1_a_mover_without_the_meter_card_reaches_an_agent_with_the_dates() -> None:
    text = await call("1 1 3 20270320 1 20270321 1 . . .")  # silence at the meter number
    assert "INTAKE" not in text
    assert "[moving_queue] queue_result queue=moving, outcome=answered" in text


async def test_1_stop_service() -> None:
    text = await call("1 1 2 20270331# 1 2")
    assert "INTAKE stop: customer_number=1000000018, stop_date=2027-03-31" in text
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
    assert "INTAKE phone_change: customer_number=1000000018, new_phone=09011112222" in text
    assert "電話番号の変更を受け付けました" in text


async def test_2_name_change_records_name() -> None:
    text = await call("1 2 1 2")
    assert "RECORD up to 20 s" in text
    assert "INTAKE name_change: customer_number=1000000018, name_recording=rec-" in text


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
    text = await call("1 4 1 2", caller=SHUT_OFF)
    assert "お支払い済みの方は1を" in text
    assert "INTAKE reconnection: customer_number=1000000026" in text
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
    assert "現在のご請求額は、 3,240円 です" in text
    text = await call("1 6 3 1 2")
    assert "INTAKE bank_debit: customer_number=1000000018" in text
    assert "口座振替申込書の送付を受け付けました" in text


async def test_0_operator() -> None:
    text = await call("1 0")
    assert "QUEUE general (priority 0):" in text
    assert "account_number=1000000018" in text


async def test_withheld_caller_in_english_enters_customer_number() -> None:
    text = await call("2 1000000018 6 1 2", caller=None)
    assert "10-digit customer number" in text
    assert "Your current balance is 3,240 yen" in text


async def test_barge_in_through_the_menu() -> None:
    text = await call("1 12")  # 2 is pressed while the moving menu is still playing
    assert "(prompt interrupted)" in text
    assert "[moving_menu] menu_choice key=2, to=stop_needs_account" in text
