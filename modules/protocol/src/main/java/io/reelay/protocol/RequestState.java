package io.reelay.protocol;

/** Where a request stands. The last event of every request carries a terminal state. */
public enum RequestState {
  /** Accepted by the status API and on the requests topic; no worker has taken it yet (seq 0). */
  SUBMITTED,
  QUEUED,
  RUNNING,
  COMPLETED,
  FAILED,
  CANCELLED,
  REJECTED;

  public boolean isTerminal() {
    return this != SUBMITTED && this != QUEUED && this != RUNNING;
  }
}
