//! The MES's own settings: a flag and an environment variable each, flattened into `neurohub up` / `serve`, and
//! handed to the handlers as an `AppState` extension (the platform knows nothing of reworks).

use clap::Args;

/// Settings the production flow reads.
#[derive(Debug, Clone)]
pub struct MesSettings {
    /// How many times a unit may be reworked before it is scrapped.
    pub max_rework: i32,
}

impl Default for MesSettings {
    fn default() -> Self {
        Self { max_rework: 3 }
    }
}

/// The MES's command-line flags.
#[derive(Debug, Clone, Args)]
pub struct MesArgs {
    /// Reworks allowed per unit before it is scrapped.
    #[arg(long, env = "NEUROHUB_MAX_REWORK", default_value_t = 3, value_parser = clap::value_parser!(i32).range(0..=100))]
    pub max_rework: i32,
}

impl MesArgs {
    pub fn settings(&self) -> MesSettings {
        MesSettings {
            max_rework: self.max_rework,
        }
    }
}
