"""Failure kinds: why a check failed, as stored and shown.

The probe engine (libcurl) classifies its errors into these in monitor.probe.
"""

from django.db import models


class ErrorKind(models.TextChoices):
    DNS = "dns", "DNS lookup failed"
    CONNECT = "connect", "Connection failed"
    TIMEOUT = "timeout", "Timed out"
    TLS = "tls", "TLS error"
    HTTP_STATUS = "http_status", "HTTP error status"
    REDIRECTS = "redirects", "Too many redirects"
    BLOCKED = "blocked", "Address not allowed"
    INVALID_URL = "invalid_url", "Invalid URL"
    PROTOCOL = "protocol", "Malformed response"
    # The target answered, but not as the monitor expects (status not in
    # expectedStatus, keyword, JSON assertion).
    ASSERTION = "assertion", "Unexpected answer"
    DNS_ANSWER = "dns_answer", "Unexpected DNS answer"
    MISSED = "missed", "No heartbeat in time"
    JOB_FAILED = "job_failed", "The job reported a failure"
    # Degraded, not down: the check succeeded with a warning (DEGRADED_KINDS).
    SLOW = "slow", "Slower than allowed"
    CERT_EXPIRING = "cert_expiring", "Certificate expires soon"


# A successful check with one of these kinds is "degraded", not "up".
DEGRADED_KINDS = frozenset({ErrorKind.SLOW, ErrorKind.CERT_EXPIRING})
