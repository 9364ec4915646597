//! The JSON Schema of the report, generated from the model (`crate::model`), so the
//! contract and the code cannot drift apart. `lockscan --generate schema` prints it;
//! `docs/report.schema.json` is the checked-in copy (a test fails when they differ).
//!
//! The root describes the JSON document; `$defs/NdjsonRecord` describes each line of
//! `--format ndjson`. Objects allow no properties beyond those listed, so output that
//! gained a field without the schema (and the README) following fails validation.

use schemars::generate::SchemaSettings;
use serde_json::Value;

use super::ndjson::Record;
use crate::model::Report;

/// The schema's `$id`.
pub const ID: &str = "https://github.com/lockscan/lockscan/blob/main/docs/report.schema.json";

/// The schema as a JSON value.
pub fn schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12().into_generator();
    let ndjson = generator.subschema_for::<Record>();
    let root = generator.into_root_schema_for::<Report>();
    let mut value = root.to_value();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("$id".into(), Value::String(ID.into()));
        obj.insert(
            "title".into(),
            Value::String("lockscan report, schema_version 1".into()),
        );
        if let Some(defs) = obj.get_mut("$defs").and_then(Value::as_object_mut) {
            defs.insert("NdjsonRecord".into(), ndjson.to_value());
        }
    }
    close_objects(&mut value);
    value
}

/// The schema as the text `--generate schema` prints (indented, final newline).
pub fn text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

/// Every object schema with `properties` forbids others, except where a `$ref` or
/// flattening (`allOf`) composes it, where `unevaluatedProperties` does the same.
fn close_objects(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let composed = map.contains_key("allOf") || map.contains_key("$ref");
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                let key = if composed {
                    "unevaluatedProperties"
                } else {
                    "additionalProperties"
                };
                map.insert(key.into(), Value::Bool(false));
            }
            for (_, child) in map.iter_mut() {
                close_objects(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}
