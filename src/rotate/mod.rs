//! Size-capped rotating log files (filled in by the rotation issue).
