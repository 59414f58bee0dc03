//! The MES's own settings: a flag and an environment variable each, flattened into `neurohub up` / `serve`, and
//! handed to the handlers as an `AppState` extension (the platform knows nothing of reworks).
//!
//! The plant time zone decides the plant's *day*: a lot's default production date, the month of its lot number and
//! the dashboard's "today" and day bounds. Timestamps stay `TIMESTAMPTZ`; the zone is passed into the SQL
//! (`now() AT TIME ZONE $n`), never set on database sessions, so a pooled connection carries no hidden state and
//! PostgreSQL's time-zone database is the one authority (the name is checked against `pg_timezone_names` at start).

use clap::Args;
use sqlx::PgPool;

/// Settings the production flow reads.
#[derive(Debug, Clone)]
pub struct MesSettings {
    /// How many times a unit may be reworked before it is scrapped.
    pub max_rework: i32,
    /// The plant's IANA time zone name (`Asia/Seoul`), checked by [`check_time_zone`] at start.
    pub plant_time_zone: String,
}

impl Default for MesSettings {
    fn default() -> Self {
        Self {
            max_rework: 3,
            plant_time_zone: "UTC".into(),
        }
    }
}

/// The MES's command-line flags.
#[derive(Debug, Clone, Args)]
pub struct MesArgs {
    /// Reworks allowed per unit before it is scrapped.
    #[arg(long, env = "NEUROHUB_MAX_REWORK", default_value_t = 3, value_parser = clap::value_parser!(i32).range(0..=100))]
    pub max_rework: i32,
    /// The plant's time zone, an IANA name such as `Asia/Seoul`: the production date, the lot number's month
    /// and the dashboard's day follow it.
    #[arg(long, env = "NEUROHUB_PLANT_TIME_ZONE", default_value = "UTC", value_parser = parse_zone_name)]
    pub plant_time_zone: String,
}

impl MesArgs {
    pub fn settings(&self) -> MesSettings {
        MesSettings {
            max_rework: self.max_rework,
            plant_time_zone: self.plant_time_zone.clone(),
        }
    }
}

/// The shape of an IANA name (`Area/Location`, `UTC`, `Etc/GMT+9`); whether it exists is [`check_time_zone`]'s.
pub fn parse_zone_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c))
        && s.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "{s:?} is not an IANA time zone name (like Asia/Seoul, Europe/Berlin or UTC)"
        ))
    }
}

/// Refuse a plant time zone PostgreSQL does not know as a full zone name (abbreviations such as `KST` and POSIX
/// strings such as `UTC+9` are refused: their meaning is not a plant's rules). Called once at start.
pub async fn check_time_zone(pool: &PgPool, name: &str) -> Result<(), String> {
    let known: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)")
            .bind(name)
            .fetch_one(pool)
            .await
            .map_err(|e| format!("cannot check the plant time zone: {e}"))?;
    if known {
        Ok(())
    } else {
        Err(format!(
            "--plant-time-zone / NEUROHUB_PLANT_TIME_ZONE: {name:?} is not a time zone name PostgreSQL knows \
             (pg_timezone_names); use an IANA name such as Asia/Seoul, Europe/Berlin or UTC"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_zone_name;

    #[test]
    fn zone_names_are_checked_for_shape() {
        assert_eq!(parse_zone_name(" Asia/Seoul ").unwrap(), "Asia/Seoul");
        assert_eq!(parse_zone_name("Etc/GMT+9").unwrap(), "Etc/GMT+9");
        assert_eq!(
            parse_zone_name("America/Port-au-Prince").unwrap(),
            "America/Port-au-Prince"
        );
        for bad in [
            "",
            "Asia/Seoul'; DROP TABLE lots; --",
            "+09:00",
            "/etc/localtime",
            "Asia Seoul",
        ] {
            let e = parse_zone_name(bad).unwrap_err();
            assert!(e.contains("IANA"), "{e}");
        }
    }
}
