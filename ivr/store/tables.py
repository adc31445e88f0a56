"""The engine's tables, as SQLAlchemy Core metadata (no ORM: repositories return dataclasses).

The Alembic migrations in `ivr/store/migrations/versions/` are the source of truth for the live
schema; a contract test checks that this metadata and the migrated schema do not drift apart.
Every timestamp is stored as naive UTC (`UtcDateTime`) so SQLite and PostgreSQL compare alike.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, get_args

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from ivr.domain import Channel, StoredKind

ACCOUNT_STATUSES = ("active", "stopped", "shut_off")
PAYMENT_METHODS = ("bank_debit", "convenience_store", "credit_card", "invoice")
REQUEST_KINDS: tuple[str, ...] = get_args(StoredKind)
REQUEST_STATUSES = ("accepted", "delivered", "failed")
CHANNELS: tuple[str, ...] = get_args(Channel)
OUTBOX_STATES = ("pending", "delivered", "dead")
NOTICE_KINDS = ("construction", "planned_outage", "discoloured_water", "other")


class UtcDateTime(sa.types.TypeDecorator[datetime]):
    """An aware datetime in Python, naive UTC in the database (both dialects)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)  # noqa: S101 — the driver's contract for DateTime
        return value.replace(tzinfo=UTC)


def _one_of(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    quoted = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({quoted})", name=name)


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# the departments calls are transferred to (ivr.store.departments): config.yaml seeds them once,
# the console edits them; a removed one stays as a row (`removed`) so config never seeds it back
departments = sa.Table(
    "departments",
    metadata,
    sa.Column("code", sa.String(32), primary_key=True),
    sa.Column("label_ja", sa.String(100), nullable=False),
    sa.Column("label_en", sa.String(100), nullable=False),
    sa.Column("endpoint", sa.String(200), nullable=True),
    sa.Column("number", sa.String(21), nullable=True),
    sa.Column("calendar", sa.String(32), nullable=True),
    sa.Column("removed", sa.Boolean, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
)

STAFF_ROLES = ("agent", "supervisor", "admin")
LANGUAGES = ("ja", "en")
LOGIN_FAILURE_SCOPES = ("login", "address")

# the people who sign in to the console (ivr.store.staff): agents, supervisors, admins
staff = sa.Table(
    "staff",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("login", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    # the phone the agent takes calls on (PJSIP/agent1); NULL for staff who take no calls
    sa.Column("endpoint", sa.String(200), nullable=True),
    sa.Column("skills", sa.JSON, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    _one_of("role", STAFF_ROLES, "role"),
    _one_of("language", LANGUAGES, "language"),
)

# a signed-in browser: the cookie holds a random key, the row only its SHA-256 (a copy of the
# table lets nobody sign in); deleted at log-out, expired by idle and absolute timeouts
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("key_hash", sa.String(64), primary_key=True),
    sa.Column(
        "staff_id", sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False, index=True
    ),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_seen_at", UtcDateTime, nullable=False),
)

# a member's token for the REST API (ivr.store.tokens): only its SHA-256, one per member (a new
# one replaces the old)
api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "staff_id", sa.ForeignKey("staff.id", ondelete="CASCADE"), nullable=False, unique=True
    ),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("last_used_at", UtcDateTime, nullable=True),
)

# failed console log-ins within the rate-limit window, by login id and by client address
login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("scope", sa.String(8), nullable=False),
    sa.Column("key", sa.String(200), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_login_failures_scope_key_at", "scope", "key", "at"),
    _one_of("scope", LOGIN_FAILURE_SCOPES, "scope"),
)

PRESENCE_STATUSES = ("ready", "paused", "logged_out")
AGENT_STATUSES = ("logged_out", "ready", "paused", "offered", "on_call", "wrap_up")

# each agent's chosen availability, what an engine restart restores (ivr.store.presence): ready,
# paused with a reason, or logged out, since when, and the phone they took calls on
agent_presence = sa.Table(
    "agent_presence",
    metadata,
    sa.Column("login", sa.ForeignKey("staff.login"), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("since", UtcDateTime, nullable=False),
    sa.Column("endpoint", sa.String(200), nullable=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    _one_of("status", PRESENCE_STATUSES, "status"),
)

# the agent trail, append-only: every state change of every agent (the wallboard and reports)
agent_events = sa.Table(
    "agent_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("login", sa.ForeignKey("staff.login"), nullable=False, index=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("before", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=True),
    sa.Column("call_id", sa.String(64), nullable=True),
    _one_of("before", AGENT_STATUSES, "before"),
    _one_of("status", AGENT_STATUSES, "status"),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_number", sa.String(10), nullable=False, unique=True),
    sa.Column("holder_name", sa.String(100), nullable=False),
    sa.Column("holder_kana", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("balance_yen", sa.Integer, nullable=False),
    sa.Column("overdue_since", sa.Date, nullable=True),
    sa.Column("payment_method", sa.String(24), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    _one_of("status", ACCOUNT_STATUSES, "status"),
    _one_of("payment_method", PAYMENT_METHODS, "payment_method"),
    # agents search by the reading's prefix (ivr.store.search); PostgreSQL's LIKE 'x%' needs the
    # pattern operator class to use an index under a non-C collation
    sa.Index(
        "ix_accounts_holder_kana",
        "holder_kana",
        postgresql_ops={"holder_kana": "varchar_pattern_ops"},
    ),
)

premises = sa.Table(
    "premises",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    # NULL while the premise is vacant (no account takes water there)
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=True, index=True),
    sa.Column("address", sa.String(200), nullable=False),
    sa.Column("postal_code", sa.String(8), nullable=False),
    sa.Column("area_code", sa.String(16), nullable=False, index=True),
    sa.Column("meter_number", sa.String(16), nullable=False, unique=True),
)

phones = sa.Table(
    "phones",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=False, index=True),
    sa.Column("e164", sa.String(16), nullable=False, index=True),
    sa.Column("label", sa.String(16), nullable=False),
    sa.UniqueConstraint("account_id", "e164"),
)

service_requests = sa.Table(
    "service_requests",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=True, index=True),
    sa.Column("premise_id", sa.ForeignKey("premises.id"), nullable=True),
    sa.Column("fields", sa.JSON, nullable=False),
    sa.Column("confirmation", sa.String(8), nullable=True, index=True),
    sa.Column("linked_request_id", sa.ForeignKey("service_requests.id"), nullable=True),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("call_id", sa.String(64), nullable=True),
    # the report reads a period's requests (ivr.reports.queries; migration 0015)
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    _one_of("kind", REQUEST_KINDS, "kind"),
    _one_of("status", REQUEST_STATUSES, "status"),
    _one_of("channel", CHANNELS, "channel"),
)

# A channel's own key for "this one request" (the IVR: call id + intake node visit), so that a
# retried submission returns the first confirmation instead of making a second request. Points at
# the first row of the request (the stop row of a transfer).
intake_keys = sa.Table(
    "intake_keys",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("request_id", sa.ForeignKey("service_requests.id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    # what the key was first used for (`ivr.intake.service.request_digest`); null before 0006
    sa.Column("digest", sa.String(64)),
)

FLOW_FILE_KINDS = ("flow", "catalog")

# the dialplan files and the prompt catalog as they last went live together: what an engine
# started with a broken file on disk serves (`ivr.calls.flows.FlowRegistry.start`)
accepted_flow_files = sa.Table(
    "accepted_flow_files",
    metadata,
    sa.Column("name", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("accepted_at", UtcDateTime, nullable=False),
    _one_of("kind", FLOW_FILE_KINDS, "kind"),
)

# a caller who chose a callback has hung up: their queue place lives only here until called back
callback_requests = sa.Table(
    "callback_requests",
    metadata,
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("queue", sa.String(64), nullable=False),
    sa.Column("number", sa.String(32), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("enqueued_at", UtcDateTime, nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("context", sa.JSON, nullable=False),
    # pending: waiting for an agent; dialing / served / failed: done, never dialled again
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

call_memory = sa.Table(
    # what a call in progress must remember across an engine restart (ivr.store.call_memory):
    # a few rows per live call, deleted when the call ends
    "call_memory",
    metadata,
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
)

# a notice's audio per language (ivr.adapters.notices renders it when the notice is saved): it
# is played only once every language is "ready"; "failed" keeps the reason for the admin
NOTICE_AUDIO_STATES = ("pending", "ready", "failed")

notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("text_ja", sa.Text, nullable=False),
    sa.Column("text_en", sa.Text, nullable=False),
    sa.Column("valid_from", UtcDateTime, nullable=False),
    # ending a notice early moves its end to that moment (ended_at / ended_by say who)
    sa.Column("valid_until", UtcDateTime, nullable=False, index=True),
    sa.Column("audio_ja", sa.String(8), nullable=False, server_default="pending"),
    sa.Column("audio_ja_reason", sa.String(300), nullable=True),
    sa.Column("audio_en", sa.String(8), nullable=False, server_default="pending"),
    sa.Column("audio_en_reason", sa.String(300), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=True),
    sa.Column("created_by", sa.String(100), nullable=True),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("ended_by", sa.String(100), nullable=True),
    _one_of("kind", NOTICE_KINDS, "kind"),
    _one_of("audio_ja", NOTICE_AUDIO_STATES, "audio_ja"),
    _one_of("audio_en", NOTICE_AUDIO_STATES, "audio_en"),
)

# the areas (premises' area codes) a notice is for: one row per area
notice_areas = sa.Table(
    "notice_areas",
    metadata,
    sa.Column("notice_id", sa.ForeignKey("notices.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("area_code", sa.String(16), primary_key=True, index=True),
)

calls = sa.Table(
    "calls",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("caller_e164", sa.String(16), nullable=True),
    sa.Column("caller_kind", sa.String(16), nullable=False),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("started_at", UtcDateTime, nullable=False, index=True),
    sa.Column("ended_at", UtcDateTime, nullable=True),
    sa.Column("reason_code", sa.String(32), nullable=True),
)

call_events = sa.Table(
    "call_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("call_id", sa.ForeignKey("calls.id"), nullable=False, index=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("data", sa.JSON, nullable=False),
)

billing_outbox = sa.Table(
    "billing_outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("request_id", sa.ForeignKey("service_requests.id"), nullable=False, unique=True),
    sa.Column("idempotency_key", sa.String(64), nullable=False, unique=True),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime, nullable=False),
    sa.Column("last_error", sa.String(500), nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("delivered_at", UtcDateTime, nullable=True),
    sa.Index("ix_billing_outbox_due", "state", "next_attempt_at"),
    _one_of("state", OUTBOX_STATES, "state"),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=True, index=True),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("call_id", sa.String(64), nullable=True),
)

# --- the reports' roll-up (ivr.reports.rollup): derived from the trail, rebuilt at will -----------
# one row per call, what the reports count (queue outcome, waits, talk, transfer, intake), with
# its Tokyo day and minute of day so that intervals group alike on SQLite and PostgreSQL
report_contacts = sa.Table(
    "report_contacts",
    metadata,
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("epoch_s", sa.BigInteger, nullable=False, index=True),
    sa.Column("day", sa.String(10), nullable=False, index=True),
    sa.Column("minute", sa.SmallInteger, nullable=False),
    sa.Column("in_hours", sa.Boolean, nullable=False),
    sa.Column("queue", sa.String(64), nullable=True),
    sa.Column("callback_of", sa.String(64), nullable=True),
    sa.Column("outcome", sa.String(16), nullable=True),
    sa.Column("wait_s", sa.Float, nullable=True),
    sa.Column("agent", sa.String(64), nullable=True),
    sa.Column("talk_s", sa.Float, nullable=False),
    sa.Column("hold_s", sa.Float, nullable=False),
    sa.Column("wrap_s", sa.Float, nullable=False),
    sa.Column("callback_requested", sa.Boolean, nullable=False),
    sa.Column("callback_dialled", sa.Boolean, nullable=False),
    sa.Column("callback_failed", sa.Boolean, nullable=False),
    sa.Column("closed", sa.Boolean, nullable=False),
    sa.Column("self_served", sa.Boolean, nullable=False),
    sa.Column("intakes", sa.Integer, nullable=False),
    sa.Column("department", sa.String(32), nullable=True),
    sa.Column("transferred", sa.Boolean, nullable=False),
    sa.Column("emergency", sa.Boolean, nullable=False),
    sa.Column("reason_code", sa.String(32), nullable=True),
    sa.Column("wrap_reason", sa.String(64), nullable=True),
    sa.Column("account_id", sa.Integer, nullable=True),
    sa.Column("ended", sa.Boolean, nullable=False),
    sa.Index("ix_report_contacts_account_id_epoch_s", "account_id", "epoch_s"),
)

# report_contacts summed per Tokyo day, quarter hour of the day, queue ("" for calls that were
# not queued) and within / outside opening hours, for the answer and short-abandon thresholds
# in report_progress: what a year's report reads instead of a million contacts
report_intervals = sa.Table(
    "report_intervals",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("slot", sa.SmallInteger, primary_key=True),
    sa.Column("queue", sa.String(64), primary_key=True),
    sa.Column("in_hours", sa.Boolean, primary_key=True),
    sa.Column("queued", sa.Integer, nullable=False),
    sa.Column("short_abandons", sa.Integer, nullable=False),
    sa.Column("answered", sa.Integer, nullable=False),
    sa.Column("answered_within", sa.Integer, nullable=False),
    sa.Column("abandoned", sa.Integer, nullable=False),
    sa.Column("abandoned_within", sa.Integer, nullable=False),
    sa.Column("callbacks", sa.Integer, nullable=False),
    sa.Column("overflows", sa.Integer, nullable=False),
    sa.Column("closed_q", sa.Integer, nullable=False),
    sa.Column("unfinished", sa.Integer, nullable=False),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("in_hours_calls", sa.Integer, nullable=False),
    sa.Column("while_closed", sa.Integer, nullable=False),
    sa.Column("ivr_completed", sa.Integer, nullable=False),
    sa.Column("intakes", sa.Integer, nullable=False),
    sa.Column("transferred", sa.Integer, nullable=False),
    sa.Column("emergency", sa.Integer, nullable=False),
    sa.Column("callbacks_requested", sa.Integer, nullable=False),
    sa.Column("callbacks_dialled", sa.Integer, nullable=False),
    sa.Column("callbacks_completed", sa.Integer, nullable=False),
    sa.Column("callbacks_failed", sa.Integer, nullable=False),
    sa.Column("wait_answered_s", sa.Float, nullable=False),
    sa.Column("longest_wait_s", sa.Float, nullable=False),
    sa.Column("talk_s", sa.Float, nullable=False),
    sa.Column("hold_s", sa.Float, nullable=False),
    sa.Column("wrap_s", sa.Float, nullable=False),
    sa.Column("wait_all_s", sa.Float, nullable=False),
)

# report_contacts counted per Tokyo day by outcome (reason code), wrap-up reason, department and
# agent ("" for none), within / outside opening hours: the report's classification and the
# agents' handled calls without a pass over the contacts
report_day_classes = sa.Table(
    "report_day_classes",
    metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("in_hours", sa.Boolean, primary_key=True),
    sa.Column("reason_code", sa.String(32), primary_key=True),
    sa.Column("wrap_reason", sa.String(64), primary_key=True),
    sa.Column("department", sa.String(32), primary_key=True),
    sa.Column("agent", sa.String(64), primary_key=True),
    sa.Column("calls", sa.Integer, nullable=False),
    sa.Column("transferred", sa.Integer, nullable=False),
    sa.Column("handled", sa.Integer, nullable=False),
    sa.Column("talk_s", sa.Float, nullable=False),
    sa.Column("hold_s", sa.Float, nullable=False),
    sa.Column("wrap_s", sa.Float, nullable=False),
)

# each agent's time per Tokyo day in each state (paused: by reason; "" when none), summed from
# the agent trail; a state still going is in report_agent_open until the next event
report_agent_time = sa.Table(
    "report_agent_time",
    metadata,
    sa.Column("login", sa.String(64), primary_key=True),
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("status", sa.String(16), primary_key=True),
    sa.Column("reason", sa.String(64), primary_key=True),
    sa.Column("seconds", sa.Float, nullable=False),
)

report_agent_open = sa.Table(
    "report_agent_open",
    metadata,
    sa.Column("login", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("call_id", sa.String(64), nullable=True),
    sa.Column("since", UtcDateTime, nullable=False),
)

# each call's wrap-up by the agent who took it (a contact rolled up again sums these)
report_wrap_ups = sa.Table(
    "report_wrap_ups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("call_id", sa.String(64), nullable=False, index=True),
    sa.Column("login", sa.String(64), nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
)

# how far the roll-up has read each trail (`call_events.id`, `agent_events.id`)
report_progress = sa.Table(
    "report_progress",
    metadata,
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("last_id", sa.BigInteger, nullable=False),
)

# --- what the centre learns (ivr.store.complaints, ivr.store.knowledge) -------------------------
CASE_KINDS = ("complaint", "request")
CASE_STATUSES = ("received", "in_hand", "answered")
KB_STATES = ("proposed", "live", "retired")

# a complaint or request an agent keyed, on the work list of the department it goes to; each
# step of the follow-up with who took it and when
cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("category", sa.String(32), nullable=False),
    sa.Column("said", sa.String(2000), nullable=False),
    sa.Column("department", sa.String(32), nullable=False),
    sa.Column("call_id", sa.String(64), nullable=True, index=True),
    sa.Column("account_id", sa.ForeignKey("accounts.id"), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False, index=True),
    sa.Column("received_by", sa.String(100), nullable=False),
    sa.Column("in_hand_at", UtcDateTime, nullable=True),
    sa.Column("in_hand_by", sa.String(100), nullable=True),
    sa.Column("answered_at", UtcDateTime, nullable=True),
    sa.Column("answered_by", sa.String(100), nullable=True),
    sa.Column("answer", sa.String(2000), nullable=True),
    sa.Index("ix_cases_department_status", "department", "status"),
    _one_of("kind", CASE_KINDS, "kind"),
    _one_of("status", CASE_STATUSES, "status"),
)

# FAQ entries: `search_text` is question, answer and category in the normalised form searched
kb_entries = sa.Table(
    "kb_entries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("lang", sa.String(8), nullable=False),
    sa.Column("question", sa.String(500), nullable=False),
    sa.Column("answer", sa.String(2000), nullable=False),
    sa.Column("category", sa.String(32), nullable=False, index=True),
    sa.Column("department", sa.String(32), nullable=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("search_text", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("created_by", sa.String(100), nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
    sa.Column("call_id", sa.String(64), nullable=True),
    sa.Index("ix_kb_entries_state_lang", "state", "lang"),
    _one_of("lang", LANGUAGES, "lang"),
    _one_of("state", KB_STATES, "state"),
)

# --- the leak line's on-duty lists (ivr.store.duty): edited in the console, read at each escalation
# one row per department whose list the database keeps (seeded once from config.yaml); its steps
# in ring order
duty_lists = sa.Table(
    "duty_lists",
    metadata,
    sa.Column("department", sa.String(32), primary_key=True),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("updated_by", sa.String(100), nullable=False),
)

duty_steps = sa.Table(
    "duty_steps",
    metadata,
    sa.Column(
        "department",
        sa.ForeignKey("duty_lists.department", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("endpoint", sa.String(200), nullable=False),
    sa.Column("ring_s", sa.Integer, nullable=False),
)

# the leader lock's generation (ivr.leader): one row, raised by each engine taking the lock
engine_leader = sa.Table(
    "engine_leader",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("generation", sa.BigInteger, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("since", UtcDateTime, nullable=False),
)
