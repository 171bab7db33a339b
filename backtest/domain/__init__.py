"""The domain: pies, slices, targets, cash flows and requests (frozen values)."""
