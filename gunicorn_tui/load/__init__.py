"""The built-in load driver: bounded, repeatable load with honest latencies."""
