//! `@context`: which DTDL version an interface is written in. Extension contexts
//! (`dtmi:dtdl:extension:quantitativeTypes;1`, `dtmi:iotcentral:context;2`, ...) are
//! accepted and ignored.

use serde_json::Value;

use super::super::error::{DtdlError, Location, quote};
use super::super::model::DtdlVersion;
use super::json::wrong_type;

/// The prefix of the DTDL language contexts.
const DTDL_CONTEXT: &str = "dtmi:dtdl:context;";

/// The DTDL version `context` (a string or an array of strings) names.
pub(super) fn version(context: &Value, at: &Location) -> Result<DtdlVersion, DtdlError> {
    let entries = match context {
        Value::Array(entries) => entries.as_slice(),
        single => std::slice::from_ref(single),
    };
    for entry in entries {
        let text = entry
            .as_str()
            .ok_or_else(|| wrong_type(at, "a context DTMI string or an array of them", entry))?;
        if let Some(version) = text.strip_prefix(DTDL_CONTEXT) {
            return match version {
                "2" => Ok(DtdlVersion::V2),
                "3" => Ok(DtdlVersion::V3),
                _ => Err(DtdlError::Context {
                    at: at.clone(),
                    found: quote(entry),
                }),
            };
        }
    }
    Err(DtdlError::Context {
        at: at.clone(),
        found: quote(context),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn read(context: Value) -> Result<DtdlVersion, String> {
        version(&context, &Location::root("m.json").child("@context")).map_err(|e| e.to_string())
    }

    #[test]
    fn versions_two_and_three_are_read() {
        assert_eq!(read(json!("dtmi:dtdl:context;2")), Ok(DtdlVersion::V2));
        assert_eq!(
            read(json!([
                "dtmi:dtdl:context;3",
                "dtmi:dtdl:extension:quantitativeTypes;1"
            ])),
            Ok(DtdlVersion::V3)
        );
        assert_eq!(
            read(json!(["dtmi:iotcentral:context;2", "dtmi:dtdl:context;2"])),
            Ok(DtdlVersion::V2)
        );
    }

    #[test]
    fn other_contexts_are_refused() {
        let refused = read(json!("dtmi:dtdl:context;4")).expect_err("v4 is not read");
        assert!(refused.starts_with(
            "m.json at /@context: @context \"dtmi:dtdl:context;4\" is not DTDL v2 or v3"
        ));
        assert!(read(json!("https://schema.org")).is_err());
        assert!(read(json!([])).is_err());
        assert!(read(json!(2)).is_err());
    }
}
