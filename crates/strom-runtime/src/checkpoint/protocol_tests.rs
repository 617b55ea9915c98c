//! The checkpoint protocol, transition by transition: events in, actions out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

const INTERVAL: i64 = 1_000;
const TIMEOUT: i64 = 5_000;

fn config() -> ProtocolConfig {
    ProtocolConfig {
        interval_ms: INTERVAL,
        min_pause_ms: 0,
        timeout_ms: TIMEOUT,
        max_concurrent: 1,
        retained: 1,
        full_every: 3,
    }
}

fn operators() -> Vec<ProtocolOperator> {
    ["source", "window"]
        .iter()
        .map(|n| ProtocolOperator {
            uid: (*n).to_string(),
            name: (*n).to_string(),
            parallelism: 1,
            max_parallelism: 128,
        })
        .collect()
}

/// Task 0 runs the source (node 0), task 1 the window (node 1).
fn protocol(cfg: ProtocolConfig) -> CheckpointProtocol {
    CheckpointProtocol::new(
        cfg,
        "job".into(),
        operators(),
        vec![true, false],
        ExistingCheckpoints::default(),
        0,
        0,
    )
}

fn file(prefix: &str, name: &str, size: u64) -> StateFileRef {
    StateFileRef {
        path: format!("{prefix}/{name}-0.state"),
        size,
        crc32: 7,
    }
}

fn ack(task: usize, checkpoint: CheckpointId, based_on: Option<CheckpointId>) -> Event {
    let prefix = checkpoint_dir(checkpoint);
    Event::Ack(Acknowledgement {
        task,
        checkpoint,
        operators: vec![AckedOperator {
            node: task,
            subtask: 0,
            file: Some(file(&prefix, &format!("op{task}"), 10 + task as u64)),
            based_on,
            sync_ms: 1.0,
            async_ms: 2.0,
        }],
        alignment_ms: 0.5,
    })
}

fn triggers(actions: &[Action]) -> Vec<(usize, CheckpointId)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send {
                task,
                msg: TaskControl::Trigger(b),
            } => Some((*task, b.id)),
            _ => None,
        })
        .collect()
}

fn sent(actions: &[Action], want: TaskControl) -> Vec<usize> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { task, msg } if *msg == want => Some(*task),
            _ => None,
        })
        .collect()
}

fn metadata_write(actions: &[Action]) -> Option<(CheckpointId, String, CheckpointMetadata)> {
    actions.iter().find_map(|a| match a {
        Action::WriteMetadata {
            checkpoint,
            path,
            metadata,
        } => Some((*checkpoint, path.clone(), (**metadata).clone())),
        _ => None,
    })
}

fn deletes(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Delete { prefix, .. } => Some(prefix.clone()),
            _ => None,
        })
        .collect()
}

/// Trigger at `now`, ack from both tasks, write the metadata: one whole checkpoint.
fn run_checkpoint(
    p: &mut CheckpointProtocol,
    now: i64,
    based_on: Option<CheckpointId>,
) -> Vec<Action> {
    let t = p.handle(now, Event::Tick);
    let (_, id) = *triggers(&t).first().expect("triggered");
    let mut all = t;
    all.extend(p.handle(now + 1, ack(0, id, based_on)));
    all.extend(p.handle(now + 2, ack(1, id, based_on)));
    assert!(metadata_write(&all).is_some(), "{all:?}");
    all.extend(p.handle(
        now + 3,
        Event::MetadataWritten {
            checkpoint: id,
            result: Ok(()),
        },
    ));
    all
}

#[test]
fn triggers_sources_only_after_the_interval() {
    let mut p = protocol(config());
    assert!(triggers(&p.handle(INTERVAL - 1, Event::Tick)).is_empty());
    assert_eq!(p.next_deadline(), Some(INTERVAL));
    let a = p.handle(INTERVAL, Event::Tick);
    assert_eq!(triggers(&a), vec![(0, 1)], "only the source task");
    assert_eq!(p.pending(), vec![1]);
    // The barrier carries the trigger time.
    assert!(a.iter().any(|x| matches!(x,
        Action::Send { msg: TaskControl::Trigger(b), .. } if b.timestamp == INTERVAL)));
    // One at a time: nothing new while 1 is pending, even much later.
    assert!(triggers(&p.handle(3 * INTERVAL, Event::Tick)).is_empty());
    // The deadline is now the pending checkpoint's timeout.
    assert_eq!(p.next_deadline(), Some(INTERVAL + TIMEOUT));
}

#[test]
fn completes_after_every_ack_and_the_metadata_write() {
    let mut p = protocol(config());
    p.handle(INTERVAL, Event::Tick);
    assert!(metadata_write(&p.handle(1_100, ack(0, 1, None))).is_none());
    // A duplicate ack changes nothing.
    assert!(p.handle(1_150, ack(0, 1, None)).is_empty());
    let a = p.handle(1_200, ack(1, 1, None));
    let (id, path, m) = metadata_write(&a).expect("metadata requested");
    assert_eq!((id, path.as_str()), (1, "chk-1/_metadata"));
    assert_eq!(m.operators.len(), 2);
    assert_eq!(
        m.operators[1].subtasks[0].files,
        vec![file("chk-1", "op1", 11)]
    );
    assert_eq!(m.stats.state_bytes, 21);
    assert_eq!(m.stats.written_bytes, 21);
    assert_eq!(m.base, "chk-1");
    // Not complete (no Complete sent) until the metadata is durable.
    assert!(sent(&a, TaskControl::Complete(1)).is_empty());
    let done = p.handle(
        1_300,
        Event::MetadataWritten {
            checkpoint: 1,
            result: Ok(()),
        },
    );
    assert_eq!(sent(&done, TaskControl::Complete(1)), vec![0, 1]);
    assert!(done.iter().any(|x| matches!(x,
        Action::Completed { stats, kind: CheckpointKind::Checkpoint, prefix }
            if stats.id == 1 && stats.duration_ms == 300.0 && prefix == "chk-1")));
    assert!(done.contains(&Action::SetIncrementalBase(1)));
    assert!(p.pending().is_empty());
    assert_eq!(p.retained().len(), 1);
    // The next one is due an interval after the last trigger.
    assert!(triggers(&p.handle(1_999, Event::Tick)).is_empty());
    assert_eq!(triggers(&p.handle(2_000, Event::Tick)), vec![(0, 2)]);
}

#[test]
fn a_failed_metadata_write_aborts() {
    let mut p = protocol(config());
    p.handle(INTERVAL, Event::Tick);
    p.handle(1_100, ack(0, 1, None));
    p.handle(1_200, ack(1, 1, None));
    let a = p.handle(
        1_300,
        Event::MetadataWritten {
            checkpoint: 1,
            result: Err("disk full".into()),
        },
    );
    assert_eq!(sent(&a, TaskControl::Abort(1)), vec![0, 1]);
    assert_eq!(deletes(&a), vec!["chk-1".to_string()]);
    assert!(a.iter().any(
        |x| matches!(x, Action::Aborted { checkpoint: 1, reason } if reason.contains("disk full"))
    ));
    assert!(p.retained().is_empty());
}

#[test]
fn a_decline_aborts_and_late_acks_are_cleaned_up() {
    let mut p = protocol(config());
    p.handle(INTERVAL, Event::Tick);
    let a = p.handle(
        1_100,
        Event::Decline {
            task: 1,
            checkpoint: 1,
            reason: "cannot write".into(),
        },
    );
    assert_eq!(sent(&a, TaskControl::Abort(1)), vec![0, 1]);
    assert!(a.iter().any(|x| matches!(x, Action::Aborted { checkpoint: 1, reason } if reason.contains("task 1 declined: cannot write"))));
    // The source's ack arrives after the abort: its file is deleted, nothing completes.
    let late = p.handle(1_200, ack(0, 1, None));
    assert_eq!(deletes(&late), vec!["chk-1/op0-0.state".to_string()]);
    assert!(metadata_write(&late).is_none());
    // The next checkpoint goes ahead normally.
    let next = run_checkpoint(&mut p, 2_000, None);
    assert!(sent(&next, TaskControl::Complete(2)).len() == 2);
}

#[test]
fn a_checkpoint_times_out() {
    let mut p = protocol(config());
    p.handle(INTERVAL, Event::Tick);
    p.handle(1_100, ack(0, 1, None));
    assert!(
        p.handle(INTERVAL + TIMEOUT, Event::Tick)
            .iter()
            .all(|a| !matches!(a, Action::Aborted { .. }))
    );
    let a = p.handle(INTERVAL + TIMEOUT + 1, Event::Tick);
    assert!(a.iter().any(
        |x| matches!(x, Action::Aborted { checkpoint: 1, reason } if reason.contains("5000 ms"))
    ));
    assert_eq!(deletes(&a), vec!["chk-1".to_string()]);
    // The abort frees the slot: checkpoint 2 is triggered in the same step.
    assert_eq!(triggers(&a), vec![(0, 2)]);
}

#[test]
fn concurrent_checkpoints_complete_independently() {
    let mut p = protocol(ProtocolConfig {
        max_concurrent: 2,
        retained: 2,
        ..config()
    });
    assert_eq!(triggers(&p.handle(1_000, Event::Tick)), vec![(0, 1)]);
    assert_eq!(triggers(&p.handle(2_000, Event::Tick)), vec![(0, 2)]);
    assert!(
        triggers(&p.handle(3_000, Event::Tick)).is_empty(),
        "two at most"
    );
    assert_eq!(p.pending(), vec![1, 2]);
    // 2 completes before 1.
    p.handle(3_100, ack(0, 2, None));
    let (id, _, _) = metadata_write(&p.handle(3_200, ack(1, 2, None))).expect("2 ready");
    assert_eq!(id, 2);
    let a = p.handle(
        3_300,
        Event::MetadataWritten {
            checkpoint: 2,
            result: Ok(()),
        },
    );
    assert_eq!(sent(&a, TaskControl::Complete(2)).len(), 2);
    // Its slot is free again, and an interval has passed since 2 was triggered.
    assert_eq!(triggers(&a), vec![(0, 3)]);
    assert_eq!(p.pending(), vec![1, 3]);
    p.handle(3_400, ack(0, 1, None));
    p.handle(3_500, ack(1, 1, None));
    p.handle(
        3_600,
        Event::MetadataWritten {
            checkpoint: 1,
            result: Ok(()),
        },
    );
    let ids: Vec<_> = p.retained().iter().map(|m| m.checkpoint_id).collect();
    assert_eq!(ids, vec![2, 1], "kept in completion order");
}

#[test]
fn subsumption_keeps_what_incremental_chains_need() {
    let mut p = protocol(config());
    // 1: complete snapshot. 2: incremental on 1. full_every = 3, so 3 is complete again.
    run_checkpoint(&mut p, 1_000, None);
    let a2 = p.handle(2_000, Event::Tick);
    assert!(a2.contains(&Action::SetIncrementalBase(1)));
    p.handle(2_001, ack(0, 2, Some(1)));
    let m2 = metadata_write(&p.handle(2_002, ack(1, 2, Some(1))))
        .expect("2")
        .2;
    // The chain of each subtask: chk-1's file, then chk-2's.
    assert_eq!(
        m2.operators[1].subtasks[0].files,
        vec![file("chk-1", "op1", 11), file("chk-2", "op1", 11)]
    );
    assert_eq!(m2.stats.state_bytes, 42);
    assert_eq!(m2.stats.written_bytes, 21);
    let done2 = p.handle(
        2_003,
        Event::MetadataWritten {
            checkpoint: 2,
            result: Ok(()),
        },
    );
    // 1 is no longer retained, but 2's chain refers to chk-1: nothing is deleted.
    assert!(deletes(&done2).is_empty(), "{done2:?}");
    let a3 = p.handle(3_000, Event::Tick);
    assert!(
        a3.contains(&Action::SetIncrementalBase(0)),
        "every third is complete"
    );
    p.handle(3_001, ack(0, 3, None));
    p.handle(3_002, ack(1, 3, None));
    let done3 = p.handle(
        3_003,
        Event::MetadataWritten {
            checkpoint: 3,
            result: Ok(()),
        },
    );
    let mut d = deletes(&done3);
    d.sort();
    assert_eq!(d, vec!["chk-1".to_string(), "chk-2".to_string()]);
    // A failed delete is retried at the next subsumption.
    let again = p.handle(3_004, Event::DeleteFailed { checkpoint: 1 });
    assert!(deletes(&again).is_empty());
    let done4 = run_checkpoint(&mut p, 4_000, Some(3));
    let mut d = deletes(&done4);
    d.sort();
    assert_eq!(d, vec!["chk-1".to_string()]);
}

#[test]
fn an_incremental_ack_on_a_checkpoint_no_longer_kept_aborts() {
    let mut p = protocol(config());
    p.handle(1_000, Event::Tick);
    p.handle(1_001, ack(0, 1, None));
    let a = p.handle(1_002, ack(1, 1, Some(99)));
    assert!(
        a.iter().any(
            |x| matches!(x, Action::Aborted { reason, .. } if reason.contains("checkpoint 99"))
        )
    );
}

#[test]
fn finished_tasks_are_triggered_directly_and_the_final_checkpoint_stops_the_job() {
    let mut p = protocol(config());
    p.handle(1_000, Event::Tick);
    // The window task finishes with checkpoint 1 still pending: it is triggered directly.
    let a = p.handle(1_100, Event::TaskFinished { task: 1 });
    assert_eq!(triggers(&a), vec![(1, 1)]);
    p.handle(1_200, ack(0, 1, None));
    p.handle(1_300, ack(1, 1, None));
    p.handle(
        1_400,
        Event::MetadataWritten {
            checkpoint: 1,
            result: Ok(()),
        },
    );
    // Checkpoint 2 goes to the source and the finished task.
    assert_eq!(
        triggers(&p.handle(2_000, Event::Tick)),
        vec![(0, 2), (1, 2)]
    );
    // Every task finished: the final checkpoint (3) is triggered at once, even though 2
    // is in flight, and it is exempt from the timeout.
    let f = p.handle(2_100, Event::TaskFinished { task: 0 });
    assert_eq!(triggers(&f), vec![(0, 2), (0, 3), (1, 3)]);
    assert!(
        triggers(&p.handle(100_000, Event::Tick)).is_empty(),
        "no periodic triggers now"
    );
    assert_eq!(p.pending(), vec![3], "2 timed out, 3 did not");
    p.handle(100_001, ack(0, 3, None));
    p.handle(100_002, ack(1, 3, None));
    let done = p.handle(
        100_003,
        Event::MetadataWritten {
            checkpoint: 3,
            result: Ok(()),
        },
    );
    assert_eq!(sent(&done, TaskControl::Complete(3)), vec![0, 1]);
    assert_eq!(
        sent(&done, TaskControl::Stop),
        vec![0, 1],
        "Stop after Complete"
    );
    let complete_at = done
        .iter()
        .position(|a| {
            matches!(
                a,
                Action::Send {
                    msg: TaskControl::Complete(3),
                    ..
                }
            )
        })
        .unwrap();
    let stop_at = done
        .iter()
        .position(|a| {
            matches!(
                a,
                Action::Send {
                    msg: TaskControl::Stop,
                    ..
                }
            )
        })
        .unwrap();
    assert!(complete_at < stop_at);
    assert!(p.is_stopping());
    assert_eq!(p.next_deadline(), None);
}

#[test]
fn a_failed_final_checkpoint_is_tried_again() {
    let mut p = protocol(config());
    p.handle(100, Event::TaskFinished { task: 0 });
    let f = p.handle(200, Event::TaskFinished { task: 1 });
    assert_eq!(triggers(&f), vec![(0, 1), (1, 1)]);
    let d = p.handle(
        300,
        Event::Decline {
            task: 0,
            checkpoint: 1,
            reason: "io".into(),
        },
    );
    assert_eq!(triggers(&d), vec![(0, 2), (1, 2)], "final checkpoint again");
}

#[test]
fn savepoints_answer_the_request_and_stop_when_asked() {
    let mut p = protocol(config());
    let a = p.handle(
        10,
        Event::TriggerSavepoint {
            request: 7,
            stop: true,
        },
    );
    assert_eq!(triggers(&a), vec![(0, 1)]);
    // Savepoints are complete snapshots and are not counted against max_concurrent's
    // checkpoints, but they do not change the incremental base.
    assert!(!a.iter().any(|x| matches!(x, Action::SetIncrementalBase(_))));
    let prefix = "savepoints/savepoint-1";
    for task in 0..2 {
        p.handle(
            20,
            Event::Ack(Acknowledgement {
                task,
                checkpoint: 1,
                operators: vec![],
                alignment_ms: 0.0,
            }),
        );
    }
    let done = p.handle(
        30,
        Event::MetadataWritten {
            checkpoint: 1,
            result: Ok(()),
        },
    );
    assert!(done.contains(&Action::SavepointDone {
        request: 7,
        result: Ok(prefix.to_string())
    }));
    assert!(done.contains(&Action::StoppedWithSavepoint {
        prefix: prefix.to_string()
    }));
    assert_eq!(sent(&done, TaskControl::Stop), vec![0, 1]);
    assert!(
        p.retained().is_empty(),
        "savepoints are not retained checkpoints"
    );
    let again = p.handle(
        40,
        Event::TriggerSavepoint {
            request: 8,
            stop: false,
        },
    );
    assert!(matches!(
        &again[..],
        [Action::SavepointDone {
            request: 8,
            result: Err(_)
        }]
    ));
}

#[test]
fn a_failed_savepoint_answers_with_the_reason() {
    let mut p = protocol(config());
    p.handle(
        10,
        Event::TriggerSavepoint {
            request: 1,
            stop: false,
        },
    );
    let a = p.handle(
        20,
        Event::Decline {
            task: 0,
            checkpoint: 1,
            reason: "boom".into(),
        },
    );
    assert!(a.iter().any(|x| matches!(x,
        Action::SavepointDone { request: 1, result: Err(e) } if e.contains("boom"))));
}

#[test]
fn manual_checkpoints_ignore_the_interval() {
    let mut p = protocol(config());
    assert_eq!(
        triggers(&p.handle(5, Event::TriggerCheckpoint)),
        vec![(0, 1)]
    );
}

#[test]
fn min_pause_delays_the_next_trigger() {
    let mut p = protocol(ProtocolConfig {
        min_pause_ms: 800,
        ..config()
    });
    p.handle(1_000, Event::Tick);
    p.handle(1_500, ack(0, 1, None));
    p.handle(1_600, ack(1, 1, None));
    p.handle(
        1_700,
        Event::MetadataWritten {
            checkpoint: 1,
            result: Ok(()),
        },
    );
    assert_eq!(p.next_deadline(), Some(2_500));
    assert!(triggers(&p.handle(2_499, Event::Tick)).is_empty());
    assert_eq!(triggers(&p.handle(2_500, Event::Tick)), vec![(0, 2)]);
}

#[test]
fn ids_continue_after_what_the_storage_holds() {
    let kept = CheckpointMetadata {
        format_version: FORMAT_VERSION,
        job_name: "job".into(),
        checkpoint_id: 4,
        kind: CheckpointKind::Checkpoint,
        timestamp_ms: 0,
        base: "chk-4".into(),
        operators: vec![],
        stats: CheckpointStats::default(),
    };
    let mut p = CheckpointProtocol::new(
        config(),
        "job".into(),
        operators(),
        vec![true, false],
        ExistingCheckpoints {
            complete: vec![kept],
            incomplete: vec![6],
        },
        2,
        0,
    );
    assert_eq!(triggers(&p.handle(INTERVAL, Event::Tick)), vec![(0, 7)]);
    p.handle(1_001, ack(0, 7, None));
    p.handle(1_002, ack(1, 7, None));
    let done = p.handle(
        1_003,
        Event::MetadataWritten {
            checkpoint: 7,
            result: Ok(()),
        },
    );
    // The incomplete 6 and the subsumed 4 are deleted.
    let mut d = deletes(&done);
    d.sort();
    assert_eq!(d, vec!["chk-4".to_string(), "chk-6".to_string()]);
}

#[test]
fn restore_picks_the_newest_intact_checkpoint() {
    let mut s = RestoreSelector::new(vec![3, 9, 5]);
    assert_eq!(s.next(), RestoreDecision::Verify(9));
    // The newest is corrupt: fall back.
    assert_eq!(
        s.verified(9, Err("crc mismatch".into())),
        RestoreDecision::Verify(5)
    );
    assert_eq!(s.verified(5, Ok(())), RestoreDecision::Restore(5));
    assert_eq!(s.skipped(), ["chk-9: crc mismatch".to_string()]);
    // Further reports change nothing.
    assert_eq!(s.verified(3, Err("x".into())), RestoreDecision::Restore(5));
}

#[test]
fn restore_without_checkpoints_or_with_only_damaged_ones() {
    assert_eq!(
        RestoreSelector::new(vec![]).next(),
        RestoreDecision::Nothing
    );
    let mut s = RestoreSelector::new(vec![1, 2]);
    s.verified(2, Err("truncated".into()));
    assert_eq!(
        s.verified(1, Err("missing file".into())),
        RestoreDecision::AllDamaged(vec![
            "chk-2: truncated".to_string(),
            "chk-1: missing file".to_string()
        ])
    );
}

#[test]
fn a_chain_twice_the_complete_checkpoint_gets_a_complete_one() {
    let mut cfg = config();
    cfg.full_every = 100;
    let mut p = protocol(cfg);
    // 1: complete. 2: an increment as large as 1, so the chain of 2 reads twice 1.
    run_checkpoint(&mut p, 1_000, None);
    let a2 = p.handle(2_000, Event::Tick);
    assert!(a2.contains(&Action::SetIncrementalBase(1)), "{a2:?}");
    p.handle(2_001, ack(0, 2, Some(1)));
    let m2 = metadata_write(&p.handle(2_002, ack(1, 2, Some(1))))
        .expect("2")
        .2;
    assert_eq!(m2.stats.state_bytes, 2 * m2.stats.written_bytes);
    p.handle(
        2_003,
        Event::MetadataWritten {
            checkpoint: 2,
            result: Ok(()),
        },
    );
    let a3 = p.handle(3_000, Event::Tick);
    assert!(
        a3.contains(&Action::SetIncrementalBase(0)),
        "the chain reached twice the complete checkpoint: {a3:?}"
    );
}
