"""Who may see what: roles against sharing levels (DESIGN.md, Access).

=============  =================================================================================
role           sees
=============  =================================================================================
anonymous,     无条件共享 datasets (catalog pages, sample rows), the air and water overviews
public
analyst        also 有条件共享 datasets with sample rows, catalog entries of 不予共享 datasets
               (metadata only), ingestion health, read-only SQL over the tables it may see
enforcement    also the risk lists, evidence pages and exports
admin          users, and everything: 不予共享 data too
=============  =================================================================================
"""

from __future__ import annotations

from enum import StrEnum

from schemas.registry import Sharing


class Role(StrEnum):
    PUBLIC = "public"
    ANALYST = "analyst"
    ENFORCEMENT = "enforcement"
    ADMIN = "admin"


_RANK = {None: 0, Role.PUBLIC: 0, Role.ANALYST: 1, Role.ENFORCEMENT: 2, Role.ADMIN: 3}
ROLE_LABELS = {
    Role.PUBLIC: ("公众", "public"),
    Role.ANALYST: ("分析人员", "analyst"),
    Role.ENFORCEMENT: ("执法人员", "enforcement"),
    Role.ADMIN: ("管理员", "admin"),
}


def at_least(role: Role | None, needed: Role) -> bool:
    return _RANK[role] >= _RANK[needed]


def can_see_entry(role: Role | None, sharing: Sharing | str) -> bool:
    """The catalog entry (metadata page) of a dataset at this sharing level."""
    if Sharing(sharing) is Sharing.UNCONDITIONAL:
        return True
    return at_least(role, Role.ANALYST)


def can_see_data(role: Role | None, sharing: Sharing | str) -> bool:
    """Rows of a dataset at this sharing level (samples, charts, SQL)."""
    level = Sharing(sharing)
    if level is Sharing.UNCONDITIONAL:
        return True
    if level is Sharing.CONDITIONAL:
        return at_least(role, Role.ANALYST)
    return role is Role.ADMIN


def visible_levels(role: Role | None) -> list[str]:
    """Sharing levels whose catalog entries this role sees."""
    return [s.value for s in Sharing if can_see_entry(role, s)]


def data_levels(role: Role | None) -> list[str]:
    """Sharing levels whose rows this role sees."""
    return [s.value for s in Sharing if can_see_data(role, s)]
