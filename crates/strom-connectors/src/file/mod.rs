//! File connectors (written next).
