//! A device's reported patch merged into a packed reported section directly: the
//! members merge as JSON Merge Patch (RFC 7386) and `$metadata` is stamped as the twin
//! model stamps it (`twin::section`): every member the patch names and every object on
//! the way to it gets `$lastUpdated` of the write, which clears its other entries; a
//! deleted member loses its metadata; `$version` goes up by one. What the patch does not
//! name, members and metadata alike, is copied byte for byte.
//!
//! This is the hub's hot path (every reported PATCH of every device); the twin model
//! would unpack the section into JSON and a metadata tree and print it again. Its
//! result is the model's, which the tests check write by write on random histories. A
//! section not in the shape the model writes (members, then `$metadata`, then
//! `$version`) is left to the model: [`patch_reported`] returns `None`.

use serde_json::{Map, Value};

use super::node::{Node, Scalar};
use super::{Names, OBJECT, write_container, write_name, write_text, write_value};
use crate::twin::limits::{BOOL_SIZE, NUMBER_SIZE, text_size};

const METADATA: &str = "$metadata";
const VERSION: &str = "$version";
const LAST_UPDATED: &str = "$lastUpdated";

/// A reported section after a patch.
pub struct PatchedSection {
    /// The new section, one packed value.
    pub section: Vec<u8>,
    /// Its `$version`.
    pub version: u64,
    /// Its size as IoT Hub counts it (see `twin::limits::section_size`).
    pub size: usize,
}

/// Merges `patch` (checked already: see `twin::checked_reported_patch`) into the packed
/// reported `section`, stamping the time `stamp` (an IoT Hub timestamp). `None` when the
/// section is not in the model's shape or its `$version` cannot go up.
pub fn patch_reported(
    section: Node<'_>,
    patch: &Map<String, Value>,
    stamp: &str,
    names: &Names,
) -> Option<PatchedSection> {
    let shape = SectionShape::of(section)?;
    let version = shape.version.checked_add(1)?;
    let mut stamp_value = Vec::with_capacity(9);
    write_text(&mut stamp_value, stamp);
    let stamping = Stamping {
        names,
        stamp_value: &stamp_value,
    };
    let merged = stamping.merge(Some(section), Some(shape.metadata), patch, true);
    let mut out = Vec::with_capacity(section.raw().len() + 64);
    write_container(&mut out, OBJECT, merged.member_count + 2, |out| {
        out.extend_from_slice(&merged.members);
        write_name(out, METADATA, names);
        stamping.write_metadata(out, &merged);
        write_name(out, VERSION, names);
        write_value(out, &Value::from(version), names);
    });
    let size = members_size(Node::new(&out, names));
    Some(PatchedSection {
        section: out,
        version,
        size,
    })
}

/// The size IoT Hub counts for a packed section's members (`$` entries left out), as
/// `twin::limits::section_size` counts JSON.
pub fn members_size(section: Node<'_>) -> usize {
    section
        .members()
        .filter(|(name, _)| !name.starts_with('$'))
        .map(|(name, value)| text_size(name) + value_size(value))
        .sum()
}

fn value_size(value: Node<'_>) -> usize {
    match value.scalar() {
        Scalar::Null => 0,
        Scalar::Bool(_) => BOOL_SIZE,
        Scalar::Unsigned(_) | Scalar::Negative(_) | Scalar::Float(_) => NUMBER_SIZE,
        Scalar::Text(text) => text_size(&text),
        Scalar::Array => value.items().map(value_size).sum(),
        Scalar::Object => value
            .members()
            .map(|(name, member)| text_size(name) + value_size(member))
            .sum(),
    }
}

/// A section in the model's shape: members, `$metadata` (an object with
/// `$lastUpdated`), `$version`, in that order and nothing else.
struct SectionShape<'a> {
    metadata: Node<'a>,
    version: u64,
}

impl<'a> SectionShape<'a> {
    fn of(section: Node<'a>) -> Option<Self> {
        if section.scalar() != Scalar::Object {
            return None;
        }
        let mut members = section.members();
        let mut metadata = None;
        for (name, value) in members.by_ref() {
            if name == METADATA {
                metadata = Some(value);
                break;
            }
            if name.starts_with('$') {
                return None;
            }
        }
        let metadata = metadata.filter(|metadata| {
            metadata.scalar() == Scalar::Object && metadata.member(LAST_UPDATED, false).is_some()
        })?;
        let (VERSION, version) = members.next()? else {
            return None;
        };
        let Scalar::Unsigned(version) = version.scalar() else {
            return None;
        };
        members
            .next()
            .is_none()
            .then_some(Self { metadata, version })
    }
}

/// One object level after the merge: its members' entries (name and value, packed) and
/// its metadata children's entries, with their counts.
struct Merged {
    members: Vec<u8>,
    member_count: usize,
    children: Vec<u8>,
    child_count: usize,
}

/// What every stamped node of one write shares.
struct Stamping<'a> {
    names: &'a Names,
    /// The packed `$lastUpdated` value of the write.
    stamp_value: &'a [u8],
}

impl Stamping<'_> {
    /// Merges `patch` into the object `old` (`None` for a member that was absent or not
    /// an object), whose metadata node is `old_metadata`. At the `section` level, the
    /// `$` entries are the section's own and no members.
    fn merge(
        &self,
        old: Option<Node<'_>>,
        old_metadata: Option<Node<'_>>,
        patch: &Map<String, Value>,
        section: bool,
    ) -> Merged {
        let mut merged = Merged {
            members: Vec::new(),
            member_count: 0,
            children: Vec::new(),
            child_count: 0,
        };
        let old_members = old.map(Node::members).into_iter().flatten();
        // The model writes metadata children in its members' order, so each member's
        // child is normally the next one: found in step, not by a search per member
        // (which would make a write to a section of many members quadratic).
        let mut children = old_metadata
            .map(Node::members)
            .into_iter()
            .flatten()
            .filter(|(name, _)| !name.starts_with('$'))
            .peekable();
        for (name, value) in old_members.filter(|(name, _)| !(section && name.starts_with('$'))) {
            let child = match children.next_if(|(child_name, _)| *child_name == name) {
                Some((_, child)) => Some(child),
                None => old_metadata.and_then(|metadata| metadata.member(name, false)),
            };
            match patch.get(name) {
                None => {
                    write_name(&mut merged.members, name, self.names);
                    merged.members.extend_from_slice(value.raw());
                    merged.member_count += 1;
                    if let Some(child) = child {
                        write_name(&mut merged.children, name, self.names);
                        merged.children.extend_from_slice(child.raw());
                        merged.child_count += 1;
                    }
                }
                Some(Value::Null) => {}
                Some(new) => {
                    let old_object = (value.scalar() == Scalar::Object).then_some(value);
                    self.write_patched(&mut merged, name, old_object, child, new);
                }
            }
        }
        for (name, new) in patch {
            let existed = old.is_some_and(|old| old.member(name, false).is_some());
            if !existed && !new.is_null() {
                self.write_patched(&mut merged, name, None, None, new);
            }
        }
        merged
    }

    /// Writes the member `name` that the patch sets to `new` (not `null`), and its
    /// metadata: a merged object with its stamped node, or the new value with a fresh
    /// stamp.
    fn write_patched(
        &self,
        merged: &mut Merged,
        name: &str,
        old: Option<Node<'_>>,
        old_metadata: Option<Node<'_>>,
        new: &Value,
    ) {
        write_name(&mut merged.members, name, self.names);
        write_name(&mut merged.children, name, self.names);
        merged.member_count += 1;
        merged.child_count += 1;
        match new {
            Value::Object(inner) => {
                let below = self.merge(old, old_metadata, inner, false);
                write_container(&mut merged.members, OBJECT, below.member_count, |out| {
                    out.extend_from_slice(&below.members);
                });
                self.write_metadata(&mut merged.children, &below);
            }
            leaf => {
                write_value(&mut merged.members, leaf, self.names);
                self.write_metadata(&mut merged.children, &Merged::LEAF);
            }
        }
    }

    /// A stamped metadata node: `$lastUpdated` of this write, then the children.
    fn write_metadata(&self, out: &mut Vec<u8>, merged: &Merged) {
        write_container(out, OBJECT, merged.child_count + 1, |out| {
            write_name(out, LAST_UPDATED, self.names);
            out.extend_from_slice(self.stamp_value);
            out.extend_from_slice(&merged.children);
        });
    }
}

impl Merged {
    /// A level with nothing below it: a leaf's metadata is its stamp alone.
    const LEAF: Merged = Merged {
        members: Vec::new(),
        member_count: 0,
        children: Vec::new(),
        child_count: 0,
    };
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::hub::store::packed::Packed;
    use crate::twin::limits::section_size;
    use crate::twin::{Twin, checked_reported_patch, format_timestamp};
    use chrono::{DateTime, TimeZone, Utc};
    use proptest::prelude::*;
    use serde_json::json;

    fn at(step: usize) -> DateTime<Utc> {
        let nanos = u32::try_from(step * 123_456_700 % 1_000_000_000).unwrap();
        Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
            + chrono::Duration::seconds(i64::try_from(step).unwrap())
            + chrono::Duration::nanoseconds(i64::from(nanos))
    }

    fn reported_of(twin: &Twin, names: &Names) -> Packed {
        Packed::encode(&twin.to_json()["properties"]["reported"], names)
    }

    /// Applies `patches` through the model and through the packed merge, comparing the
    /// packed sections, versions and sizes after every write.
    fn compare(patches: &[Value]) -> Result<(), TestCaseError> {
        let names = Names::default();
        let mut twin = Twin::new("d", at(0));
        let mut section = reported_of(&twin, &names);
        for (step, patch) in patches.iter().enumerate() {
            let now = at(step + 1);
            let Ok(version) = twin.apply_reported_patch(patch, now) else {
                continue;
            };
            let members = checked_reported_patch(patch).unwrap();
            let stamp = format_timestamp(now);
            let patched = patch_reported(section.root(&names), members, &stamp, &names).unwrap();
            let expected = reported_of(&twin, &names);
            prop_assert_eq!(patched.version, version);
            prop_assert_eq!(patched.size, section_size(twin.reported()));
            prop_assert_eq!(
                Packed::from_stored(patched.section.clone(), &names)
                    .unwrap()
                    .to_value(&names),
                expected.to_value(&names),
                "after {}",
                patch
            );
            prop_assert_eq!(&patched.section[..], expected.bytes());
            section = Packed::from_stored(patched.section, &names).unwrap();
        }
        Ok(())
    }

    fn key() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["a", "b", "c", "long name", "é"]).prop_map(str::to_owned)
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            (0u64..300).prop_map(Value::from),
            (-5i64..0).prop_map(Value::from),
            Just(json!(1.5)),
            Just(json!("text")),
            Just(json!("2026-03-04T05:06:07.1234567Z")),
            Just(json!([1, null, {"x": null}])),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop::collection::vec((key(), inner), 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect()))
        })
    }

    fn patch() -> impl Strategy<Value = Value> {
        prop::collection::vec((key(), value()), 0..4)
            .prop_map(|members| Value::Object(members.into_iter().collect()))
    }

    proptest! {
        #[test]
        fn the_packed_merge_writes_what_the_model_writes(
            patches in prop::collection::vec(patch(), 1..8)
        ) {
            compare(&patches)?;
        }
    }

    #[test]
    fn deletes_replacements_and_nested_objects_match_the_model() {
        compare(&[
            json!({"a": {"b": {"c": 1}, "d": 2}, "e": [1]}),
            json!({"a": {"b": null, "x": {"y": null}}}),
            json!({"a": 5, "f": {"g": {}}}),
            json!({"a": {"z": 1}, "e": null, "gone": null}),
            json!({}),
        ])
        .unwrap();
    }

    #[test]
    fn a_section_not_in_the_model_shape_is_left_to_the_model() {
        let names = Names::default();
        let stamp = "2026-12-01T10:00:00.0000000Z";
        let patch = json!({"a": 1});
        let patch = patch.as_object().unwrap();
        for section in [
            json!({"a": 1, "$version": 2, "$metadata": {"$lastUpdated": stamp}}),
            json!({"a": 1, "$metadata": {}, "$version": 2}),
            json!({"$metadata": {"$lastUpdated": stamp}, "$version": 2, "b": 1}),
            json!({"$x": 1, "$metadata": {"$lastUpdated": stamp}, "$version": 2}),
            json!({"$metadata": {"$lastUpdated": stamp}, "$version": u64::MAX}),
            json!({"$metadata": {"$lastUpdated": stamp}, "$version": "2"}),
            json!([1]),
        ] {
            let packed = Packed::encode(&section, &names);
            assert!(
                patch_reported(packed.root(&names), patch, stamp, &names).is_none(),
                "{section}"
            );
        }
        let canonical = json!({"$metadata": {"$lastUpdated": stamp}, "$version": 2});
        let packed = Packed::encode(&canonical, &names);
        let patched = patch_reported(packed.root(&names), patch, stamp, &names).unwrap();
        assert_eq!(patched.version, 3);
        assert_eq!(members_size(Node::new(&patched.section, &names)), 1 + 8);
    }
}
