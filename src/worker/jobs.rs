//! The worker's side of bulk jobs: schedule, poll, cancel and read results through the
//! service client, with messages that say what a refusal means for jobs; and the
//! results file, written off the UI thread.

use std::path::{Path, PathBuf};

use super::Failure;
use crate::explorer::bulk_job::results_file;
use crate::service::{DeviceJobResult, Job, JobTiming, JobWork, ServiceClient, ServiceError};

/// Schedules a job, explaining the refusals that are about jobs themselves.
pub(super) async fn schedule(
    client: &ServiceClient,
    job_id: &str,
    condition: &str,
    work: &JobWork,
) -> Result<Box<Job>, Failure> {
    client
        .schedule_job(job_id, condition, work, JobTiming::default())
        .await
        .map(Box::new)
        .map_err(|error| Failure {
            message: explain_refusal(&error),
            status: error.status(),
        })
}

/// What a refused job means: the hub's active-job limit, or a hub whose plan has no
/// jobs (IoT Hub's basic tier answers 403 or 404 on the jobs API).
fn explain_refusal(error: &ServiceError) -> String {
    match (error.error_code(), error.status()) {
        (Some(429004), _) => format!(
            "{error}. The hub runs only so many jobs at once (Azure: 1 on free and S1 hubs, 5 \
             on S2, 10 on S3; the local hub: --max-active-jobs); wait for the running job to \
             finish, or cancel it"
        ),
        (Some(404002) | Some(404001), _) => error.to_string(),
        (_, Some(403..=405)) => format!(
            "{error}. This hub does not run jobs: IoT Hub's basic tier has no jobs (use a \
             standard tier), or the plan does not allow them"
        ),
        _ => error.to_string(),
    }
}

/// Writes `results` to `path`: JSON for a `.json` path, CSV otherwise.
pub(super) async fn write_results(
    path: PathBuf,
    results: Vec<DeviceJobResult>,
) -> Result<PathBuf, Failure> {
    let json = is_json(&path);
    let text = results_file(&results, json);
    tokio::fs::write(&path, text).await.map_err(|e| {
        Failure::local(format!(
            "could not write the results to {}: {e}; choose another folder",
            path.display()
        ))
    })?;
    Ok(path)
}

fn is_json(path: &Path) -> bool {
    path.extension()
        .is_some_and(|extension| extension.eq_ignore_ascii_case("json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::AzureError;

    fn refused(status: u16, code: &str) -> ServiceError {
        ServiceError::Hub {
            operation: "scheduling a job".into(),
            error: Box::new(AzureError::parse(status, Some(code), b"")),
        }
    }

    #[test]
    fn refusals_say_what_they_mean_for_jobs() {
        let busy = explain_refusal(&refused(429, "ThrottlingMaxActiveJobCountExceeded"));
        assert!(busy.contains("cancel it"), "{busy}");
        let basic = explain_refusal(&refused(403, "IotHubUnauthorizedAccess"));
        assert!(basic.contains("basic tier"), "{basic}");
        let bad = explain_refusal(&refused(400, "ArgumentInvalid"));
        assert!(!bad.contains("basic tier"), "{bad}");
        assert!(is_json(Path::new("r.JSON")));
        assert!(!is_json(Path::new("r.csv")));
    }
}
