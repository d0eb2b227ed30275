package io.reelay.protocol;

/** Where a request stands. The last event of every request carries a terminal state. */
public enum RequestState {
  QUEUED,
  RUNNING,
  COMPLETED,
  FAILED,
  CANCELLED,
  REJECTED;

  public boolean isTerminal() {
    return this != QUEUED && this != RUNNING;
  }
}
