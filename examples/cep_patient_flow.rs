//! Complex event processing: patients forgotten in recovery.
//!
//! Per patient, a visit goes through the waiting room, then (later) the doctor's office,
//! then recovery. A patient still not discharged 10 minutes after recovery needs
//! attention. The pattern ends with a NOT stage, `not_followed_by("discharged")`, and a
//! window: the match is emitted when the window passes without a discharge (as in Flink
//! since 1.16). The window of the NOT stage is `WithinType::PreviousAndCurrent`, so it counts
//! from recovery; a plain `within` would count from the match's first event (the
//! waiting room). The whole visit must reach recovery within 4 hours.
//!
//! The visits arrive out of order; CEP matches them in event-time order.
//!
//! `cargo run --example cep_patient_flow`

use serde::{Deserialize, Serialize};
use strom::cep::{CepExt, Match, Pattern, WithinType};
use strom::prelude::*;

/// Where a patient is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Step {
    WaitingRoom,
    DoctorOffice,
    Recovery,
    Discharged,
}

/// A patient reaching a step at a time (minutes since the hospital's day began).
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Visit {
    patient: String,
    minute: i64,
    step: Step,
}

const MINUTE_MS: i64 = 60_000;

fn visits() -> Vec<Visit> {
    use Step::*;
    let v = |patient: &str, minute: i64, step: Step| Visit {
        patient: patient.to_string(),
        minute,
        step,
    };
    // In arrival order: some visits are reported up to 20 minutes late.
    vec![
        v("ann", 0, WaitingRoom),
        v("bob", 5, WaitingRoom),
        v("cem", 10, WaitingRoom),
        v("bob", 30, DoctorOffice),
        v("ann", 20, DoctorOffice), // 10 minutes late
        v("dan", 15, WaitingRoom),  // 15 minutes late
        v("cem", 40, DoctorOffice),
        v("dan", 45, DoctorOffice),
        v("bob", 55, Recovery),
        v("ann", 50, Recovery),
        v("bob", 62, Discharged), // 7 minutes after recovery: fine
        v("cem", 70, Recovery),
        v("ann", 75, Discharged), // 25 minutes after recovery
        v("cem", 85, Discharged), // 15 minutes after recovery
        v("eve", 90, WaitingRoom),
    ]
}

fn at(step: Step) -> impl Fn(&Visit) -> bool + Send + Sync + 'static {
    move |v: &Visit| v.step == step
}

fn main() -> Result<(), BoxError> {
    let env = StreamEnv::new().with_parallelism(2);
    let visits = env
        .from_collection(visits())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_secs(20 * 60))
                .with_timestamp_assigner(|v: &Visit, _| v.minute * MINUTE_MS),
        )
        .set_parallelism(1);

    let forgotten = Pattern::<Visit>::begin("waiting_room")
        .where_(at(Step::WaitingRoom))
        .followed_by("doctor_office")
        .where_(at(Step::DoctorOffice))
        .followed_by("recovery")
        .where_(at(Step::Recovery))
        .not_followed_by("discharged")
        .where_(at(Step::Discharged))
        // No discharge within 10 minutes of the previous event (recovery)…
        .within_type(Duration::from_secs(10 * 60), WithinType::PreviousAndCurrent)
        // …and the whole visit, up to recovery, within 4 hours of arriving.
        .within(Duration::from_secs(4 * 3600));

    let alerts = visits
        .key_by(|v: &Visit| v.patient.clone())
        .pattern(forgotten)
        .select(|m: Match<Visit>| {
            let minute = |stage: &str| m.first(stage).map_or(-1, |v| v.minute);
            format!(
                "{}: waiting room at {}, doctor at {}, recovery at {}, not discharged by {}",
                m.first("recovery").map_or("?", |v| v.patient.as_str()),
                minute("waiting_room"),
                minute("doctor_office"),
                minute("recovery"),
                minute("recovery") + 10,
            )
        })
        .collect();

    env.execute("patient flow")?;

    let mut alerts = alerts.take();
    alerts.sort();
    println!("Patients not discharged 10 minutes after recovery (minutes of the day):");
    for a in alerts {
        println!("  {a}");
    }
    // ann:  waiting room at 0, doctor at 20, recovery at 50, not discharged by 60
    // cem:  waiting room at 10, doctor at 40, recovery at 70, not discharged by 80
    // (bob was discharged in time; dan and eve never reached recovery)
    Ok(())
}
