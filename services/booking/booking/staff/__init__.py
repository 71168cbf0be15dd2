"""The staff and admin API (/admin/v1): authenticated, role-scoped, every change audited."""
