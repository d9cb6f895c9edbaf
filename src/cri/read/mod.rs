//! Reading CRI and Docker json-file records (filled in by the readers issue).
