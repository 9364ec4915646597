//! Rendering: the serde model (the JSON schema) and one file per output format.

pub mod codes;
pub mod escape;
pub mod explain;
pub mod json;
pub mod model;
pub mod ndjson;
pub mod prometheus;
pub mod table;
pub mod time;

pub use model::*;
