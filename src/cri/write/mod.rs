//! Writing CRI and Docker json-file records (filled in by the CRI writer issue).
