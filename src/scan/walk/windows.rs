//! The Windows walker.
