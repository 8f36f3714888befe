"""Serving: a revision and a feature count per layer, kept by triggers, for ETags, tile URLs and
numberMatched without COUNT(*).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# Statement-level triggers with transition tables: one upsert per statement, not per row, so a
# bulk load of a million features costs one grouped insert. Rows are upserted in key order so two
# writers touching the same layers lock them in the same order (no deadlock).
FEATURES_FUNCTION = """
CREATE FUNCTION serving_bump_features() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO serving_revisions AS r (key, revision, feature_count, changed_at)
        SELECT layer_id, 1, count(*), clock_timestamp() FROM new_rows GROUP BY layer_id ORDER BY 1
        ON CONFLICT (key) DO UPDATE SET revision = r.revision + 1,
            feature_count = r.feature_count + EXCLUDED.feature_count, changed_at = clock_timestamp();
    ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO serving_revisions AS r (key, revision, feature_count, changed_at)
        SELECT layer_id, 1, 0, clock_timestamp() FROM old_rows GROUP BY layer_id ORDER BY 1
        ON CONFLICT (key) DO UPDATE SET revision = r.revision + 1,
            feature_count = greatest(r.feature_count - (
                SELECT count(*) FROM old_rows o WHERE o.layer_id = r.key), 0),
            changed_at = clock_timestamp();
    ELSE
        INSERT INTO serving_revisions AS r (key, revision, feature_count, changed_at)
        SELECT layer_id, 1, sum(d), clock_timestamp() FROM (
            SELECT layer_id, 1 AS d FROM new_rows UNION ALL SELECT layer_id, -1 FROM old_rows
        ) s GROUP BY layer_id ORDER BY 1
        ON CONFLICT (key) DO UPDATE SET revision = r.revision + 1,
            feature_count = greatest(r.feature_count + EXCLUDED.feature_count, 0),
            changed_at = clock_timestamp();
    END IF;
    RETURN NULL;
END $$
"""

# Every other served table is one key (its name); no transition table is needed.
TABLE_FUNCTION = """
CREATE FUNCTION serving_bump_table() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO serving_revisions AS r (key, revision, feature_count, changed_at)
    VALUES (TG_TABLE_NAME, 1, 0, clock_timestamp())
    ON CONFLICT (key) DO UPDATE SET revision = r.revision + 1, changed_at = clock_timestamp();
    RETURN NULL;
END $$
"""

TRUNCATE_FUNCTION = """
CREATE FUNCTION serving_truncate_features() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE serving_revisions SET revision = revision + 1, feature_count = 0,
        changed_at = clock_timestamp()
    WHERE key NOT IN ('municipalities', 'operators');
    RETURN NULL;
END $$
"""


def upgrade() -> None:
    """The table, its triggers, and the counts of the features already there."""
    op.create_table(
        "serving_revisions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("feature_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column(
            "changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("key"),
    )
    op.execute(FEATURES_FUNCTION)
    op.execute(TABLE_FUNCTION)
    op.execute(TRUNCATE_FUNCTION)
    op.execute(
        "CREATE TRIGGER serving_features_insert AFTER INSERT ON network_features "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION serving_bump_features()"
    )
    op.execute(
        "CREATE TRIGGER serving_features_update AFTER UPDATE ON network_features "
        "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        "FOR EACH STATEMENT EXECUTE FUNCTION serving_bump_features()"
    )
    op.execute(
        "CREATE TRIGGER serving_features_delete AFTER DELETE ON network_features "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION serving_bump_features()"
    )
    op.execute(
        "CREATE TRIGGER serving_features_truncate AFTER TRUNCATE ON network_features "
        "FOR EACH STATEMENT EXECUTE FUNCTION serving_truncate_features()"
    )
    # Feature properties carry the operator's short name: renaming one changes every layer's tiles.
    for table in ("municipalities", "operators"):
        op.execute(
            f"CREATE TRIGGER serving_{table}_change AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION serving_bump_table()"
        )
    op.execute(
        "INSERT INTO serving_revisions (key, revision, feature_count) "
        "SELECT layer_id, 1, count(*) FROM network_features GROUP BY layer_id"
    )
    op.execute(
        "INSERT INTO serving_revisions (key, revision, feature_count) "
        "SELECT 'municipalities', 1, count(*) FROM municipalities "
        "UNION ALL SELECT 'operators', 1, count(*) FROM operators"
    )


def downgrade() -> None:
    """Drop the triggers, their functions and the table."""
    for table in ("municipalities", "operators"):
        op.execute(f"DROP TRIGGER IF EXISTS serving_{table}_change ON {table}")
    for event in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS serving_features_{event} ON network_features")
    for function in ("serving_bump_features", "serving_bump_table", "serving_truncate_features"):
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")
    op.drop_table("serving_revisions")
