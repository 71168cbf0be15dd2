"""One integration module per vendor kind, all behind :class:`vendors.base.HaulerAdapter`."""
