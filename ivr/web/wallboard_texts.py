"""The wallboard's words in Japanese and English (the console's own are in `ivr.web.i18n`)."""

from __future__ import annotations

from collections.abc import Callable

TEXTS: dict[str, tuple[str, str]] = {
    "title": ("ウォールボード", "Wallboard"),
    "now": ("現在", "Now"),
    "today": ("本日", "Today"),
    "queue": ("キュー", "Queue"),
    "total": ("全体", "All queues"),
    "waiting": ("待ち呼", "Waiting"),
    "longest": ("最長待ち", "Longest wait"),
    "callbacks": ("折返し待ち", "Callbacks waiting"),
    "offered": ("着信", "Offered"),
    "answered": ("応答", "Answered"),
    "abandoned": ("放棄", "Abandoned"),
    "short": ("短時間放棄", "Short abandons"),
    "service_level": ("サービスレベル", "Service level"),
    "asa": ("平均応答時間", "ASA"),
    "agents": ("オペレーター", "Agents"),
    "agent": ("オペレーター", "Agent"),
    "state_ready": ("受付可", "Ready"),
    "state_offered": ("着信中", "Ringing"),
    "state_on_call": ("通話中", "On call"),
    "state_wrap_up": ("後処理", "Wrap-up"),
    "state_paused": ("離席", "Paused"),
    "state_logged_out": ("ログアウト", "Logged out"),
    "since": ("経過", "For"),
    "pending": ("通話後", "After the call"),
    "actions": ("操作", "Actions"),
    "log_out": ("ログアウトさせる", "Log out"),
    "pause": ("離席にする", "Pause"),
    "reason": ("理由", "Reason"),
    "waiting_list": ("待っているお客さま", "Callers waiting"),
    "position": ("順番", "Position"),
    "wait": ("待ち時間", "Wait"),
    "language": ("言語", "Language"),
    "callback": ("折返し", "Callback"),
    "yes": ("はい", "yes"),
    "no": ("いいえ", "no"),
    "open": ("お客さまを表示", "Open caller"),
    "nobody_waiting": ("待っているお客さまはいません。", "Nobody is waiting."),
    "formula": ("計算式", "Formula"),
    "formula_note": (
        "A_T = T秒以内に応答、A = 応答、B = 放棄（短時間放棄 S を除く）、B_T = T秒以内の放棄、"
        "着信 O = Q − S（待ち中を含む）。ASA = 応答呼の待ち時間の合計 / A。"
        "本日 = 東京時間 0時から。",
        "A_T = answered within T s, A = answered, B = abandoned (short abandons S left out), "
        "B_T = abandoned within T s, offered O = Q − S (callers waiting now included). "
        "ASA = Σ wait of answered calls / A. Today = since midnight Tokyo time.",
    ),
    "threshold": ("T", "T"),
    "short_threshold": ("短時間放棄の基準", "Short abandon under"),
    "seconds": ("秒", "s"),
    "live": ("ライブ", "Live"),
    "disconnected": ("接続が切れています。再接続しています…", "Disconnected. Reconnecting…"),
    "on_duty": ("今夜の当番", "On duty tonight"),
    "duty_order": ("順番", "Order"),
    "duty_name": ("名前", "Name"),
    "duty_ring": ("呼出秒数", "Ring (s)"),
    "duty_from_config": ("config.yaml の当番表", "From config.yaml"),
    "duty_changed": ("最終変更", "Last changed"),
    "duty_empty": ("当番が登録されていません。", "Nobody is on duty."),
    "caller": ("お客さま", "Caller"),
    "caller_number": ("発信者番号", "Caller number"),
    "account": ("お客さま番号", "Customer number"),
    "no_account": ("お客さま情報なし", "No account"),
    "withheld": ("非通知", "Withheld"),
    "back": ("ウォールボードに戻る", "Back to the wallboard"),
    "gone": ("この通話は終了しています。", "This call has ended."),
    "move": ("移動", "Move"),
    "move_to": ("移動先キュー", "Move to queue"),
}


def wall_translator(language: str) -> Callable[[str], str]:
    index = 1 if language == "en" else 0

    def w(key: str) -> str:
        return TEXTS[key][index]

    return w
