//! IoT Hub's rules for device and module ids: 1 to 128 ASCII letters, digits and
//! `- : . + % _ # * ? ! ( ) , = @ ; $ '`. Connection strings, the local hub's registry
//! and the explorer's new-device dialog all check ids here.

/// The longest device or module id IoT Hub accepts.
pub const MAX_ID_LENGTH: usize = 128;

/// Punctuation IoT Hub allows in device and module ids, besides ASCII letters and digits.
pub const ID_PUNCTUATION: &str = "-:.+%_#*?!(),=@;$'";

/// What is wrong with an id, in words that name the problem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidId {
    /// No characters.
    #[error("the id is empty; give an id of 1 to {MAX_ID_LENGTH} characters")]
    Empty,
    /// Over the length limit.
    #[error("the id '{0}' is longer than {MAX_ID_LENGTH} characters")]
    TooLong(String),
    /// A character IoT Hub does not allow.
    #[error(
        "the id '{id}' contains '{character}'; ids may hold ASCII letters, digits and {ID_PUNCTUATION}"
    )]
    BadCharacter {
        /// The id.
        id: String,
        /// The first character not allowed.
        character: char,
    },
}

/// Checks a device or module id against IoT Hub's rules.
pub fn check_id(id: &str) -> Result<(), InvalidId> {
    if id.is_empty() {
        return Err(InvalidId::Empty);
    }
    if id.chars().count() > MAX_ID_LENGTH {
        return Err(InvalidId::TooLong(id.to_owned()));
    }
    match id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ID_PUNCTUATION.contains(*c)))
    {
        Some(character) => Err(InvalidId::BadCharacter {
            id: id.to_owned(),
            character,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_iot_hub_rules() {
        for good in [
            "d1",
            "a-b:c.d+e%f_g#h*i?j!k(l)m,n=o@p;q$r's",
            &"x".repeat(128),
        ] {
            assert_eq!(check_id(good), Ok(()), "{good}");
        }
        assert_eq!(check_id(""), Err(InvalidId::Empty));
        assert!(matches!(
            check_id(&"x".repeat(129)),
            Err(InvalidId::TooLong(_))
        ));
        let bad = check_id("a b").unwrap_err();
        assert_eq!(
            bad,
            InvalidId::BadCharacter {
                id: "a b".into(),
                character: ' '
            }
        );
        assert!(bad.to_string().contains("contains ' '"), "{bad}");
        assert!(check_id("é").is_err());
    }
}
