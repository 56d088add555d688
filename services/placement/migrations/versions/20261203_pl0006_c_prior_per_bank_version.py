"""c prior per bank version, recorded on calibration runs

Revision ID: pl0006
Revises: pl0005
Create Date: 2026-12-03 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "pl0006"
down_revision: str | None = "pl0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # existing versions get the default Beta(2, 20) (mode .05, which does not pull the guessing of
    # low-guessing banks up); runs made before this have no recorded prior
    op.add_column("bank_version", sa.Column("c_prior_alpha", sa.Float(), server_default=sa.text("2"), nullable=False))
    op.add_column("bank_version", sa.Column("c_prior_beta", sa.Float(), server_default=sa.text("20"), nullable=False))
    op.create_check_constraint(
        op.f("ck_bank_version_c_prior_positive"), "bank_version", "c_prior_alpha > 0 AND c_prior_beta > 0"
    )
    op.add_column("calibration_run", sa.Column("c_prior_alpha", sa.Float(), nullable=True))
    op.add_column("calibration_run", sa.Column("c_prior_beta", sa.Float(), nullable=True))


def downgrade() -> None:
    op.drop_column("calibration_run", "c_prior_beta")
    op.drop_column("calibration_run", "c_prior_alpha")
    op.drop_constraint(op.f("ck_bank_version_c_prior_positive"), "bank_version", type_="check")
    op.drop_column("bank_version", "c_prior_beta")
    op.drop_column("bank_version", "c_prior_alpha")
