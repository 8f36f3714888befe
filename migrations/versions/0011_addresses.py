"""Address search: pg_trgm, the normalisers (street, street kind, house number), address generations, streets and addresses.

Revision ID: 0011
Revises: 0001
"""

import geoalchemy2
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0001"
branch_labels = None
depends_on = None

UPPER = "АБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯё"
LOWER = "абвгдеежзийклмнопрстуфхцчшщъыьэюяе"
# Words that name the kind of street, not the street ("ул.", "пр-т"): dropped from both sides.
STREET_WORDS = (
    "улица|ул|проспект|просп|пркт|пр|кт|переулок|пер|шоссе|ш|бульвар|бул|площадь|пл|"
    "набережная|наб|проезд|тупик|туп|аллея|ал|дорога|дор|микрорайон|мкр|квартал|кв|тракт|"
    "дом|корпус|корп|строение|стр|литера|лит|город|гор|поселок|пос|деревня|дер|село|снт|"
    "территория|тер|[а-яa-z]"
)

# The kind of street a name says (first match wins), canonical: "пр-т" → "проспект".
STREET_KINDS = [
    ("улица", "улица|ул"),
    ("проспект", "проспект|просп|пркт|пр"),
    ("переулок", "переулок|пер"),
    ("шоссе", "шоссе|ш"),
    ("бульвар", "бульвар|бул|б  р"),
    ("площадь", "площадь|пл"),
    ("набережная", "набережная|наб"),
    ("проезд", "проезд"),
    ("тупик", "тупик|туп"),
    ("аллея", "аллея|ал"),
    ("микрорайон", "микрорайон|мкр"),
]
_KIND_CASES = " ".join(f"WHEN t ~ ' ({words}) ' THEN '{kind}'" for kind, words in STREET_KINDS)

# The same steps as gis_app/addresses/normalize.py (a test compares both on many strings).
# Each token is padded with two spaces so neighbouring words never share the space a pattern eats.
FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION gis_addr_fold(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT translate(lower(coalesce(s, '')), '{UPPER}', '{LOWER}')
$$;

CREATE OR REPLACE FUNCTION gis_street_norm(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(
    nullif(btrim(regexp_replace(regexp_replace(' ' || replace(w, ' ', '  ') || ' ',
      ' ({STREET_WORDS}) ', ' ', 'g'), ' +', ' ', 'g')), ''),
    btrim(regexp_replace(w, ' +', ' ', 'g')))
  FROM (SELECT regexp_replace(regexp_replace(gis_addr_fold(s),
      '([0-9])[ -]?(ая|ой|ий|ый|ое|ье|го|я|й)(?![а-я])', '\\1', 'g'),
      '[^0-9a-zа-я]+', ' ', 'g') AS w) p
$$;

CREATE OR REPLACE FUNCTION gis_street_kind(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE {_KIND_CASES} ELSE '' END
  FROM (SELECT ' ' || replace(regexp_replace(gis_addr_fold(s), '[^0-9a-zа-я]+', ' ', 'g'), ' ', '  ')
        || ' ' AS t) p
$$;

CREATE OR REPLACE FUNCTION gis_housenumber_norm(s text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT replace(
    regexp_replace(regexp_replace(regexp_replace(
      ' ' || replace(regexp_replace(gis_addr_fold(s), '[^0-9a-zа-я/]+', ' ', 'g'), ' ', '  ') || ' ',
      ' (корпус|корп|кор) ', ' к ', 'g'),
      ' (строение|стр) ', ' с ', 'g'),
      ' (литера|лит|дом|д) ', ' ', 'g'),
    ' ', '')
$$;
"""


def upgrade() -> None:
    """pg_trgm, the normalising functions and the three tables with their indexes."""
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(FUNCTIONS)
    op.create_table(
        "address_generations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("is_current", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("streets", sa.Integer(), server_default="0", nullable=False),
        sa.Column("addresses", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "imported_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "address_generations_one_current",
        "address_generations",
        ["is_current"],
        unique=True,
        postgresql_where="is_current",
    )
    op.create_table(
        "address_streets",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("norm", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), server_default="", nullable=False),
        sa.Column("settlement_norm", sa.Text(), server_default="", nullable=False),
        sa.Column("settlement", sa.Text(), nullable=True),
        sa.Column("settlement_id", sa.Integer(), nullable=True),
        sa.Column("municipality_id", sa.Integer(), nullable=True),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                srid=4326, spatial_index=False, from_text="ST_GeomFromEWKT", name="geometry"
            ),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(["generation"], ["address_generations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["municipality_id"], ["municipalities.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["settlement_id"], ["municipalities.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("address_streets_generation", "address_streets", ["generation"])
    op.create_index(
        "address_streets_geom_idx", "address_streets", ["geom"], postgresql_using="gist"
    )
    op.create_index("address_streets_norm", "address_streets", ["generation", "norm"])
    op.create_table(
        "address_names",
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("norm", sa.Text(), nullable=False),
        sa.CheckConstraint("kind IN ('street', 'settlement')", name="address_name_kind"),
        sa.ForeignKeyConstraint(["generation"], ["address_generations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("generation", "kind", "norm"),
    )
    op.create_index(
        "address_names_trgm",
        "address_names",
        ["norm"],
        postgresql_using="gin",
        postgresql_ops={"norm": "gin_trgm_ops"},
    )
    op.create_table(
        "addresses",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("street_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("osm_id", sa.Text(), nullable=True),
        sa.Column("housenumber", sa.Text(), nullable=False),
        sa.Column("housenumber_norm", sa.Text(), nullable=False),
        sa.Column(
            "geom",
            geoalchemy2.types.Geometry(
                geometry_type="POINT",
                srid=4326,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
            ),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('building', 'point')", name="address_kind"),
        sa.ForeignKeyConstraint(["generation"], ["address_generations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["street_id"], ["address_streets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("addresses_generation", "addresses", ["generation"])
    op.create_index("addresses_street_number", "addresses", ["street_id", "housenumber_norm"])
    op.create_index("addresses_geom_idx", "addresses", ["geom"], postgresql_using="gist")


def downgrade() -> None:
    """Drop what upgrade made (pg_trgm stays: other schemas may use it)."""
    op.drop_table("addresses")
    op.drop_table("address_names")
    op.drop_table("address_streets")
    op.drop_index("address_generations_one_current", table_name="address_generations")
    op.drop_table("address_generations")
    op.execute("DROP FUNCTION IF EXISTS gis_housenumber_norm(text)")
    op.execute("DROP FUNCTION IF EXISTS gis_street_norm(text)")
    op.execute("DROP FUNCTION IF EXISTS gis_street_kind(text)")
    op.execute("DROP FUNCTION IF EXISTS gis_addr_fold(text)")
