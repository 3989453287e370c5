-- hotline111 schema, migration 003: the close outcomes, in one place for
-- the database (the C side has one table, src/outcome.h; keep the two in
-- step). A case closed with anything else is refused by PostgreSQL.
CREATE DOMAIN h111_outcome AS text
    CHECK (VALUE IN ('referred', 'counselled', 'resolved', 'no_action', 'duplicate'));
ALTER TABLE cases ALTER COLUMN outcome TYPE h111_outcome;
