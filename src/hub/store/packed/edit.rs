//! Changing a few members of a packed document without unpacking it: the members named
//! get their new values, everything else is copied byte for byte. A device's reported
//! patch changes three members of its twin (`version`, `etag`, the reported section);
//! rebuilding the whole twin for it would cost several times more.

use serde_json::Value;

use super::node::Node;
use super::{Names, OBJECT, Packed, write_container, write_value};

/// A member to replace: its path of names from the root, and its new value.
pub type Replacement<'r> = (&'r [&'r str], NewValue<'r>);

/// A replacement's new value: JSON to pack, or a value packed already (with the same
/// names table).
#[derive(Clone, Copy)]
pub enum NewValue<'r> {
    /// JSON, packed as it is written.
    Json(&'r Value),
    /// One packed value, copied as it is.
    Packed(&'r [u8]),
}

impl NewValue<'_> {
    fn write(self, out: &mut Vec<u8>, names: &Names) {
        match self {
            Self::Json(value) => write_value(out, value, names),
            Self::Packed(bytes) => out.extend_from_slice(bytes),
        }
    }
}

impl Packed {
    /// This document with the members at the given paths replaced. Every path must name
    /// a member that exists, through objects: `None` otherwise, and nothing is changed.
    pub fn with_replaced(&self, names: &Names, replacements: &[Replacement<'_>]) -> Option<Self> {
        let root = self.root(names);
        let all_exist = replacements
            .iter()
            .all(|(path, _)| !path.is_empty() && root.member_at(path).is_some());
        if !all_exist {
            return None;
        }
        let mut out = Vec::with_capacity(self.bytes().len() + 64);
        copy_replacing(&mut out, root, names, replacements);
        Some(Packed(out.into_boxed_slice()))
    }
}

/// Writes the object `node` with the replacements (paths relative to it) applied. Names
/// are copied as stored: the document stays in the same names table.
fn copy_replacing(
    out: &mut Vec<u8>,
    node: Node<'_>,
    names: &Names,
    replacements: &[Replacement<'_>],
) {
    let mut members = node.members();
    write_container(out, OBJECT, members.len(), |out| {
        while let Some((name, stored_name, value)) = members.next_stored() {
            out.extend_from_slice(stored_name);
            let below: Vec<Replacement<'_>> = replacements
                .iter()
                .filter(|(path, _)| path.first() == Some(&name))
                .map(|(path, new)| (path.get(1..).unwrap_or_default(), *new))
                .collect();
            match below.iter().find(|(rest, _)| rest.is_empty()) {
                Some((_, new)) => new.write(out, names),
                None if below.is_empty() => out.extend_from_slice(value.raw()),
                None => copy_replacing(out, value, names, &below),
            }
        }
    });
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_members_change_and_the_rest_stays_byte_for_byte() {
        let names = Names::default();
        let twin = json!({
            "deviceId": "d", "version": 3, "etag": "x",
            "properties": {"desired": {"a": 1}, "reported": {"b": 2, "$version": 2}},
            "tail": [1, "2026-03-04T05:06:07.1234567Z"]
        });
        let packed = Packed::encode(&twin, &names);
        let (version, reported) = (json!(4), json!({"b": 3, "$version": 3}));
        let edited = packed
            .with_replaced(
                &names,
                &[
                    (&["version"], NewValue::Json(&version)),
                    (&["properties", "reported"], NewValue::Json(&reported)),
                ],
            )
            .unwrap();
        let reported_packed = Packed::encode(&reported, &names);
        let spliced = packed
            .with_replaced(
                &names,
                &[
                    (&["version"], NewValue::Json(&version)),
                    (
                        &["properties", "reported"],
                        NewValue::Packed(reported_packed.bytes()),
                    ),
                ],
            )
            .unwrap();
        assert_eq!(spliced, edited, "packed and JSON replacements agree");
        let mut expected = twin.clone();
        expected["version"] = version;
        expected["properties"]["reported"] = reported;
        assert_eq!(edited.to_value(&names).to_string(), expected.to_string());
        assert_eq!(
            edited,
            Packed::encode(&expected, &names),
            "same bytes as packing anew"
        );
        let missing = json!(1);
        assert!(
            packed
                .with_replaced(&names, &[(&["nowhere"], NewValue::Json(&missing))])
                .is_none()
        );
        assert!(
            packed
                .with_replaced(
                    &names,
                    &[(&["version", "deeper"], NewValue::Json(&missing))]
                )
                .is_none()
        );
    }
}
