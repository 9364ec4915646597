//! Closed vocabularies: enums whose JSON names are part of the report contract.
//!
//! [`vocab!`] declares an enum once with the exact string each variant has in the
//! JSON (and the schema), and derives from that one list the serde names, `as_str`
//! for people-facing text, `ALL` for exhaustive tests, and `Display`. A renderer that
//! needs the word uses `as_str`; no code compares or parses these strings.

/// Declares a vocabulary enum: `Variant = "json-name"`, in order (the derived `Ord`
/// follows it).
macro_rules! vocab {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, schemars::JsonSchema,
        )]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value's name in the JSON document.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value whose JSON name is `text`, if any (for parsing input such as
            /// command-line words, never report text).
            pub fn from_name(text: &str) -> Option<$name> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use vocab;

/// A value written in the JSON as its `Display` text (a time, permission bits, a
/// device), with the string schema that describes that text.
macro_rules! as_json_string {
    ($ty:ident, $description:literal, $pattern:literal $(, $format:literal)?) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($ty).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                #[allow(unused_mut)]
                let mut schema = schemars::json_schema!({
                    "description": $description,
                    "type": "string",
                    "pattern": $pattern
                });
                $(schema.insert("format".into(), $format.into());)?
                schema
            }
        }
    };
}

pub(crate) use as_json_string;
