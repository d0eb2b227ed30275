package io.reelay.protocol;

/** What a running request is doing right now. */
public enum Phase {
  QUEUED,
  AUTHENTICATING,
  SESSION,
  GENERATING,
  EDITING,
  UPLOADING,
  CREDITS,
  STATE,
  EXPORTING,
  RENDERING,
  DONE
}
