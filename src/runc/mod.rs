//! runc's `log.json` (filled in by the runc log.json issue).
