//! The login fraud-detection job behind `strom example fraud`: per user, over CSV logins
//! `user_id,ts_ms,success,lat,lon`, alert on bursts of failed logins and on impossible
//! travel between successful logins, in event time with bounded out-of-orderness.
//!
//! It shows how a job orders each key's events by event time with a
//! [`KeyedProcessFunction`], keyed state and event-time timers (see `docs/fraud.md`):
//!
//! * every on-time login is buffered in [`MapState`](strom::state::MapState) under its
//!   timestamp, and an event-time timer is registered at that timestamp;
//! * when the watermark reaches the timer, `on_timer(t)` handles the user's buffered logins
//!   at `t` in arrival order: timers fire in timestamp order, so each user's logins are
//!   handled in event-time order (ties in arrival order), whatever order they arrived in;
//! * a login whose timestamp is at or below the watermark when it arrives is late: it goes
//!   to a side output as its input line (to `--late-output`) and is not used;
//! * the failure timestamps since the user's last failures alert live in
//!   [`ListState`](strom::state::ListState), the previous successful login in
//!   [`ValueState`](strom::state::ValueState).
//!
//! Output rows (in no particular order): `failures,user_id,t` and `travel,user_id,t0,t`.

use super::Job;
use super::fast_csv::{FastCsvParser, parse_f64, parse_i64};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use strom::connectors::file::{KeepLines, LineFileSource, TextLinesSink, WithLine};
use strom::prelude::*;

/// One input line: a login attempt.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Login {
    /// The user (inline up to 24 bytes: cloning it as a key allocates nothing).
    pub user_id: strom::core::CompactString,
    /// Event time, epoch ms.
    pub ts_ms: i64,
    /// Whether the login succeeded (`1`) or failed (`0`) in the input.
    #[serde(with = "zero_or_one")]
    pub success: bool,
    /// Latitude, degrees.
    pub lat: f64,
    /// Longitude, degrees.
    pub lon: f64,
}

/// `success` is written `0` or `1`; anything else is a malformed field.
mod zero_or_one {
    use serde::de::{Error, Unexpected, Visitor};
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u8(u8::from(*v))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        d.deserialize_u8(ZeroOrOne)
    }

    struct ZeroOrOne;

    impl Visitor<'_> for ZeroOrOne {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("0 or 1")
        }
        fn visit_u64<E: Error>(self, v: u64) -> Result<bool, E> {
            match v {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(E::invalid_value(Unexpected::Unsigned(v), &self)),
            }
        }
        fn visit_i64<E: Error>(self, v: i64) -> Result<bool, E> {
            match u64::try_from(v) {
                Ok(u) => self.visit_u64(u),
                Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &self)),
            }
        }
    }
}

/// A parser for `user_id,ts_ms,success,lat,lon` lines that splits at the commas and parses
/// the numbers directly; other lines go through the generic CSV parser (same input accepted,
/// same errors naming file, line and field).
pub type LoginLineParser = FastCsvParser<Login>;

impl Default for LoginLineParser {
    fn default() -> Self {
        FastCsvParser::new(fast_parse)
    }
}

/// The fast path: exactly five unquoted fields, a non-empty user, a plain integer, `0` or
/// `1`, and two floats.
#[inline]
fn fast_parse(line: &[u8]) -> Option<Login> {
    if memchr::memchr(b'"', line).is_some() {
        return None;
    }
    let mut fields = line.split(|&b| b == b',');
    let (user, ts, success, lat, lon) = (
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
        fields.next()?,
    );
    if fields.next().is_some() || user.is_empty() {
        return None;
    }
    let success = match success {
        b"0" => false,
        b"1" => true,
        _ => return None,
    };
    Some(Login {
        user_id: strom::core::CompactString::new(std::str::from_utf8(user).ok()?),
        ts_ms: parse_i64(ts)?,
        success,
        lat: parse_f64(lat)?,
        lon: parse_f64(lon)?,
    })
}

/// A login with its input line (late logins are written back verbatim).
pub type LoginLine = WithLine<Login>;

/// The file source of the job: login lines, each kept with its original text.
pub fn login_source(input: Vec<PathBuf>) -> LineFileSource<Login, LoginLineParser, KeepLines> {
    LineFileSource::new(input, LoginLineParser::default).with_lines()
}

/// Mean Earth radius used for great-circle distances, km.
pub const EARTH_RADIUS_KM: f64 = 6371.0;

/// Great-circle distance in km between two positions in degrees (haversine formula).
pub fn haversine_km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = (lat2 - lat1).to_radians();
    let d_lambda = (lon2 - lon1).to_radians();
    let a = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * a.sqrt().min(1.0).asin()
}

/// The speed in km/h needed to cover `distance_km` in `dt_ms` (at least 1 ms).
pub fn speed_kmh(distance_km: f64, dt_ms: i64) -> f64 {
    distance_km * 3_600_000.0 / dt_ms.max(1) as f64
}

/// The two rules' thresholds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rules {
    /// Alert when more than this many failed logins fall within the window.
    pub max_failures: usize,
    /// The failures window, ms: a failure at `t` counts the failures in `[t - window, t]`.
    pub failure_window_ms: i64,
    /// Alert when consecutive successful logins need a faster speed than this, km/h.
    pub max_speed_kmh: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            max_failures: 10,
            failure_window_ms: 60_000,
            max_speed_kmh: 1000.0,
        }
    }
}

/// An alert of the job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Alert {
    /// More than `max_failures` failed logins of `user` within the window, the last at `ts_ms`.
    Failures {
        /// The user.
        user: strom::core::CompactString,
        /// The failed login that crossed the threshold.
        ts_ms: i64,
    },
    /// Successful logins of `user` at `from_ms` and `to_ms` too far apart for the time between.
    Travel {
        /// The user.
        user: strom::core::CompactString,
        /// The previous successful login.
        from_ms: i64,
        /// The current one.
        to_ms: i64,
    },
}

/// The output row: `failures,user_id,t` or `travel,user_id,t0,t`.
impl std::fmt::Display for Alert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Alert::Failures { user, ts_ms } => write!(f, "failures,{user},{ts_ms}"),
            Alert::Travel {
                user,
                from_ms,
                to_ms,
            } => write!(f, "travel,{user},{from_ms},{to_ms}"),
        }
    }
}

/// A user's previous successful login.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
struct LastLogin {
    ts_ms: i64,
    lat: f64,
    lon: f64,
}

/// The keyed process function of the job (keyed by user): buffers on-time logins per
/// timestamp, handles them when the watermark passes them, sends late ones to `late`.
#[derive(Clone)]
pub struct FraudDetector {
    rules: Rules,
    late: OutputTag<LoginLine>,
    /// Logins waiting for the watermark, by timestamp, in arrival order.
    pending: MapStateDescriptor<i64, Vec<Login>>,
    /// Failure timestamps since the last failures alert, ascending.
    failures: ListStateDescriptor<i64>,
    /// The previous successful login.
    last_success: ValueStateDescriptor<LastLogin>,
}

impl FraudDetector {
    /// A detector applying `rules`; late logins go to the side output `late`.
    pub fn new(rules: Rules, late: &OutputTag<LoginLine>) -> Self {
        FraudDetector {
            rules,
            late: late.clone(),
            pending: MapStateDescriptor::new("pending"),
            failures: ListStateDescriptor::new("failures"),
            last_success: ValueStateDescriptor::new("last-success"),
        }
    }

    fn failed(
        &self,
        t: i64,
        ctx: &mut KeyedContext<'_, strom::core::CompactString>,
        out: &mut Collector<'_, Alert>,
    ) -> Result<(), BoxError> {
        let mut state = ctx.list_state(&self.failures);
        let mut failures = state.get()?;
        let oldest = t.saturating_sub(self.rules.failure_window_ms);
        failures.retain(|&f| f >= oldest);
        failures.push(t);
        if failures.len() > self.rules.max_failures {
            state.clear()?;
            out.collect(Alert::Failures {
                user: ctx.key().clone(),
                ts_ms: t,
            });
        } else {
            state.update(failures)?;
        }
        Ok(())
    }

    fn succeeded(
        &self,
        login: &Login,
        ctx: &mut KeyedContext<'_, strom::core::CompactString>,
        out: &mut Collector<'_, Alert>,
    ) -> Result<(), BoxError> {
        let current = LastLogin {
            ts_ms: login.ts_ms,
            lat: login.lat,
            lon: login.lon,
        };
        let mut state = ctx.value_state(&self.last_success);
        let previous = state.value()?;
        state.update(current)?;
        if let Some(p) = previous {
            let km = haversine_km(p.lat, p.lon, current.lat, current.lon);
            if speed_kmh(km, current.ts_ms - p.ts_ms) > self.rules.max_speed_kmh {
                out.collect(Alert::Travel {
                    user: ctx.key().clone(),
                    from_ms: p.ts_ms,
                    to_ms: current.ts_ms,
                });
            }
        }
        Ok(())
    }
}

impl KeyedProcessFunction<strom::core::CompactString, LoginLine, Alert> for FraudDetector {
    fn process_element(
        &mut self,
        login: LoginLine,
        ctx: &mut KeyedContext<'_, strom::core::CompactString>,
        _out: &mut Collector<'_, Alert>,
    ) -> Result<(), BoxError> {
        let t = login.value.ts_ms;
        if t <= ctx.current_watermark() {
            ctx.output(&self.late, login);
            return Ok(());
        }
        let mut pending = ctx.map_state(&self.pending);
        let mut at_t = pending.get(&t)?.unwrap_or_default();
        at_t.push(login.value);
        pending.put(t, at_t)?;
        ctx.timer_service().register_event_time_timer(t);
        Ok(())
    }

    fn on_timer(
        &mut self,
        t: strom::Timestamp,
        ctx: &mut KeyedContext<'_, strom::core::CompactString>,
        out: &mut Collector<'_, Alert>,
    ) -> Result<(), BoxError> {
        let mut pending = ctx.map_state(&self.pending);
        let Some(logins) = pending.get(&t)? else {
            return Ok(());
        };
        pending.remove(&t)?;
        for login in &logins {
            if login.success {
                self.succeeded(login, ctx, out)?;
            } else {
                self.failed(login.ts_ms, ctx, out)?;
            }
        }
        Ok(())
    }
}

/// The detection part of the job: key `logins` (with timestamps and watermarks) by user and
/// run [`FraudDetector`]; late logins come out of the returned stream's side output `late`.
pub fn detect(
    logins: DataStream<LoginLine>,
    rules: Rules,
    late: &OutputTag<LoginLine>,
) -> DataStream<Alert> {
    logins
        .key_by(|l: &LoginLine| l.value.user_id.clone())
        .process(FraudDetector::new(rules, late))
        .name("Fraud Detector")
}

/// Everything the job takes.
#[derive(Clone, Debug)]
pub struct FraudConfig {
    /// Input CSV files or directories.
    pub input: Vec<PathBuf>,
    /// Output file for alert rows.
    pub output: PathBuf,
    /// Output file for late logins (their input lines).
    pub late_output: Option<PathBuf>,
    /// Bounded out-of-orderness of the watermark.
    pub out_of_orderness: Duration,
    /// The rules' thresholds.
    pub rules: Rules,
    /// Parallelism of the detector (source and watermarks run at parallelism 1).
    pub parallelism: usize,
}

/// Build and run the job; returns its result.
pub fn run(cfg: &FraudConfig) -> Result<strom::JobResult, StromError> {
    build(cfg)?.execute()
}

/// Build the job (nothing runs).
///
/// The source and the watermark assignment run at parallelism 1, the watermark emitted
/// after every record, so that which logins are late depends on the input order only: the
/// alerts and late lines are the same at any `parallelism` of the detector.
pub fn build(cfg: &FraudConfig) -> Result<Job, StromError> {
    let env = StreamEnv::new().with_parallelism(cfg.parallelism.max(1));
    let logins = env
        .from_source(login_source(cfg.input.clone()), "Source: CSV")
        .set_parallelism(1)
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(cfg.out_of_orderness)
                .with_timestamp_assigner(|l: &LoginLine, _| l.value.ts_ms)
                .with_emission_interval(Duration::ZERO),
        )
        .set_parallelism(1);
    let late = OutputTag::<LoginLine>::new("late");
    let alerts = detect(logins, cfg.rules, &late);
    if let Some(path) = &cfg.late_output {
        alerts
            .side_output(&late)
            .sink_to(TextLinesSink::new(path.clone()), "Sink: Late")
            .set_parallelism(1);
    }
    alerts
        .map(|a: Alert| a.to_string())
        .sink_to(TextLinesSink::new(cfg.output.clone()), "Sink: Alerts")
        .set_parallelism(1);
    Ok(Job::new(env, "fraud"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use strom::connectors::file::{CsvLineParser, LineParser};

    #[test]
    fn fast_parser_agrees_with_the_csv_parser() {
        let mut fast = LoginLineParser::default();
        let mut csv = CsvLineParser::<Login>::new(b',', false);
        for line in [
            "u1,1704067200024,1,48.85,2.35",
            "u1,-5,0,-33.9,151.2",
            "u1,5,2,1.0,1.0",
            "u1,5,true,1.0,1.0",
            "u1,5,,1.0,1.0",
            "\"u,1\",5,1,1.0,1.0",
            "u1,\"5\",1,1.0,1.0",
            ",5,1,1.0,1.0",
            "u1,5x,1,1.0,1.0",
            "u1,+5,1,1.0,1.0",
            "u1,5,1,abc,1.0",
            "u1,5,1,1e1,-0.0",
            "u1,5,1,1.0",
            "u1,5,1,1.0,1.0,7",
            "u1,5,1, 1.0,1.0",
            "u1,99999999999999999999,1,1.0,1.0",
            "",
        ] {
            let (a, b) = (
                fast.parse_line(line.as_bytes(), 3),
                csv.parse_line(line.as_bytes(), 3),
            );
            assert_eq!(a, b, "{line}");
        }
        assert_eq!(
            fast.parse_line(b"u7,12,1,48.5,-2.25", 1),
            Ok(Some(Login {
                user_id: "u7".into(),
                ts_ms: 12,
                success: true,
                lat: 48.5,
                lon: -2.25
            }))
        );
        let err = csv
            .parse_line(b"u1,5,2,1.0,1.0", 1)
            .expect_err("2 is not a success flag");
        assert!(err.contains("success"), "{err}");
    }

    #[test]
    fn distances_and_speeds() {
        // Paris to London: about 344 km.
        let d = haversine_km(48.8566, 2.3522, 51.5074, -0.1278);
        assert!((d - 343.5).abs() < 1.0, "{d}");
        assert_eq!(haversine_km(10.0, 20.0, 10.0, 20.0), 0.0);
        // Antipodes: half the circumference.
        let half = haversine_km(0.0, 0.0, 0.0, 180.0);
        assert!((half - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
        assert_eq!(speed_kmh(100.0, 3_600_000), 100.0);
        assert_eq!(speed_kmh(1.0, 0), 3_600_000.0);
    }

    #[test]
    fn alerts_print_as_rows() {
        let f = Alert::Failures {
            user: "u1".into(),
            ts_ms: 5,
        };
        let t = Alert::Travel {
            user: "u2".into(),
            from_ms: 1,
            to_ms: 9,
        };
        assert_eq!(f.to_string(), "failures,u1,5");
        assert_eq!(t.to_string(), "travel,u2,1,9");
    }
}
