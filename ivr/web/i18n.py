"""The console's words in Japanese and English, and which language a page is shown in.

A signed-in page follows the session's language (the member's own at sign-in, changed with the
switch in the header); before sign-in the `lang` query parameter, else the browser's
Accept-Language, else Japanese. Templates call `t("key")`; a key missing here is a KeyError in
the tests, never a blank on screen.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from aiohttp import web

from ivr.web.sessions import signed_in

LANGUAGES = ("ja", "en")
DEFAULT = "ja"

TEXTS: dict[str, tuple[str, str]] = {
    # key: (ja, en)
    "product": ("水道料金お客さまセンター", "Suido Hotline"),
    "console": ("オペレーター画面", "Agent console"),
    "skip": ("本文へ移動", "Skip to content"),
    "sign_in": ("ログイン", "Sign in"),
    "sign_out": ("ログアウト", "Sign out"),
    "login_id": ("ログインID", "Log-in ID"),
    "password": ("パスワード", "Password"),
    "bad_login": (
        "ログインIDまたはパスワードが違います。",
        "The log-in ID or the password is wrong.",
    ),
    "missing_fields": (
        "ログインIDとパスワードを入力してください。",
        "Enter your log-in ID and password.",
    ),
    "too_many": (
        "ログインの失敗が続いたため、しばらく受け付けません。{seconds}秒後にもう一度お試しください。",
        "Too many failed log-ins. Try again in {seconds} seconds.",
    ),
    "signed_in_as": ("ログイン中", "Signed in as"),
    "language": ("表示言語", "Language"),
    "switch_to": ("English", "日本語"),
    "you": ("担当者", "You"),
    "name": ("氏名", "Name"),
    "role": ("権限", "Role"),
    "role_agent": ("オペレーター", "Agent"),
    "role_supervisor": ("スーパーバイザー", "Supervisor"),
    "role_admin": ("管理者", "Admin"),
    "endpoint": ("電話機", "Phone"),
    "no_endpoint": ("電話機の割り当てなし", "No phone assigned"),
    "skills": ("スキル", "Skills"),
    "none": ("なし", "none"),
    "lang_ja": ("日本語", "Japanese"),
    "lang_en": ("英語", "English"),
    "your_phone": ("あなたの電話機", "Your phone"),
    "phone_note": (
        "着信はこの電話機に届きます。",
        "Calls for you ring on this phone.",
    ),
    "pages": ("画面", "Pages"),
    "page_agent": ("オペレーター", "Agent"),
    "page_supervisor": ("スーパーバイザー", "Supervisor"),
    "page_report": ("応答実績レポート", "Report"),
    "page_staffing": ("要員計画", "Staffing"),
    "page_admin": ("管理", "Admin"),
    "agents": ("オペレーター一覧", "Agents"),
    "staff": ("職員一覧", "Staff"),
    "disabled": ("無効", "disabled"),
    "active": ("有効", "active"),
    "status": ("状態", "Status"),
    "manage_staff_note": (
        "職員の追加・パスワード変更・無効化は hotline agents コマンドで行います。",
        "Add staff, change passwords and disable accounts with the hotline agents command.",
    ),
    "error_400": ("入力が正しくありません。", "The request was not understood."),
    "error_403": ("この画面を開く権限がありません。", "You may not open this page."),
    "error_404": ("ページが見つかりません。", "Page not found."),
    "error_405": ("この操作はできません。", "This method is not allowed here."),
    "error_413": ("送信された内容が大きすぎます。", "The request is too large."),
    "error_429": ("しばらくしてからお試しください。", "Please try again later."),
    "error_500": (
        "システムエラーが発生しました。",
        "Something went wrong on our side.",
    ),
    "error_other": ("エラーが発生しました。", "Something went wrong."),
    "back_home": ("トップへ戻る", "Back to the start page"),
    "agent_state": ("受付状態", "Your state"),
    "state_ready": ("受付可", "Ready"),
    "state_paused": ("離席中", "Paused"),
    "state_logged_out": ("受付停止（キューからログアウト）", "Logged out of the queue"),
    "state_offered": ("着信中", "Call ringing"),
    "state_on_call": ("通話中", "On a call"),
    "state_wrap_up": ("後処理中", "Wrap-up"),
    "time_in_state": ("この状態の経過時間", "Time in this state"),
    "reason": ("理由", "Reason"),
    "reason_no_answer": ("応答なし", "No answer"),
    # the call's controls (ivr/web/calls.py, templates/_call_controls.html)
    "call_controls": ("通話の操作", "Call"),
    "call_action_failed": ("できませんでした", "Not done"),
    # why the engine refused a call command (routing.commands.Refusal), after call_action_failed
    "refusal_not_ringing": ("電話は鳴っていません", "your phone is not ringing"),
    "refusal_not_on_call": ("通話中ではありません", "you are not on a call"),
    "refusal_no_consultation": (
        "取り次ぎ中の転送はありません",
        "no attended transfer is under way",
    ),
    "refusal_busy": ("ほかの操作の途中です", "another action is under way"),
    "refusal_unknown_target": ("その転送先はありません", "no such transfer target"),
    "refusal_closed": ("転送先は受付時間外です", "the target is closed now"),
    "refusal_full": ("転送先のキューは受け付けていません", "the queue takes no caller now"),
    "refusal_attended_queue": (
        "キューへは取り次ぎ転送できません（ブラインド転送を選んでください）",
        "a queue cannot be consulted (choose a blind transfer)",
    ),
    "refusal_too_late": ("通話の状態が変わりました", "the call has moved on"),
    "refusal_on_hold": ("保留を解除してからお試しください", "resume the call first"),
    "refusal_not_on_hold": ("保留中ではありません", "the caller is not on hold"),
    "refusal_no_engine": ("通話エンジンにつながっていません", "the call engine is not connected"),
    "reject": ("着信を拒否", "Reject"),
    "hold": ("保留", "Hold"),
    "resume": ("保留を解除", "Resume"),
    "on_hold": (
        "保留中（お客さまには保留音が流れています）",
        "On hold (the caller hears hold music)",
    ),
    "transfer_to": ("転送先", "Transfer to"),
    "departments": ("部署", "Departments"),
    "queues": ("キュー", "Queues"),
    "transfer_mode": ("転送の方法", "How"),
    "transfer_blind": ("そのまま転送", "Blind"),
    "transfer_attended": ("先に相手と話す", "Attended (talk first)"),
    "transfer": ("転送", "Transfer"),
    "transfer_complete": ("転送を完了", "Complete transfer"),
    "transfer_cancel": ("転送を取り消す", "Cancel transfer"),
    "wrap_up_left": ("後処理の残り時間", "After-call work left"),
    "wrap_up_reason": ("分類（必須）", "Wrap-up code (required)"),
    "wrap_up_notes": ("メモ", "Notes"),
    "wrap_up_submit": ("後処理を終える", "Finish wrap-up"),
    "choose": ("選んでください", "Choose"),
    "pending_after_call": ("通話の後: {state}", "After this call: {state}"),
    "go_ready": ("受付開始", "Ready"),
    "go_pause": ("離席", "Pause"),
    "go_log_out": ("キューからログアウト", "Log out of the queue"),
    "access_key": ("ショートカット", "Shortcut"),
    "takes_no_calls": (
        "電話機が割り当てられていないため、着信を受けません。",
        "You have no phone assigned, so no calls are offered to you.",
    ),
    "state_listening": (
        "お使いの電話で通話をモニター中です。モニターを終えてから受付可にしてください。",
        "Your phone is listening to a call: end the listen before going ready.",
    ),
    "state_saving_failed": (
        "状態を変更できませんでした。もう一度お試しください。",
        "The state could not be changed. Please try again.",
    ),
    # the account search (ivr.web.search) and the intake forms (ivr.web.intake_forms)
    "account_search": ("お客さま検索", "Find an account"),
    "search_by": ("検索の方法", "Search by"),
    "search_by_kana": ("フリガナ（前方一致）", "Name in kana (starts with)"),
    "search_by_phone": ("電話番号", "Phone number"),
    "search_by_customer_number": ("お客さま番号", "Customer number"),
    "search_term": ("検索語", "Search for"),
    "search": ("検索", "Search"),
    "search_found": ("{count}件", "{count} found"),
    "search_more": (
        "ほかにも該当があります。検索語を長くしてください。",
        "More match: narrow the search.",
    ),
    "customer_number": ("お客さま番号", "Customer number"),
    "balance": ("未払い額", "Balance"),
    "yen": ("円", "yen"),
    "overdue_since": ("期限超過", "overdue since"),
    "payment": ("支払い方法", "Payment"),
    "premise": ("使用場所", "Premise"),
    "meter": ("メーター", "meter"),
    "phones": ("電話番号", "Phones"),
    "new_request": ("受付", "New request"),
    "intake_on_call": (
        "受付内容は対応中の通話に記録されます。",
        "The request is recorded with the call you are on.",
    ),
    "intake_fix": ("入力内容を確認してください。", "Please check the marked fields."),
    "needed": ("必須", "required"),
    "intake_submit": ("受け付ける", "Submit"),
    "intake_accepted": ("受け付けました", "accepted"),
    "confirmation_number": ("受付番号", "Confirmation number"),
    "read_to_caller": (
        "お客さまに受付番号をお伝えください。",
        "Read the confirmation number to the caller.",
    ),
    "intake_another": ("同じ種類の受付をもう一件", "Another request of this kind"),
    # --- notices (ivr/web/notices.py)
    "page_notices": ("お知らせ（自動音声）", "Notices callers hear"),
    "admin_tools": ("管理の仕事", "Admin tools"),
    "notices_note": (
        "登録したお知らせは、対象地区にお住まいのお客さまが電話をかけたときに、自動音声で"
        "流れます。保存すると日本語と英語の音声を作成し、作成できたものだけを流します。",
        "A notice is played to callers whose account's premises are in its areas. When you "
        "save it, its Japanese and English audio is made; only a notice whose audio was made "
        "is played.",
    ),
    "notices_in_force": ("放送中", "In force"),
    "notices_upcoming": ("予定", "Upcoming"),
    "notices_not_live": ("放送されないお知らせ", "Not played"),
    "notices_not_live_note": (
        "音声を作成できなかった（または作成中の）お知らせです。理由を確認して、登録し直して"
        "ください。",
        "Their audio could not be made (or is still being made). Check the reason and enter "
        "the notice again.",
    ),
    "notices_ended": ("終了したお知らせ", "Ended"),
    "notice_none": ("ありません。", "None."),
    "notice_new": ("お知らせを登録", "New notice"),
    "notice_id": ("番号", "No."),
    "notice_kind": ("種類", "Kind"),
    "notice_kind_construction": ("工事", "Construction"),
    "notice_kind_planned_outage": ("断水", "Planned outage"),
    "notice_kind_discoloured_water": ("にごり水", "Discoloured water"),
    "notice_kind_other": ("その他", "Other"),
    "notice_areas": ("対象地区（地区コード）", "Areas (area codes)"),
    "notice_areas_hint": (
        "お客さまの住所の地区コードを、カンマか空白で区切って入力します（例: chuo-01, chuo-02）。",
        "The premises' area codes, separated by commas or spaces (e.g. chuo-01, chuo-02).",
    ),
    "notice_period": ("期間", "Period"),
    "notice_valid_from": ("開始日時", "From"),
    "notice_valid_until": ("終了日時", "Until"),
    "notice_time_hint": ("日時は日本時間です。", "Times are Tokyo time."),
    "notice_text": ("放送する文", "Text spoken"),
    "notice_text_ja": ("日本語の文", "Japanese text"),
    "notice_text_ja_hint": (
        "そのまま読み上げます。日時・時間帯・地区を具体的に書いてください。",
        "Read out as written: give the date, the hours and the district.",
    ),
    "notice_text_en": ("英語の文", "English text"),
    "notice_text_en_hint": (
        "空欄の場合、英語を選んだお客さまにも日本語の音声を流します。",
        "If left blank, callers who chose English hear the Japanese audio.",
    ),
    "notice_save": ("保存して音声を作成", "Save and make the audio"),
    "notice_end": ("今すぐ終了", "End now"),
    "notice_retry": ("音声を作り直す", "Make the audio again"),
    "notice_ended_by": ("終了", "ended by"),
    "notice_by": ("登録者", "Entered by"),
    "notice_audio": ("音声", "Audio"),
    "audio_ready": ("作成済み", "ready"),
    "audio_pending": ("作成中", "being made"),
    "audio_failed": ("作成できませんでした", "could not be made"),
    "notice_saved_live": (
        "お知らせ {id} を保存しました。音声を作成し、期間中は対象地区のお客さまに流れます。",
        "Notice {id} is saved. Its audio is ready: callers in its areas hear it during its period.",
    ),
    "notice_saved_failed": (
        "お知らせ {id} は保存しましたが、音声を作成できなかったため流れません。理由:",
        "Notice {id} is saved but is not played: its audio could not be made. Why:",
    ),
    "notice_err_required": ("入力してください。", "Required."),
    "notice_err_unknown": ("一覧から選んでください。", "Choose one of the list."),
    "notice_err_too_long": ("長すぎます（1000文字まで）。", "Too long (1000 characters at most)."),
    "notice_err_too_many": ("地区が多すぎます（50まで）。", "Too many areas (50 at most)."),
    "notice_err_invalid": (
        "地区コードは英数字・ハイフン・下線の16文字までです。",
        "Area codes are up to 16 letters, digits, hyphens or underscores.",
    ),
    "notice_err_bad_time": ("日時を正しく入力してください。", "Enter a date and time."),
    "notice_err_not_after_start": (
        "開始日時より後にしてください。",
        "Must be after the start.",
    ),
    "notice_err_in_the_past": ("すでに過ぎた日時です。", "This time has already passed."),
}

Translate = Callable[[str], str]
Table = Mapping[str, tuple[str, str]]
"""Words by key, as (ja, en)."""


def register_texts(texts: dict[str, tuple[str, str]]) -> None:
    """Add a page module's own words (a key already here with other words is a mistake)."""
    for key, words in texts.items():
        if TEXTS.setdefault(key, words) != words:
            raise ValueError(f"text {key!r} is defined twice")


def index_of(language: str) -> int:
    """Where `language`'s words are in a (ja, en) pair: English for "en", else Japanese."""
    return 1 if language == "en" else 0


def translator(language: str, table: Table = TEXTS) -> Translate:
    """The words of `table` (the console's, or a page module's own) in `language`: English for
    "en", Japanese for anything else. A key the table lacks is a KeyError (a test fails), never
    a blank on screen."""
    index = index_of(language)

    def t(key: str) -> str:
        return table[key][index]

    return t


def from_header(accept_language: str) -> str:
    """The first of our languages the browser lists, ignoring weights' order subtleties."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower()
        for lang in LANGUAGES:
            if tag == lang or tag.startswith(lang + "-"):
                return lang
    return DEFAULT


def language_of(request: web.Request) -> str:
    who = signed_in(request)
    if who is not None:
        lang = who.data.get("lang", who.member.language)
        return lang if lang in LANGUAGES else DEFAULT
    asked = request.query.get("lang", "")
    if asked in LANGUAGES:
        return asked
    return from_header(request.headers.get("Accept-Language", ""))
