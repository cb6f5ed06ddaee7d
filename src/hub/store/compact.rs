//! Keeps twins small in memory. Parsing JSON grows every object's storage as members
//! arrive, which leaves room for four members in objects that hold one; twins are mostly
//! such objects (each `$metadata` leaf), so the store rebuilds every object it keeps
//! with exactly the room it needs. The document itself is unchanged, order included.

use serde_json::{Map, Value};

/// The same document, with every object and array holding no spare capacity.
pub fn compact(value: Value) -> Value {
    match value {
        Value::Object(members) => {
            let mut exact = Map::with_capacity(members.len());
            for (key, member) in members {
                exact.insert(key, compact(member));
            }
            Value::Object(exact)
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items.into_iter().map(compact).collect();
            items.shrink_to_fit();
            Value::Array(items)
        }
        leaf => leaf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn documents_keep_their_content_and_member_order() {
        let document = json!({
            "z": 1,
            "a": {"$lastUpdated": "2024-01-01T00:00:00Z", "nested": [1, {"b": null, "a": true}]},
            "m": [],
            "e": {}
        });
        let compacted = compact(document.clone());
        assert_eq!(compacted, document);
        assert_eq!(compacted.to_string(), document.to_string(), "same order");
    }
}
