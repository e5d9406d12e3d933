"""``make load``: locust, headless, against the local system; JSON and a chart under results/."""
