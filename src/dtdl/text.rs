//! Localizable texts (`displayName`, `description`): a plain string or a language map
//! (`{"en": "Temperature", "it": "Temperatura"}`), and the one rule for which to show.

/// A text in one or more languages, in the order the model file gives them. A plain
/// string is kept with an empty language tag.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LocalizedText {
    entries: Vec<(String, String)>,
}

impl LocalizedText {
    /// The text in one language (`""` for a plain string).
    pub(super) fn push(&mut self, language: &str, text: &str) {
        self.entries.push((language.to_owned(), text.to_owned()));
    }

    /// The text to show: English (a plain string, `en` or `en-*`), else the first
    /// language given.
    pub fn best(&self) -> Option<&str> {
        self.entries
            .iter()
            .find(|(language, _)| language.is_empty() || is_english(language))
            .or(self.entries.first())
            .map(|(_, text)| text.as_str())
    }

    /// [`best`](Self::best), or `fallback` when there is no text.
    pub fn or<'a>(&'a self, fallback: &'a str) -> &'a str {
        self.best().unwrap_or(fallback)
    }

    /// Every `(language, text)` pair, in file order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(language, text)| (language.as_str(), text.as_str()))
    }
}

/// Whether the language tag `language` is English (`en`, `en-GB`, ...).
fn is_english(language: &str) -> bool {
    let primary = language.split('-').next().unwrap_or_default();
    primary.eq_ignore_ascii_case("en")
}

/// Gives each listed type (with `display_name` and `description` fields of type
/// [`LocalizedText`]) `display_name()` (falling back to the named field) and
/// `description()` accessors.
macro_rules! display_texts {
    ($($type:ty => $fallback:ident),+ $(,)?) => {$(
        impl $type {
            /// The display name to show: English, else the first language given, else
            #[doc = concat!("the `", stringify!($fallback), "`.")]
            pub fn display_name(&self) -> &str {
                self.display_name.or(&self.$fallback)
            }

            /// The description to show: English, else the first language given, else empty.
            pub fn description(&self) -> &str {
                self.description.or("")
            }
        }
    )+};
}

pub(super) use display_texts;

#[cfg(test)]
mod tests {
    use super::*;

    fn text(entries: &[(&str, &str)]) -> LocalizedText {
        let mut text = LocalizedText::default();
        for (language, value) in entries {
            text.push(language, value);
        }
        text
    }

    #[test]
    fn english_wins_then_the_first_language() {
        assert_eq!(
            text(&[("it", "Ciao"), ("en", "Hello")]).best(),
            Some("Hello")
        );
        assert_eq!(
            text(&[("it", "Ciao"), ("de", "Hallo")]).best(),
            Some("Ciao")
        );
        assert_eq!(
            text(&[("it", "Ciao"), ("en-GB", "Hello")]).best(),
            Some("Hello")
        );
        assert_eq!(text(&[("it", "Ciao"), ("eng", "?")]).best(), Some("Ciao"));
        assert_eq!(text(&[("", "Plain")]).best(), Some("Plain"));
        assert_eq!(LocalizedText::default().or("name"), "name");
        assert_eq!(
            text(&[("it", "Ciao")]).entries().collect::<Vec<_>>(),
            [("it", "Ciao")]
        );
    }
}
