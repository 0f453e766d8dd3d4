#!/usr/bin/env bash
# Generate an Alembic migration for model changes: ./scripts/new-migration.sh "message" [rev-id]
set -euo pipefail
cd "$(dirname "$0")/.."
db=$(mktemp -d)/at-head.sqlite3
.venv/bin/python - "$db" "$1" "${2:-}" <<'PY'
import sys
from alembic import command
from infra.db import create_ledger_engine
from infra.migrate import alembic_config, upgrade_schema
url = f"sqlite:///{sys.argv[1]}"
upgrade_schema(create_ledger_engine(url))
command.revision(alembic_config(url), message=sys.argv[2], autogenerate=True, rev_id=sys.argv[3] or None)
PY
.venv/bin/ruff format -q infra/migrations/versions
.venv/bin/ruff check --fix -q infra/migrations/versions || true
