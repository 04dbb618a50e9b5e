# Names scripts/deadcode.py counts as used although no Python code in src/ or tests/ names them. Never run:
# vulture only reads the names. Each says who uses it.
# ruff: noqa

app_factory  # uvicorn --factory "dtsen.api.app:app_factory" (dtsen.cli.serve)
filtered  # AuditQuery.filtered, read by web/templates/staff/audit.html
settings_customise_sources  # pydantic-settings calls it on Settings
process_bind_param, process_result_value  # SQLAlchemy TypeDecorator hooks (store/models.py, store/served.py)
do_POST, log_message  # http.server handler methods (sharing/dci/bench_load.py)
visit_RegexSearch, visit_RegexExtract, visit_RegexSplit, visit_RegexReplace  # Ibis compiler visitors
visit_StringSplit, visit_ArrayIndex, visit_IsNull, visit_NotNull, visit_FirstValue  # (engine.py)

# The values a column holds, declared beside the model for its readers (docstrings cite them):
KEY_BASIS  # linkage/families.py: dasar of a family key
INFO_COLUMNS, OBSERVATION_COLUMNS  # welfare/features.py
CASE_KINDS, CASE_ORIGINS  # store/cases.py
OUTBOX_STATES, TXN_STATES  # store/dci.py
EVENT_KINDS, SUBSCRIPTION_STATES, CHANGE_KINDS  # store/dci_events.py
REQUEST_KINDS, DOCUMENT_KINDS, REQUEST_STATES  # store/intake.py
SNAPSHOT_STATUSES  # store/served.py
