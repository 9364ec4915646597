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
pub const ID: &str = "urn:lockscan:report:schema-version-1";

/// The schema as a JSON value.
pub fn schema() -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator();
    // Puts `NdjsonRecord` (and the records it refers to) into `$defs`.
    generator.subschema_for::<Record>();
    let mut value = generator.into_root_schema_for::<Report>().to_value();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("$id".into(), Value::String(ID.into()));
        obj.insert(
            "title".into(),
            Value::String("lockscan report, schema_version 1".into()),
        );
    }
    let mut composed = Vec::new();
    composed_refs(&value, &mut composed);
    close_objects(&mut value, &composed, None);
    value
}

/// The schema as the text `--generate schema` prints (indented, final newline).
pub fn text() -> String {
    let mut s = serde_json::to_string_pretty(&schema()).unwrap_or_default();
    s.push('\n');
    s
}

/// Definitions that a schema extends with properties of its own (`$ref` beside
/// `properties`: an NDJSON record adds `record` to a report object).
fn composed_refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if map.contains_key("properties")
                && let Some(Value::String(r)) = map.get("$ref")
                && let Some(name) = r.strip_prefix("#/$defs/")
            {
                out.push(name.to_string());
            }
            map.values().for_each(|c| composed_refs(c, out));
        }
        Value::Array(items) => items.iter().for_each(|c| composed_refs(c, out)),
        _ => {}
    }
}

/// Every object schema with `properties` forbids others. A schema that extends a
/// definition does so with `unevaluatedProperties` (which sees the definition's
/// properties), and the definitions it extends are left open for it.
fn close_objects(v: &mut Value, composed: &[String], def_name: Option<&str>) {
    match v {
        Value::Object(map) => {
            let extended = def_name.is_some_and(|n| composed.iter().any(|c| c == n));
            if map.contains_key("properties")
                && !map.contains_key("additionalProperties")
                && !extended
            {
                let key = if map.contains_key("$ref") || map.contains_key("allOf") {
                    "unevaluatedProperties"
                } else {
                    "additionalProperties"
                };
                map.insert(key.into(), Value::Bool(false));
            }
            for (key, child) in map.iter_mut() {
                if key == "$defs"
                    && let Value::Object(defs) = child
                {
                    for (name, def) in defs.iter_mut() {
                        close_objects(def, composed, Some(name));
                    }
                } else {
                    close_objects(child, composed, None);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|c| close_objects(c, composed, None)),
        _ => {}
    }
}
