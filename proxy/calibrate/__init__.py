"""Score calibration fitted from the team's own traffic: monotone fit, held-out validation, points file."""
