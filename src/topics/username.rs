//! The MQTT CONNECT username: `{host}/{deviceId}[/{moduleId}]/?{params}`, formatted by the
//! simulated device and parsed by the hub.
//!
//! The host and ids are verbatim (the Python SDK notes that neither is URL-encoded); the
//! parameters are percent-encoded `name=value` pairs. Device and module ids may contain `?`,
//! so the parameters start at the *last* `/?` (parameter values are encoded and never
//! contain `/`). IoT Edge documents `{host}/{deviceId}?api-version=...` without the slash;
//! when a username has no `/?` at all, the parameters start at its first `?`.

use percent_encoding::percent_decode_str;

use crate::url_component::encode;

use super::error::TopicError;

/// The service API version the device client announces (the current documented one).
pub const API_VERSION: &str = "2021-04-12";

const API_VERSION_PARAM: &str = "api-version";
const MODEL_ID_PARAM: &str = "model-id";

/// A parsed CONNECT username. The hub checks `device_id` / `module_id` against the client id
/// and the SAS token's resource; everything else is informational.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MqttUsername {
    /// The hub host name the client signed for, e.g. `contoso.azure-devices.net`, verbatim.
    pub host: String,
    /// The device id, verbatim.
    pub device_id: String,
    /// The module id, for module identities.
    pub module_id: Option<String>,
    /// `api-version`, decoded (Python 2.14 sends `2019-10-01`, or `2020-09-30` with a model id).
    pub api_version: Option<String>,
    /// `model-id`, the IoT Plug and Play model, decoded (e.g. `dtmi:com:example:Thermostat;1`).
    pub model_id: Option<String>,
    /// Every other parameter in order, decoded (e.g. `DeviceClientType`); a bare name has an
    /// empty value. Must not repeat `api-version` or `model-id`.
    pub other: Vec<(String, String)>,
}

impl MqttUsername {
    /// Parses a username; unknown parameters are kept in `other`, never refused, because
    /// SDKs add their own.
    pub fn parse(username: &str) -> Result<Self, TopicError> {
        let invalid = |problem: String| TopicError::InvalidUsername {
            username: username.into(),
            problem,
        };
        let (path, query) = match username.rsplit_once("/?") {
            Some((path, query)) => (path, Some(query)),
            None => match username.split_once('?') {
                Some((path, query)) => (path, Some(query)),
                None => (username.strip_suffix('/').unwrap_or(username), None),
            },
        };
        let mut levels = path.split('/');
        let mut next_level = |what: &str| match levels.next() {
            Some(level) if !level.is_empty() => Ok(level.to_owned()),
            _ => Err(invalid(format!("the {what} is missing"))),
        };
        let host = next_level("host name")?;
        let device_id = next_level("device id")?;
        let module_id = levels.next().map(|level| {
            if level.is_empty() {
                Err(invalid("the module id is empty".into()))
            } else {
                Ok(level.to_owned())
            }
        });
        let module_id = module_id.transpose()?;
        if levels.next().is_some() {
            return Err(invalid(
                "it has more levels than host, device id and module id".into(),
            ));
        }
        let mut parsed = Self {
            host,
            device_id,
            module_id,
            api_version: None,
            model_id: None,
            other: Vec::new(),
        };
        for pair in query
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |text: &str| {
                percent_decode_str(text)
                    .decode_utf8()
                    .map(|decoded| decoded.into_owned())
                    .map_err(|_| invalid(format!("{text:?} does not decode to UTF-8")))
            };
            let (name, value) = (decode(name)?, decode(value)?);
            let known = match name.as_str() {
                API_VERSION_PARAM => &mut parsed.api_version,
                MODEL_ID_PARAM => &mut parsed.model_id,
                _ => {
                    parsed.other.push((name, value));
                    continue;
                }
            };
            if known.replace(value).is_some() {
                return Err(invalid(format!(
                    "the parameter {name:?} appears more than once"
                )));
            }
        }
        Ok(parsed)
    }

    /// The username to CONNECT with: `api-version` first, then `other`, then `model-id`,
    /// the order the Python and C SDKs use. It always contains `/?` (even with no
    /// parameters) so that ids containing `?` parse back unchanged.
    pub fn to_username(&self) -> String {
        let mut username = format!("{}/{}/", self.host, self.device_id);
        if let Some(module_id) = &self.module_id {
            username.push_str(&format!("{module_id}/"));
        }
        let api_version = self
            .api_version
            .iter()
            .map(|v| (API_VERSION_PARAM, v.as_str()));
        let other = self
            .other
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()));
        let model_id = self.model_id.iter().map(|v| (MODEL_ID_PARAM, v.as_str()));
        let params: Vec<String> = api_version
            .chain(other)
            .chain(model_id)
            .map(|(name, value)| format!("{}={}", encode(name), encode(value)))
            .collect();
        username.push('?');
        username.push_str(&params.join("&"));
        username
    }

    /// The MQTT client id that goes with this identity: `{deviceId}` or
    /// `{deviceId}/{moduleId}`. The hub refuses a CONNECT whose client id differs.
    pub fn client_id(&self) -> String {
        match &self.module_id {
            Some(module_id) => format!("{}/{module_id}", self.device_id),
            None => self.device_id.clone(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const PYTHON_AGENT: &str = "azure-iot-device-iothub-py/2.14.0(3.12.3;Linux #1 SMP;x86_64)";
    const PYTHON_AGENT_ENCODED: &str =
        "azure-iot-device-iothub-py%2F2.14.0%283.12.3%3BLinux%20%231%20SMP%3Bx86_64%29";

    fn device(host: &str, device_id: &str) -> MqttUsername {
        MqttUsername {
            host: host.into(),
            device_id: device_id.into(),
            module_id: None,
            api_version: None,
            model_id: None,
            other: vec![],
        }
    }

    #[test]
    fn python_sdk_username_parses_and_formats_back_byte_for_byte() {
        let sent = format!(
            "localhost/dev1/?api-version=2019-10-01&DeviceClientType={PYTHON_AGENT_ENCODED}"
        );
        let parsed = MqttUsername::parse(&sent).unwrap();
        assert_eq!(
            parsed,
            MqttUsername {
                api_version: Some("2019-10-01".into()),
                other: vec![("DeviceClientType".into(), PYTHON_AGENT.into())],
                ..device("localhost", "dev1")
            }
        );
        assert_eq!(parsed.to_username(), sent);
        assert_eq!(parsed.client_id(), "dev1");
    }

    #[test]
    fn python_sdk_username_with_a_model_id_parses() {
        let sent = format!(
            "hub.azure-devices.net/dev1/?api-version=2020-09-30&DeviceClientType={PYTHON_AGENT_ENCODED}\
             &model-id=dtmi%3Acom%3Aexample%3AThermostat%3B1"
        );
        let parsed = MqttUsername::parse(&sent).unwrap();
        assert_eq!(parsed.api_version.as_deref(), Some("2020-09-30"));
        assert_eq!(
            parsed.model_id.as_deref(),
            Some("dtmi:com:example:Thermostat;1")
        );
        assert_eq!(parsed.to_username(), sent);
    }

    #[test]
    fn module_username_and_client_id() {
        let parsed =
            MqttUsername::parse("hub.azure-devices.net/d/m/?api-version=2021-04-12").unwrap();
        assert_eq!(parsed.module_id.as_deref(), Some("m"));
        assert_eq!(parsed.api_version.as_deref(), Some(API_VERSION));
        assert_eq!(parsed.client_id(), "d/m");
    }

    #[test]
    fn usernames_without_parameters_or_without_the_slash_parse() {
        for username in ["h/d", "h/d/", "h/d/?"] {
            assert_eq!(
                MqttUsername::parse(username).unwrap(),
                device("h", "d"),
                "{username}"
            );
        }
        let edge =
            MqttUsername::parse("test-srv.azure-devices.net/TestDevice?api-version=2018-06-30")
                .unwrap();
        assert_eq!(edge.device_id, "TestDevice");
        assert_eq!(edge.api_version.as_deref(), Some("2018-06-30"));
    }

    #[test]
    fn ids_with_question_marks_and_percent_signs_stay_verbatim() {
        let username = MqttUsername {
            module_id: Some("?m%20".into()),
            api_version: Some(API_VERSION.into()),
            ..device("h", "?d=1&x")
        };
        let text = username.to_username();
        assert_eq!(text, "h/?d=1&x/?m%20/?api-version=2021-04-12");
        assert_eq!(MqttUsername::parse(&text).unwrap(), username);
        let bare = device("h", "?d");
        assert_eq!(MqttUsername::parse(&bare.to_username()).unwrap(), bare);
    }

    #[test]
    fn a_bare_parameter_name_has_an_empty_value() {
        let parsed = MqttUsername::parse("h/d/?flag&x=1").unwrap();
        assert_eq!(
            parsed.other,
            vec![("flag".into(), String::new()), ("x".into(), "1".into())]
        );
    }

    #[test]
    fn malformed_usernames_say_what_is_wrong() {
        for (username, problem) in [
            ("", "the host name is missing"),
            ("/d/?api-version=1", "the host name is missing"),
            ("hub", "the device id is missing"),
            ("hub/?api-version=1", "the device id is missing"),
            ("hub//m/?api-version=1", "the device id is missing"),
            ("hub/d//?api-version=1", "the module id is empty"),
            (
                "hub/d/m/x/?api-version=1",
                "it has more levels than host, device id and module id",
            ),
            (
                "hub/d/?api-version=1&api-version=2",
                "the parameter \"api-version\" appears more than once",
            ),
            (
                "hub/d/?model-id=a&model-id=b",
                "the parameter \"model-id\" appears more than once",
            ),
            ("hub/d/?x=%FF", "\"%FF\" does not decode to UTF-8"),
        ] {
            let err = MqttUsername::parse(username).unwrap_err();
            assert_eq!(
                err,
                TopicError::InvalidUsername {
                    username: username.into(),
                    problem: problem.into()
                },
                "{username}"
            );
            assert!(
                err.to_string().contains("expected {host}/{deviceId}"),
                "{err}"
            );
        }
    }
}
