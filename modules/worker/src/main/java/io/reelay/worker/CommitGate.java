package io.reelay.worker;

import java.util.TreeSet;

/**
 * Decides, for one partition's stream, which finished records may have their offset committed.
 *
 * <p>A record that was not finished here (released at a hand-over, read while the partition was
 * not this worker's, or timed out) is <em>owed</em>: Kafka must give it again to whoever owns the
 * partition next, so no offset above it is committed until it has come back and finished. Without
 * this, a partition that is revoked and at once assigned back (an eager rebalance) could commit
 * past such a record: the records still buffered from before the rebalance are run first, and the
 * ones Kafka gives again from the committed offset only after them. A crash in between would lose
 * the owed ones.
 *
 * <p>Offsets below where the partition was last assigned from are not owed any more (Kafka will not
 * give them to this worker again; another owner committed past them). Called from the stream's
 * single stage, in offset order of arrival: not thread-safe.
 */
final class CommitGate {

  private final TreeSet<Long> owed = new TreeSet<>();

  /**
   * @param offset the record's offset
   * @param finished the request ended (or the record was dead-lettered) here
   * @param current the record was read in the partition's current ownership epoch
   * @param assignedFrom the partition's position when it was last assigned to this worker
   * @return whether the record's offset is to be committed
   */
  boolean commit(long offset, boolean finished, boolean current, long assignedFrom) {
    owed.headSet(assignedFrom).clear();
    if (!finished) {
      owed.add(offset);
      return false;
    }
    owed.remove(offset);
    return current && (owed.isEmpty() || offset < owed.first());
  }

  /** Offsets waiting to come back, for diagnostics. */
  int owed() {
    return owed.size();
  }
}
