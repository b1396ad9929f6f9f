"""Complaints: intake, the card's timeline and diagnosis, deadlines, compensation, reports."""
