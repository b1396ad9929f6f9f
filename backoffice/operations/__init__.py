"""The operations area of the staff workspace: the dashboard with its charts, open
alerts, emergency controls, and the health and metrics endpoints."""
