//! The query suite as data: every query by name, and one entry point that builds any of
//! them onto a stream of events, for benchmark drivers and comparison tools.

use super::QueryRow;
use super::q13::SideInput;
use crate::model::Event;
use std::fmt;
use std::str::FromStr;
use strom_api::DataStream;

/// A query of the suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Query {
    /// Pass-through.
    Q0,
    /// Currency conversion.
    Q1,
    /// Selection.
    Q2,
    /// Local item suggestion.
    Q3,
    /// Average price per category.
    Q4,
    /// Hot items.
    Q5,
    /// Highest bid.
    Q7,
    /// New users.
    Q8,
    /// Winning bids.
    Q9,
    /// User sessions.
    Q11,
    /// Processing-time windows.
    Q12,
    /// Bounded side input join.
    Q13,
    /// Calculation.
    Q14,
    /// Bidding statistics report.
    Q15,
    /// Channel statistics report.
    Q16,
    /// Auction statistics report.
    Q17,
    /// Last bid per bidder and auction.
    Q18,
    /// Top 10 bids per auction.
    Q19,
    /// Bids with their auction.
    Q20,
    /// Channel id.
    Q21,
    /// URL directories.
    Q22,
}

impl Query {
    /// Every query, in order.
    pub const ALL: [Query; 21] = [
        Query::Q0,
        Query::Q1,
        Query::Q2,
        Query::Q3,
        Query::Q4,
        Query::Q5,
        Query::Q7,
        Query::Q8,
        Query::Q9,
        Query::Q11,
        Query::Q12,
        Query::Q13,
        Query::Q14,
        Query::Q15,
        Query::Q16,
        Query::Q17,
        Query::Q18,
        Query::Q19,
        Query::Q20,
        Query::Q21,
        Query::Q22,
    ];

    /// `q0`, `q1`, …
    pub fn name(self) -> &'static str {
        match self {
            Query::Q0 => "q0",
            Query::Q1 => "q1",
            Query::Q2 => "q2",
            Query::Q3 => "q3",
            Query::Q4 => "q4",
            Query::Q5 => "q5",
            Query::Q7 => "q7",
            Query::Q8 => "q8",
            Query::Q9 => "q9",
            Query::Q11 => "q11",
            Query::Q12 => "q12",
            Query::Q13 => "q13",
            Query::Q14 => "q14",
            Query::Q15 => "q15",
            Query::Q16 => "q16",
            Query::Q17 => "q17",
            Query::Q18 => "q18",
            Query::Q19 => "q19",
            Query::Q20 => "q20",
            Query::Q21 => "q21",
            Query::Q22 => "q22",
        }
    }

    /// Whether the result depends on processing time (and so differs from run to run).
    pub fn uses_processing_time(self) -> bool {
        matches!(self, Query::Q12 | Query::Q13)
    }

    /// Whether rows come out of event-time windows, so that a row can only be produced
    /// once the watermark (event time − 4 s) passed its trigger time.
    pub fn waits_for_watermark(self) -> bool {
        matches!(self, Query::Q5 | Query::Q7 | Query::Q8 | Query::Q11)
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Query {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let lower = s.trim().to_ascii_lowercase();
        Query::ALL
            .into_iter()
            .find(|q| q.name() == lower)
            .ok_or_else(|| {
                let names: Vec<&str> = Query::ALL.iter().map(|q| q.name()).collect();
                format!(
                    "unknown Nexmark query '{s}': choose one of {} (q6 and q10 are not in the suite)",
                    names.join(", ")
                )
            })
    }
}

/// Receives the output stream of the query being built; generic over the row type, so a
/// driver attaches any sink it likes to any query.
pub trait RowSink {
    /// Attach a sink to `rows`, the output of `query`.
    fn attach<T: QueryRow + Sync>(&mut self, query: Query, rows: DataStream<T>);
}

/// Inputs some queries need besides the events.
#[derive(Clone, Debug, Default)]
pub struct QueryInputs {
    /// q13's side input; the reference's generated contents when `None`.
    pub side_input: Option<SideInput>,
}

/// Build `query` onto `events` and hand its output to `sink`.
pub fn build<S: RowSink>(
    query: Query,
    events: DataStream<Event>,
    inputs: &QueryInputs,
    sink: &mut S,
) {
    use super::*;
    match query {
        Query::Q0 => sink.attach(query, q0::q0(events)),
        Query::Q1 => sink.attach(query, q1::q1(events)),
        Query::Q2 => sink.attach(query, q2::q2(events)),
        Query::Q3 => sink.attach(query, q3::q3(events)),
        Query::Q4 => sink.attach(query, q4::q4(events)),
        Query::Q5 => sink.attach(query, q5::q5(events)),
        Query::Q7 => sink.attach(query, q7::q7(events)),
        Query::Q8 => sink.attach(query, q8::q8(events)),
        Query::Q9 => sink.attach(query, q9::q9(events)),
        Query::Q11 => sink.attach(query, q11::q11(events)),
        Query::Q12 => sink.attach(query, q12::q12(events)),
        Query::Q13 => {
            let side = inputs
                .side_input
                .clone()
                .unwrap_or_else(|| SideInput::generate(super::q13::REFERENCE_ROWS));
            sink.attach(query, q13::q13(events, side))
        }
        Query::Q14 => sink.attach(query, q14::q14(events)),
        Query::Q15 => sink.attach(query, q15::q15(events)),
        Query::Q16 => sink.attach(query, q16::q16(events)),
        Query::Q17 => sink.attach(query, q17::q17(events)),
        Query::Q18 => sink.attach(query, q18::q18(events)),
        Query::Q19 => sink.attach(query, q19::q19(events)),
        Query::Q20 => sink.attach(query, q20::q20(events)),
        Query::Q21 => sink.attach(query, q21::q21(events)),
        Query::Q22 => sink.attach(query, q22::q22(events)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_back() {
        for q in Query::ALL {
            assert_eq!(q.name().parse::<Query>(), Ok(q));
        }
        assert_eq!(" Q5 ".parse::<Query>(), Ok(Query::Q5));
        let err = "q6".parse::<Query>().expect_err("q6 is not in the suite");
        assert!(err.contains("q6 and q10"), "{err}");
    }
}
