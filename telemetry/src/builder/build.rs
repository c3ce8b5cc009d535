//! `build()`: the configuration resolved (the configuration file or the environment,
//! then the settings made in code), its problems reported or returned, and the
//! pipelines started.

use super::TelemetryBuilder;
use crate::config::{Config, OTEL_CONFIG_FILE};
use crate::error::{BuildError, ConfigError, EnvIssue, FileIssue};
use crate::telemetry::Telemetry;

impl TelemetryBuilder {
    /// The configuration file to read: named in code, else by `OTEL_CONFIG_FILE`.
    fn config_file(&self) -> Option<std::path::PathBuf> {
        self.config_file.clone().or_else(|| {
            self.vars
                .as_ref()?
                .iter()
                .find(|(k, _)| k == OTEL_CONFIG_FILE)
                .map(|(_, v)| v.trim())
                .filter(|v| !v.is_empty())
                .map(Into::into)
        })
    }

    /// Resolves the configuration: the file or the environment (if asked for) first,
    /// then code.
    fn resolve(&mut self) -> Result<Resolved, BuildError> {
        if let Some(e) = self.errors.first() {
            return Err(e.clone().into());
        }
        let file = self.config_file();
        if let (None, Some(vars)) = (&file, &self.vars) {
            for hint in crate::config::misspelt_variables(vars.iter().map(|(k, _)| k.as_str())) {
                crate::diagnostics::config_warning(format_args!("{hint}"));
            }
        }
        let vars = self.vars.take();
        let mut file_issues = Vec::new();
        let (mut config, issues) = match (&file, vars) {
            // The file decides; the variables only feed its substitutions.
            (Some(path), vars) => {
                let (config, found) = Config::from_file_lossy(path, vars.unwrap_or_default())?;
                file_issues = found;
                (config, Vec::new())
            }
            (None, Some(vars)) => Config::from_vars_lossy(vars),
            (None, None) => (Config::code_defaults(), Vec::new()),
        };
        let overrides = std::mem::take(&mut self.overrides);
        // A bad variable that code overrides does not matter.
        let issues: Vec<EnvIssue> = issues
            .into_iter()
            .filter(|i| !overrides.covers(i.var))
            .collect();
        overrides.apply(&mut config);
        config.validate()?;
        Ok(Resolved {
            config,
            issues,
            file,
            file_issues,
        })
    }

    /// Builds the pipelines and, unless [`install_globals(false)`](Self::install_globals)
    /// was set, registers this instance's tracer provider, meter provider and
    /// propagator as OpenTelemetry's globals (see [`Telemetry::set_globals`]). It never
    /// installs a `tracing` subscriber: compose [`Telemetry::layer`] into yours, or use
    /// [`init`](Self::init), which does.
    ///
    /// # Errors
    /// - [`BuildError::Config`] with [`ConfigError::InvalidEnv`] when reading the
    ///   environment strictly and a variable is bad (each one is listed), or
    ///   [`ConfigError::InvalidSetting`] when a value set in code is not accepted;
    /// - [`BuildError::Thread`] when the OS refuses the export thread.
    pub fn build(mut self) -> Result<Telemetry, BuildError> {
        let Resolved {
            config,
            issues,
            file,
            file_issues,
        } = self.resolve()?;
        if self.strict && !issues.is_empty() {
            return Err(ConfigError::InvalidEnv { issues }.into());
        }
        if let Some(file) = file {
            if self.strict && !file_issues.is_empty() {
                let issues = file_issues;
                return Err(ConfigError::InvalidFile { file, issues }.into());
            }
            for issue in &file_issues {
                crate::diagnostics::config_warning(format_args!(
                    "{}: {issue}; {}",
                    file.display(),
                    issue.remedy()
                ));
            }
        }
        for issue in &issues {
            crate::diagnostics::config_warning(format_args!("{issue}; {}", issue.remedy()));
        }
        Telemetry::start(
            config,
            issues,
            file_issues,
            std::mem::take(&mut self.hooks),
            std::mem::take(&mut self.metric_hooks),
            std::mem::take(&mut self.health_checks),
            std::mem::take(&mut self.custom),
        )
    }
}

/// What [`TelemetryBuilder::resolve`] found.
struct Resolved {
    config: Config,
    /// Bad variables (none when a file decides).
    issues: Vec<EnvIssue>,
    /// The configuration file read, if any.
    file: Option<std::path::PathBuf>,
    /// Its problems.
    file_issues: Vec<FileIssue>,
}
