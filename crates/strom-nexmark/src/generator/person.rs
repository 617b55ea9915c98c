//! New people: the reference's `PersonGenerator`.

use super::NexmarkGenerator;
use super::rng::Rng;
use super::strings::{next_extra, next_string};
use crate::model::{Person, Text};
use strom_core::Timestamp;

/// The first person id.
pub const FIRST_PERSON_ID: i64 = 1000;
/// How many not-yet-created people a bid or auction may refer to.
const PERSON_ID_LEAD: i64 = 10;

const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
const US_CITIES: [&str; 10] = [
    "Phoenix",
    "Los Angeles",
    "San Francisco",
    "Boise",
    "Portland",
    "Bend",
    "Redmond",
    "Seattle",
    "Kent",
    "Cheyenne",
];
const FIRST_NAMES: [&str; 11] = [
    "Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter",
];
const LAST_NAMES: [&str; 9] = [
    "Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris",
];

impl NexmarkGenerator {
    /// The person created by event `event_id`.
    pub(super) fn person(&self, event_id: i64, rng: &mut Rng, ts: Timestamp) -> Person {
        let id = self.last_base0_person_id(event_id) + FIRST_PERSON_ID;
        let mut name = Text::from(FIRST_NAMES[rng.below(FIRST_NAMES.len() as u64) as usize]);
        name.push(' ');
        name.push_str(LAST_NAMES[rng.below(LAST_NAMES.len() as u64) as usize]);
        let mut email = next_string(rng, 7, ' ');
        email.push('@');
        email.push_str(&next_string(rng, 5, ' '));
        email.push_str(".com");
        let mut credit_card = Text::with_capacity(19);
        for i in 0..4 {
            if i > 0 {
                credit_card.push(' ');
            }
            let n = rng.below(10_000);
            for d in [n / 1000, n / 100 % 10, n / 10 % 10, n % 10] {
                credit_card.push((b'0' + d as u8) as char);
            }
        }
        let city = Text::from(US_CITIES[rng.below(US_CITIES.len() as u64) as usize]);
        let state = Text::from(US_STATES[rng.below(US_STATES.len() as u64) as usize]);
        let size = 8 + name.len() + email.len() + credit_card.len() + city.len() + state.len();
        let extra = next_extra(rng, size, self.config.avg_person_byte_size);
        Person {
            id,
            name,
            email_address: email,
            credit_card,
            city,
            state,
            date_time: ts,
            extra,
        }
    }

    /// The last person id (base 0) created at or before event `event_id`.
    pub(super) fn last_base0_person_id(&self, event_id: i64) -> i64 {
        let total = self.total as i64;
        let persons = self.config.person_proportion as i64;
        let epoch = event_id.div_euclid(total);
        let offset = event_id.rem_euclid(total).min(persons - 1);
        epoch * persons + offset
    }

    /// A random recently active person (base 0), possibly one of the next few to come.
    pub(super) fn next_base0_person_id(&self, event_id: i64, rng: &mut Rng) -> i64 {
        let people = self.last_base0_person_id(event_id) + 1;
        let active = people.min(self.config.num_active_people as i64);
        let n = rng.below_i64(active + PERSON_ID_LEAD);
        people - active + n
    }
}
