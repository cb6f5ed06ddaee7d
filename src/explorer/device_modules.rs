//! The modules of the open device, listed beside its twin so that a module's twin opens
//! like a device's. Fetched when another device is opened (opening one of its modules
//! keeps the list), and again on request.

use super::request::{JobId, Requested};
use super::twin_key;

/// The module list of the open device.
#[derive(Debug, Default)]
pub struct DeviceModules {
    device_id: Option<String>,
    modules: Requested<Vec<String>>,
    job: Option<JobId>,
}

impl DeviceModules {
    /// The device whose modules should be listed now, for the open twin `open_key`:
    /// its device, when that is not the one listed (or being listed).
    pub fn to_list(&self, open_key: Option<&str>) -> Option<String> {
        let (device_id, _) = twin_key::split(open_key?);
        (self.device_id.as_deref() != Some(device_id)).then(|| device_id.to_owned())
    }

    /// The listing of `device_id` was sent as `job`.
    pub fn sent(&mut self, device_id: String, job: JobId) {
        if self.device_id.as_deref() != Some(device_id.as_str()) {
            self.modules = Requested::Idle;
        }
        self.device_id = Some(device_id);
        self.modules.start();
        self.job = Some(job);
    }

    /// Folds in the answer to `job`; a late answer for another device is ignored.
    pub fn answered(&mut self, job: JobId, result: Result<Vec<String>, String>) {
        if self.job != Some(job) {
            return;
        }
        self.job = None;
        match result {
            Ok(modules) => self.modules.succeed(modules),
            Err(error) => self.modules.fail(error),
        }
    }

    /// The listed device and its modules.
    pub fn listed(&self) -> Option<(&str, &Requested<Vec<String>>)> {
        Some((self.device_id.as_deref()?, &self.modules))
    }

    /// Lists again on the next frame (a module was added or removed elsewhere).
    pub fn refresh(&mut self) {
        self.device_id = None;
        self.job = None;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_device_is_listed_once_whichever_of_its_twins_is_open() {
        let mut modules = DeviceModules::default();
        assert_eq!(modules.to_list(None), None);
        assert_eq!(modules.to_list(Some("d1")).as_deref(), Some("d1"));
        modules.sent("d1".into(), JobId(1));
        assert_eq!(modules.to_list(Some("d1/m1")), None);
        modules.answered(JobId(9), Ok(vec!["late".into()]));
        assert!(modules.listed().unwrap().1.is_pending());
        modules.answered(JobId(1), Ok(vec!["m1".into()]));
        assert_eq!(
            modules.listed().unwrap().1.latest(),
            Some(&vec!["m1".to_owned()])
        );
        assert_eq!(modules.to_list(Some("d2")).as_deref(), Some("d2"));
        modules.refresh();
        assert_eq!(modules.to_list(Some("d1")).as_deref(), Some("d1"));
    }
}
