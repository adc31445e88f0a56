"""What the report and staffing pages say in Japanese and English (`ivr.web.report`): labels,
headings and one message per field error code of `ivr.web.report_forms`. The report's own body
(figures, charts, formulas) is the report file's, in English (`ivr.reports.render`)."""

from __future__ import annotations

TEXTS: dict[str, tuple[str, str]] = {
    # key: (ja, en)
    "report_title": ("応答実績レポート", "Hotline report"),
    "report_note": (
        "通話記録から期間の実績を集計します（東京時間、開始日・終了日を含む）。"
        "ダウンロードは hotline report と同じ内容です。",
        "The period's statistics from the call trail (Tokyo days, both ends included). The "
        "downloads are what `hotline report` writes.",
    ),
    "report_from": ("開始日", "From"),
    "report_to": ("終了日", "To"),
    "report_queue": ("キュー", "Queue"),
    "report_all_queues": ("すべてのキュー", "All queues"),
    "report_interval": ("集計単位", "Interval"),
    "interval_15": ("15分", "15 minutes"),
    "interval_30": ("30分", "30 minutes"),
    "interval_60": ("1時間", "1 hour"),
    "interval_day": ("日", "Day"),
    "interval_month": ("月", "Month"),
    "report_hours": ("受付時間", "Opening hours"),
    "hours_all": ("すべて", "All calls"),
    "hours_in": ("受付時間内", "Within opening hours"),
    "hours_out": ("受付時間外", "Outside opening hours"),
    "report_show": ("表示", "Show report"),
    "report_download": ("ダウンロード", "Download"),
    "fix_fields": ("入力内容を確認してください。", "Check the fields marked below."),
    "page_staffing_title": ("要員計画（アーラン C／A）", "Staffing (Erlang C and A)"),
    "whatif_title": ("試算", "What-if"),
    "whatif_note": (
        "入力した数値から、目標を満たすオペレーター数をアーラン C（放棄なし）と"
        "アーラン A（平均待ち許容時間で放棄）で並べて計算します。",
        "The agents needed for the target from entered figures: Erlang C (callers wait "
        "forever) beside Erlang A (callers hang up after their mean patience).",
    ),
    "whatif_calls": ("1区間の着信数", "Calls per interval"),
    "whatif_minutes": ("区間の長さ", "Interval length"),
    "whatif_aht": ("平均処理時間 AHT（秒）", "Average handle time, AHT (s)"),
    "whatif_target": ("目標サービスレベル（%）", "Target service level (%)"),
    "whatif_answer_s": ("応答目標時間 T（秒）", "Answer within T (s)"),
    "whatif_shrinkage": ("シュリンケージ（%）", "Shrinkage (%)"),
    "whatif_patience": (
        "平均待ち許容時間（秒、空欄ならアーラン C のみ）",
        "Mean patience (s; blank: Erlang C only)",
    ),
    "whatif_run": ("計算", "Calculate"),
    "staff_model": ("モデル", "Model"),
    "staff_agents": ("オペレーター数", "Agents"),
    "staff_sl": ("サービスレベル", "Service level"),
    "staff_pwait": ("待ち確率", "P(wait)"),
    "staff_asa": ("平均応答速度 ASA（秒）", "ASA (s)"),
    "staff_occupancy": ("稼働率", "Occupancy"),
    "staff_abandon": ("放棄率", "Abandoned"),
    "staff_seats": ("必要人員（シュリンケージ後）", "Seats after shrinkage"),
    "staff_load": ("呼量（アーラン）", "Load (erlangs)"),
    "erlang_c": ("アーラン C", "Erlang C"),
    "erlang_a": ("アーラン A", "Erlang A"),
    "staff_formulas": ("計算式", "Formulas"),
    "no_patience": ("待ち許容時間の入力なし", "no patience given"),
    "peak_title": ("繁忙期の計画（3〜4月）", "Peak plan (March–April)"),
    "peak_note": (
        "指定した年の3月・4月の通話記録から、時間帯ごとの1日あたり着信数・AHT・待ち許容時間を"
        "測り、必要なオペレーター数を求めます。目標とシュリンケージは設定ファイルの値です。",
        "Each interval of the day from the chosen year's March and April trail: calls per day, "
        "the measured AHT and patience, and the agents needed. Target and shrinkage are "
        "config.yaml's.",
    ),
    "peak_year": ("年", "Year"),
    "peak_minutes": ("時間帯の長さ", "Interval length"),
    "peak_run": ("計画を作成", "Make the plan"),
    "peak_empty": (
        "その期間にキューの通話はありません。",
        "No queued calls in that period.",
    ),
    "peak_target": ("目標", "Target"),
    "peak_interval": ("時間帯", "Interval"),
    "peak_calls": ("着信数／日", "Calls per day"),
    "err_bad_date": ("日付を YYYY-MM-DD で入力してください。", "Enter a date as YYYY-MM-DD."),
    "err_before_from": ("終了日が開始日より前です。", "The end is before the start."),
    "err_too_long": ("期間は366日までです。", "A report covers at most 366 days."),
    "err_too_fine": (
        "15分・30分・1時間単位は31日までの期間で選べます。",
        "15-, 30- and 60-minute intervals are for periods of up to 31 days.",
    ),
    "err_unknown_queue": ("そのキューはありません。", "There is no such queue."),
    "err_bad_choice": ("一覧から選んでください。", "Choose one of the list."),
    "err_required": ("入力してください。", "Enter a value."),
    "err_not_a_number": ("数値を入力してください。", "Enter a number."),
    "err_out_of_range": ("範囲外の値です。", "The value is out of range."),
    "err_too_much_load": (
        "呼量が大きすぎます（400アーランまで）。",
        "The load is too large (at most 400 erlangs).",
    ),
    "err_no_season_yet": (
        "その年の3〜4月はまだ来ていません。",
        "That year's March–April has not come yet.",
    ),
}

ERROR_CODES = (
    "bad_date",
    "before_from",
    "too_long",
    "too_fine",
    "unknown_queue",
    "bad_choice",
    "required",
    "not_a_number",
    "out_of_range",
    "too_much_load",
    "no_season_yet",
)
