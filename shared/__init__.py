"""SMTP AUTH Guard: detect and safely fix SMTP AUTH drift in Exchange Online."""
