"""What the console says about requests in Japanese and English: each request kind's name, each
intake field's label, and one readable message per error code of the intake service
(ivr.intake.validation, ivr.intake.service), of the account search (ivr.store.search) and of the
API's edge (ivr.web.openapi). One table each; a test checks that every code has its message."""

from __future__ import annotations

from ivr.domain import RequestKind
from ivr.web.i18n import index_of

KINDS: dict[RequestKind, tuple[str, str]] = {
    RequestKind.START: ("使用開始", "Start service"),
    RequestKind.STOP: ("使用中止", "Stop service"),
    RequestKind.TRANSFER: ("市内での転居（中止と開始）", "Move within the city (stop + start)"),
    RequestKind.NAME_CHANGE: ("名義変更", "Change of holder"),
    RequestKind.PHONE_CHANGE: ("電話番号の変更", "Change of phone number"),
    RequestKind.RECONNECTION: ("給水の再開", "Reconnection"),
    RequestKind.BANK_DEBIT: ("口座振替の申込書送付", "Bank-debit form by post"),
    RequestKind.LEAK: ("漏水の連絡", "Leak report"),
}

FIELDS: dict[str, tuple[str, str]] = {
    "customer_number": ("お客さま番号", "Customer number"),
    "premise_id": ("使用場所の番号", "Premise number"),
    "meter_number": ("メーター番号", "Meter number"),
    "new_premise_id": ("転居先の使用場所の番号", "New premise number"),
    "new_meter_number": ("転居先のメーター番号", "New premise's meter number"),
    "stop_date": ("使用中止日", "Stop date"),
    "start_date": ("使用開始日", "Start date"),
    "effective_date": ("変更日", "Effective date"),
    "paid_on": ("お支払い日", "Paid on"),
    "holder_name": ("名義人のお名前", "Holder's name"),
    "holder_kana": ("名義人のフリガナ", "Holder's name in kana"),
    "old_phone": ("これまでの電話番号", "Old phone number"),
    "new_phone": ("新しい電話番号", "New phone number"),
    "contact_phone": ("連絡先の電話番号", "Contact phone"),
    "forwarding_address": ("最終の料金のお届け先", "Address for the final bill"),
    "address": ("漏水の場所", "Where the leak is"),
    "description": ("状況", "What is happening"),
    "reason": ("変更の理由", "Reason"),
    "recording": ("録音", "Recording"),
    "idempotency_key": ("送信の識別子", "Submission key"),
    "channel": ("受付経路", "Channel"),
    "kind": ("受付の種類", "Request kind"),
    "fields": ("入力項目", "Fields"),
    "body": ("送信内容", "Request body"),
    "term": ("検索語", "Search term"),
    "by": ("検索の方法", "Search by"),
    "phone": ("電話番号", "Phone number"),
    "kana": ("フリガナ", "Name in kana"),
}

ERRORS: dict[str, tuple[str, str]] = {
    # ivr.intake.validation
    "required": ("入力してください。", "Required."),
    "unknown_field": ("この受付では使わない項目です。", "Not a field of this request."),
    "invalid": ("入力が正しくありません。", "Not a valid value."),
    "invalid_date": ("日付を正しく入力してください。", "Enter a valid date."),
    "in_the_past": ("過去の日付は指定できません。", "The date is in the past."),
    "too_soon": (
        "日付が近すぎます。受付には営業日で数日が必要です。",
        "Too soon: the bureau needs a few business days.",
    ),
    "too_far": ("日付が先すぎます（受付は90日先まで）。", "Too far ahead (up to 90 days)."),
    "in_the_future": ("未来の日付は指定できません。", "The date is in the future."),
    "before_stop": (
        "開始日は中止日と同じかそれより後にしてください。",
        "The start date cannot be before the stop date.",
    ),
    "invalid_phone": ("電話番号が正しくありません。", "Not a valid phone number."),
    "invalid_number": (
        "番号が正しくありません（桁数かチェック数字）。",
        "Not a valid number (length or check digit).",
    ),
    "invalid_kana": ("カタカナで入力してください。", "Enter the name in katakana."),
    "too_long": ("長すぎます。", "Too long."),
    "invalid_characters": (
        "使えない文字が含まれています。",
        "Contains characters that cannot be stored.",
    ),
    # ivr.intake.service (checked against the account, in the request's transaction)
    "unknown_account": ("このお客さま番号は見つかりません。", "No account has this number."),
    "not_shut_off": (
        "この契約は給水停止中ではありません。",
        "The account's water is not shut off.",
    ),
    "account_stopped": ("この契約はすでに中止されています。", "The account is already stopped."),
    "no_premise": ("この契約には使用場所がありません。", "The account has no premise."),
    "not_account_premise": (
        "この使用場所はこの契約のものではありません。",
        "The premise is not the account's.",
    ),
    "unknown_premise": ("この使用場所は見つかりません。", "No such premise."),
    "unknown_meter": ("このメーター番号は見つかりません。", "No premise has this meter number."),
    "same_premise": (
        "転居先が今の使用場所と同じです。",
        "The new premise is the one being left.",
    ),
    "conflict": (
        "この送信は別の内容で受付済みです。画面を開き直してください。",
        "This submission was already used for another request: open the form again.",
    ),
    # ivr.store.search
    "too_short": ("2文字以上入力してください。", "Enter at least two characters."),
    "one_term": ("検索語は1つだけ指定してください。", "Give exactly one search term."),
}

ACCOUNT_STATUSES: dict[str, tuple[str, str]] = {
    "active": ("使用中", "Active"),
    "stopped": ("中止済み", "Stopped"),
    "shut_off": ("給水停止中", "Shut off"),
}

PAYMENT_METHODS: dict[str, tuple[str, str]] = {
    "bank_debit": ("口座振替", "Bank debit"),
    "convenience_store": ("コンビニ払い", "Convenience store"),
    "credit_card": ("クレジットカード", "Credit card"),
    "invoice": ("納付書", "Payment slip"),
}


def pick(table: dict[str, tuple[str, str]], key: str, lang: str) -> str:
    """`key`'s text in `table` (its key when the table lacks it)."""
    texts = table.get(key)
    return key if texts is None else texts[index_of(lang)]


def kind_label(kind: RequestKind, lang: str) -> str:
    return KINDS[kind][index_of(lang)]


def field_label(name: str, lang: str) -> str:
    label = FIELDS.get(name)
    return name if label is None else label[index_of(lang)]


def error_text(code: str, lang: str) -> str:
    """The message for `code`; an unknown code (a new one not yet in the table) is shown as the
    generic 'invalid' rather than as the code."""
    return ERRORS.get(code, ERRORS["invalid"])[index_of(lang)]
