//! Fabric behaviour tests live in `tests/`, one file per feature.
