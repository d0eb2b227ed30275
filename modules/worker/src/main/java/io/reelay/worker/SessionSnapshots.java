package io.reelay.worker;

import io.reelay.protocol.SessionSnapshot;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/**
 * Where the sessions that left a worker's heap are, for its {@link SessionRegistry}: whether a
 * session's snapshot is on a partition of the sessions topic (as far as the worker knows), and
 * reading it back. {@link SnapshotStore} in a worker.
 */
interface SessionSnapshots {

  /** None: sessions stay in the heap once seen (a registry not fed from Kafka). */
  SessionSnapshots NONE = new SessionSnapshots() {
    @Override
    public boolean has(int partition, String key) {
      return false;
    }

    @Override
    public CompletionStage<Optional<SessionSnapshot>> read(int partition, String key) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
  };

  /** Whether a snapshot of {@code key} ({@link EventPublisher#snapshotKey}) is on {@code partition}. */
  boolean has(int partition, String key);

  /** Its latest snapshot; empty when it has none after all. */
  CompletionStage<Optional<SessionSnapshot>> read(int partition, String key);
}
