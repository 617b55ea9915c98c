-- Strom's Nexmark benchmark: checkpointing, prepended by the scripts only when a checkpoint
-- interval is asked for (compare-flink.sh --checkpoint-interval, default 10s).
--
-- Exactly-once checkpoints at the interval, on the heap (hashmap) state backend, written to a
-- fresh directory under /tmp. As in the reference's config.yaml, no final checkpoint is taken
-- once the bounded source has finished, so a job does not wait up to one more interval for
-- it at the end of its input.

SET 'execution.checkpointing.interval' = '${CHECKPOINT_INTERVAL}';
SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE';
SET 'state.backend.type' = 'hashmap';
SET 'execution.checkpointing.dir' = 'file://${CHECKPOINT_DIR}';
SET 'execution.checkpointing.checkpoints-after-tasks-finish' = 'false';
